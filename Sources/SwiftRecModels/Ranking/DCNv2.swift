import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``DCNv2Network``.
public struct DCNv2Config: FeatureModelConfig {
    public var training = FeatureTrainingOptions()
    /// Cross layers.
    public var crossLayers = 2
    public var layers = [256, 256]
    public var dropout: Float = 0.2

    /// The deep part starts from Xavier-normal weights: on ML-1M's CTR split it gave 0.0014
    /// (DeepFM), 0.0033 (Wide & Deep) and 0.0031 (DCN-v2) more test AUC than PyTorch's uniform
    /// default (BENCHMARKS.md, "Xavier-normal deep parts").
    public init() { training.mlpInit = .xavier }

    public static let options: [ConfigOption<Self>] =
        FeatureTrainingOptions.options.map { $0.lifted(\.training) } + [
            .value("cross-layers", \.crossLayers, in: 1...8, "Cross layers, each one more degree of interaction."),
            .widths("layers", \.layers, "Hidden widths of the deep part."),
            .value("dropout", \.dropout, in: 0...0.95, "Dropout between the deep part's layers."),
        ]

    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let input = 64.0 * Double(training.dim)
        let deep = zip([Int(input)] + layers, layers).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let cross = Double(crossLayers) * input * input
        return estimatedBytes(
            shape, parametersBeyondEmbeddings: deep + cross,
            widthPerExample: input * Double(crossLayers + 2) * 2 + Double(layers.reduce(0, +)) * 3)
    }
}

/// DCN-v2 (Wang et al. 2021), parallel form: the concatenated field vectors x₀ (width D) go
/// through `cross-layers` cross layers, x_{l+1} = x₀ ⊙ (W_l x_l + b_l) + x_l with a full D×D
/// matrix W_l (each layer raises the degree of the feature crosses by one), and in parallel
/// through a feed-forward network; the logit is a linear layer over both outputs.
public final class DCNv2Network: FeatureNetwork {
    public static let modelName = "dcnv2"
    public static let readsHistory = false
    public let embeddings: FieldEmbeddings
    public let cross: [Linear]
    public let deep: MLP
    public let output: Linear
    public var isTraining = true

    public init(config: DCNv2Config, space: FeatureSpace, generator: inout SeededGenerator) {
        let width = space.fieldCount * config.training.dim
        embeddings = FieldEmbeddings(
            space: space, dim: config.training.dim, std: config.training.initStd,
            initialization: config.training.embeddingInit, generator: &generator)
        cross = (0..<config.crossLayers).map { _ in Linear(width, width, generator: &generator) }
        // The MLP's last layer is its output: its hidden layers are all but the last width.
        deep = MLP(
            sizes: [width] + config.layers, dropout: config.dropout, initialization: config.training.mlpInit,
            generator: &generator)
        output = Linear(width + config.layers.last!, 1, generator: &generator)
    }

    public var children: [(name: String, layer: any Layer)] {
        [("embeddings", embeddings), ("deep", deep), ("output", output)]
            + cross.enumerated().map { ("cross.\($0.offset)", $0.element) }
    }

    public func logits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> Variable {
        let fields = embeddings.fields(batch)
        let x0 = fields.reshaped([batch.size, fields.shape[1] * fields.shape[2]])
        var x = x0
        for layer in cross { x = x0 * layer(x) + x }
        return output(Variable.concatenate([x, deep(x0).relu()], axis: 1))
    }
}

/// DCN-v2 as a model.
public typealias DCNv2 = FeatureRanker<DCNv2Network>
