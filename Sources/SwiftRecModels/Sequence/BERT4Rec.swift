import Foundation
import SwiftRecData
import SwiftRecTensor

/// Hyper-parameters of ``BERT4Rec``.
public struct BERT4RecConfig: ModelConfig {
    public var dim = 64
    public var blocks = 2
    public var heads = 2
    public var maxLength = 200
    public var dropout: Float = 0.1
    /// The share of positions hidden behind the mask token in training.
    public var maskRatio: Float = 0.2
    public var training = SequenceTrainingOptions()

    public init() {}

    /// The item table, positions and blocks trained with Adam; per example, each block's
    /// activations over `max-len` positions and the attention rows; the fused softmax over every
    /// item at the masked positions.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let d = Double(dim), length = Double(maxLength), items = Double(shape.items + 2)
        let parameters = items * d * 2 + length * d + Double(blocks) * (12 * d * d + 13 * d)
        let perExample = length * (Double(blocks) * (40 * d + 6 * Double(heads) * length) + 4 * d)
        return MemoryEstimate.data(shape) + MemoryEstimate.fullSoftmax(items: shape.items)
            + MemoryEstimate.network(parameters: parameters, floatsPerExample: perExample, batch: training.batchSize)
    }

    public static let options: [ConfigOption<Self>] =
        [
            .value("dim", \.dim, in: 1...4096, "Embedding and hidden size."),
            .value("blocks", \.blocks, in: 1...64, "Transformer blocks."),
            .value("heads", \.heads, in: 1...64, "Attention heads (must divide dim)."),
            .value("max-len", \.maxLength, in: 2...10_000, "Longest history read, the mask position included."),
            .value("dropout", \.dropout, in: 0...0.95, "Dropout probability."),
            .value("mask-ratio", \.maskRatio, in: 0.01...0.99, "Share of positions masked in training."),
        ] + SequenceTrainingOptions.options.map { $0.lifted(\.training) }

    public func validate() throws { try check() }

    func check() throws {
        try ParameterCheck.positive(dim, "dim")
        try ParameterCheck.positive(blocks, "blocks")
        try ParameterCheck.positive(heads, "heads")
        guard dim % heads == 0 else {
            throw ModelError.invalidParameter(name: "heads", reason: "dim \(dim) is not divisible by \(heads) heads")
        }
        try ParameterCheck.positive(maxLength, "max-len")
        guard maxLength >= 2 else { throw ModelError.invalidParameter(name: "max-len", reason: "must be at least 2") }
        try ParameterCheck.nonNegative(dropout, "dropout")
        guard dropout < 1 else { throw ModelError.invalidParameter(name: "dropout", reason: "must be below 1") }
        guard maskRatio > 0, maskRatio < 1 else {
            throw ModelError.invalidParameter(name: "mask-ratio", reason: "must be between 0 and 1, got \(maskRatio)")
        }
        try training.check()
    }
}

/// A bidirectional Transformer over item sequences. Embedding rows: 0 padding, i + 1 item i,
/// `items + 1` the mask token; the item rows double as the output layer.
final class BERT4RecNetwork: SequenceNetwork {
    let config: BERT4RecConfig
    let itemCount: Int
    let itemEmbedding: Embedding
    let positionEmbedding: Embedding
    let blocks: [TransformerBlock]
    let finalNorm: LayerNorm
    let embeddingDropout: Dropout
    var isTraining = true
    var quantizedOutput: QuantizedMatrix?
    private var masking: SeededGenerator

    init(items: Int, config: BERT4RecConfig) {
        self.config = config
        itemCount = items
        var g = SeededGenerator(seed: config.training.seed)
        itemEmbedding = Embedding(count: items + 2, dim: config.dim, paddingIndex: 0, std: 0.05, generator: &g)
        positionEmbedding = Embedding(count: config.maxLength, dim: config.dim, std: 0.05, generator: &g)
        blocks = (0..<config.blocks).map { _ in
            TransformerBlock(
                dim: config.dim, heads: config.heads, feedForwardDim: 4 * config.dim, dropout: config.dropout,
                causal: false, attentionDropout: config.dropout, generator: &g)
        }
        finalNorm = LayerNorm(config.dim)
        embeddingDropout = Dropout(config.dropout, seed: g.next())
        masking = g.split()
    }

    var children: [(name: String, layer: any Layer)] {
        [("item_embedding", itemEmbedding), ("position_embedding", positionEmbedding)]
            + blocks.enumerated().map { ("blocks.\($0.offset)", $0.element) }
            + [("final_norm", finalNorm), ("embedding_dropout", embeddingDropout)]
    }

