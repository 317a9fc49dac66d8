import Foundation
import SwiftRecData
import SwiftRecTensor

/// Hyper-parameters of ``GRU4Rec``.
public struct GRU4RecConfig: ModelConfig {
    /// `gru` (GRU4Rec) or `lstm`; not an option: the model's name (`gru4rec`, `lstm`) picks it.
    public var cell = RecurrentCell.gru
    public var dim = 64
    public var maxLength = 200
    public var dropout: Float = 0.2
    public var training = SequenceTrainingOptions()

    public init() {}

    /// The item table and the recurrent cell trained with Adam; per example, the cell's gates
    /// and states over `max-len` steps; the fused softmax over every item.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let d = Double(dim), length = Double(maxLength), items = Double(shape.items + 1)
        let parameters = items * d * 2 + 8 * (2 * d * d + d)
        let perExample = length * 48 * d
        return MemoryEstimate.data(shape) + MemoryEstimate.fullSoftmax(items: shape.items)
            + MemoryEstimate.network(parameters: parameters, floatsPerExample: perExample, batch: training.batchSize)
    }

    public static let options: [ConfigOption<Self>] =
        [
            .value("dim", \.dim, in: 1...4096, "Embedding and hidden size."),
            .value("max-len", \.maxLength, in: 1...10_000, "Longest history read."),
            .value("dropout", \.dropout, in: 0...0.95, "Dropout probability."),
        ] + SequenceTrainingOptions.options.map { $0.lifted(\.training) }

    public func validate() throws { try check() }

    func check() throws {
        try ParameterCheck.positive(dim, "dim")
        try ParameterCheck.positive(maxLength, "max-len")
        try ParameterCheck.nonNegative(dropout, "dropout")
        guard dropout < 1 else { throw ModelError.invalidParameter(name: "dropout", reason: "must be below 1") }
        try training.check()
    }
}

/// Item embedding → dropout → GRU or LSTM → projection → dropout; scores are dot products
/// with the item embeddings. Item i is row i + 1; row 0 is padding.
final class RecurrentSequenceNetwork: SequenceNetwork {
    let config: GRU4RecConfig
    let itemCount: Int
    let itemEmbedding: Embedding
    let inputDropout: Dropout
    let recurrent: RecurrentLayer
    let projection: Linear
    let outputDropout: Dropout
    var isTraining = true
    var quantizedOutput: QuantizedMatrix?

    init(items: Int, config: GRU4RecConfig) {
        self.config = config
        itemCount = items
        var g = SeededGenerator(seed: config.training.seed)
        itemEmbedding = Embedding(count: items + 1, dim: config.dim, paddingIndex: 0, std: 0.05, generator: &g)
        inputDropout = Dropout(config.dropout, seed: g.next())
        recurrent = RecurrentLayer(cell: config.cell, inputSize: config.dim, hiddenSize: config.dim, generator: &g)
        projection = Linear(config.dim, config.dim, generator: &g)
        outputDropout = Dropout(config.dropout, seed: g.next())
    }

    var children: [(name: String, layer: any Layer)] {
        [
            ("item_embedding", itemEmbedding), ("input_dropout", inputDropout), ("recurrent", recurrent),
            ("projection", projection), ("output_dropout", outputDropout),
        ]
    }

    var maxLength: Int { config.maxLength }
    var trainingWindow: Int { config.maxLength + 1 }
    var catalogue: Variable { itemEmbedding.weight.slice(axis: 0, 1..<itemEmbedding.weight.shape[0]) }

    /// Hidden states [batch·length, dim] from item vectors [batch, length, dim] of left-padded rows.
    func hidden(itemVectors: Variable, rows: [Int32], batch: Int, length: Int) -> Variable {
        var mask = Tensor.zeros([batch, length])
        mask.withUnsafeMutableBufferPointer { p in for (i, v) in rows.enumerated() where v != 0 { p[i] = 1 } }
        let states = recurrent(inputDropout(itemVectors), mask: mask)
        return outputDropout(projection(states.reshaped([batch * length, config.dim])))
    }

    func loss(_ windows: [ArraySlice<Int32>]) -> (loss: Variable, targets: Int) {
        let length = min(maxLength, (windows.map(\.count).max() ?? 1) - 1)
        let batch = windows.count
        let rows = SASRecNetwork.paddedRows(windows.map { $0.dropLast() }, length: length)
        var positions: [Int32] = [], targets: [Int32] = []
        for (r, window) in windows.enumerated() {
            let steps = window.count - 1
            for (k, item) in window.dropFirst().enumerated() {
                positions.append(Int32(r * length + length - steps + k))
                targets.append(item)
            }
        }
        let h = hidden(
            itemVectors: itemEmbedding(rows, shape: [batch, length]), rows: rows, batch: batch, length: length)
        return (h.embeddingLookup(positions).linearCrossEntropy(weight: catalogue, targets: targets), targets.count)
    }

    func scores(after histories: [ArraySlice<Int32>], into scores: UnsafeMutableBufferPointer<Float>) {
        guard !histories.isEmpty else { return }
        withNoGrad {
            let length = max(1, histories.map { min($0.count, maxLength) }.max() ?? 1)
            let rows = SASRecNetwork.paddedRows(histories, length: length)
            let h = hidden(
                itemVectors: itemEmbedding(rows, shape: [histories.count, length]), rows: rows,
                batch: histories.count, length: length
            ).value
            scoreLastPositions(h, count: histories.count, length: length, into: scores)
        }
    }

    func explanationRows(_ history: ArraySlice<Int32>) -> (rows: [Int32], length: Int, trailing: Int) {
        (SASRecNetwork.paddedRows([history], length: history.count), history.count, 0)
    }

}

/// GRU4Rec (Hidasi et al. 2016), trained like SASRec on every next item of each user's
/// sequence with full-catalogue cross-entropy; `cell: .lstm` gives the LSTM variant.
public final class GRU4Rec: SequenceRecommender {
    public let config: GRU4RecConfig

    public init(config: GRU4RecConfig = .init()) throws {
        try config.check()
        self.config = config
        super.init(
            core: SequenceModelCore(
                name: config.cell == .gru ? "gru4rec" : "lstm", historyLength: config.maxLength,
                config: config.values, options: config.training
            ) { RecurrentSequenceNetwork(items: $0, config: config) })
    }

    var network: RecurrentSequenceNetwork? { (core as? SequenceModelCore<RecurrentSequenceNetwork>)?.network }

    public static func load(from directory: URL) throws -> GRU4Rec {
        let (manifest, _) = try ModelArtifact.read(from: directory)
        var (config, itemCount, weights) = try SequenceArtifact.load(
            GRU4RecConfig.self, model: manifest.model, from: directory)
        config.cell = manifest.model == "lstm" ? .lstm : .gru
        let model = try GRU4Rec(config: config)
        try (model.core as! SequenceModelCore<RecurrentSequenceNetwork>).load(itemCount: itemCount, weights: weights)
        return model
    }
}
