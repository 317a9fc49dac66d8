import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``DeepFMNetwork``.
public struct DeepFMConfig: FeatureModelConfig {
    public var training = FeatureTrainingOptions()
    /// Hidden widths of the deep part.
    public var layers = [256, 256, 256]
    public var dropout: Float = 0.2
    /// Drops out the deep part's input (the field vectors) too, as RecBole's MLP does. It made
    /// training slower and better on both MovieLens CTR splits (BENCHMARKS.md, "Input dropout").
    public var inputDropout = true

    /// The deep part starts from Xavier-normal weights: on ML-1M's CTR split it gave 0.0014
    /// (DeepFM), 0.0033 (Wide & Deep) and 0.0031 (DCN-v2) more test AUC than PyTorch's uniform
    /// default (BENCHMARKS.md, "Xavier-normal deep parts").
    public init() { training.mlpInit = .xavier }

    public static let options: [ConfigOption<Self>] =
        FeatureTrainingOptions.options.map { $0.lifted(\.training) } + [
            .widths("layers", \.layers, "Hidden widths of the deep part."),
            .value("dropout", \.dropout, in: 0...0.95, "Dropout between the deep part's layers."),
            .checked(
                "input-dropout", \.inputDropout, range: "true or false",
                "Drop out the deep part's input (the field vectors) too, as RecBole does."),
        ]

    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let input = 64.0 * Double(training.dim)
        let weights = zip([Int(input)] + layers, layers + [1]).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        return estimatedBytes(
            shape, parametersBeyondEmbeddings: weights,
            widthPerExample: input + Double(layers.reduce(0, +)) * 3)
    }
}

/// DeepFM (Guo et al. 2017): a factorisation machine and a feed-forward network share the
/// field vectors; the logit is their sum, ŷ = FM(v) + MLP([v₁; …; v_F]). The FM part catches
/// pairwise interactions, the deep part higher-order ones, with no hand-made cross features.
public final class DeepFMNetwork: FeatureNetwork {
    public static let modelName = "deepfm"
    public static let readsHistory = false
    public let embeddings: FieldEmbeddings
    public let deep: MLP
    public var isTraining = true

    public init(config: DeepFMConfig, space: FeatureSpace, generator: inout SeededGenerator) {
        embeddings = FieldEmbeddings(
            space: space, dim: config.training.dim, std: config.training.initStd,
            initialization: config.training.embeddingInit, generator: &generator)
        deep = MLP(
            sizes: [space.fieldCount * config.training.dim] + config.layers + [1], dropout: config.dropout,
            dropsInput: config.inputDropout, initialization: config.training.mlpInit, generator: &generator)
    }

    public var children: [(name: String, layer: any Layer)] { [("embeddings", embeddings), ("deep", deep)] }

    public func logits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> Variable {
        let fields = embeddings.fields(batch)
        let flat = fields.reshaped([batch.size, fields.shape[1] * fields.shape[2]])
        return embeddings.firstOrder(batch) + FMNetwork.pairwise(fields) + deep(flat)
    }
}

/// DeepFM as a model.
public typealias DeepFM = FeatureRanker<DeepFMNetwork>