    var maxLength: Int { config.maxLength }
    var trainingWindow: Int { config.maxLength }
    var maskRow: Int32 { Int32(itemCount + 1) }
    var catalogue: Variable { itemEmbedding.weight.slice(axis: 0, 1..<(itemCount + 1)) }

    /// Hidden states [batch·length, dim]; rows are left-padded embedding rows.
    func hidden(itemVectors: Variable, rows: [Int32], batch: Int, length: Int) -> Variable {
        let offset = Int32(maxLength - length)
        let positions = (0..<(batch * length)).map { offset + Int32($0 % length) }
        let padding = SASRecNetwork.paddingMask(rows, batch: batch, length: length)
        var h = itemVectors + positionEmbedding(positions, shape: [batch, length])
        h = embeddingDropout(h)
        for block in blocks { h = block(h, keyPaddingMask: padding) }
        return finalNorm(h).reshaped([batch * length, -1])
    }

    func loss(_ windows: [ArraySlice<Int32>]) -> (loss: Variable, targets: Int) {
        let length = min(maxLength, windows.map(\.count).max() ?? 1), batch = windows.count
        var rows = SASRecNetwork.paddedRows(windows, length: length)
        var positions: [Int32] = [], targets: [Int32] = []
        let threshold = UInt64(Double(config.maskRatio) * Double(UInt64.max))
        for (r, window) in windows.enumerated() {
            let first = r * length + length - window.count
            let before = positions.count
            for p in first..<((r + 1) * length) where masking.next() < threshold {
                positions.append(Int32(p))
            }
            // Every sequence teaches something: without a draw, its last item is masked.
            if positions.count == before { positions.append(Int32((r + 1) * length - 1)) }
            for p in positions[before...] {
                targets.append(rows[Int(p)] - 1)
                rows[Int(p)] = maskRow
            }
        }
        let h = hidden(
            itemVectors: itemEmbedding(rows, shape: [batch, length]), rows: rows, batch: batch, length: length)
        return (h.embeddingLookup(positions).linearCrossEntropy(weight: catalogue, targets: targets), targets.count)
    }

    /// Left-padded rows of each history's newest `maxLength − 1` items followed by the mask token.
    func queryRows(_ histories: [ArraySlice<Int32>]) -> (rows: [Int32], length: Int) {
        let length = min(maxLength, (histories.map(\.count).max() ?? 0) + 1)
        var rows = SASRecNetwork.paddedRows(histories.map { $0.suffix(length - 1) + [0] }, length: length)
        for r in 0..<histories.count { rows[(r + 1) * length - 1] = maskRow }
        return (rows, length)
    }

    func scores(after histories: [ArraySlice<Int32>], into scores: UnsafeMutableBufferPointer<Float>) {
        guard !histories.isEmpty else { return }
        withNoGrad {
            let (rows, length) = queryRows(histories)
            let h = hidden(
                itemVectors: itemEmbedding(rows, shape: [histories.count, length]), rows: rows,
                batch: histories.count, length: length
            ).value
            scoreLastPositions(h, count: histories.count, length: length, into: scores)
        }
    }

    func explanationRows(_ history: ArraySlice<Int32>) -> (rows: [Int32], length: Int, trailing: Int) {
        let (rows, length) = queryRows([history])
        // The last position is the mask token, not a history item.
        return (rows, length, 1)
    }

}

/// BERT4Rec (Sun et al. 2019): a bidirectional Transformer trained to fill masked items;
/// it recommends by appending a mask token to the user's newest items.
public final class BERT4Rec: SequenceRecommender {
    public let config: BERT4RecConfig

    public init(config: BERT4RecConfig = .init()) throws {
        try config.check()
        self.config = config
        super.init(
            core: SequenceModelCore(
                name: "bert4rec", historyLength: config.maxLength - 1, config: config.values, options: config.training
            ) { BERT4RecNetwork(items: $0, config: config) })
    }

    var network: BERT4RecNetwork? { (core as? SequenceModelCore<BERT4RecNetwork>)?.network }

    public static func load(from directory: URL) throws -> BERT4Rec {
        let (config, itemCount, weights) = try SequenceArtifact.load(
            BERT4RecConfig.self, model: "bert4rec", from: directory)
        let model = try BERT4Rec(config: config)
        try (model.core as! SequenceModelCore<BERT4RecNetwork>).load(itemCount: itemCount, weights: weights)
        return model
    }
}
