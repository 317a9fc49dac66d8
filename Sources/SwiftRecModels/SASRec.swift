import Foundation
import SwiftRecData
import SwiftRecTensor

/// How SASRec learns the next item.
public enum SequenceLoss: String, Codable, Sendable, CaseIterable {
    /// Softmax cross-entropy over the whole catalogue (the strongest, and the default).
    case ce
    /// Softmax over the target and `negatives` uniformly sampled items shared by the batch.
    case sampled
    /// The original paper's binary cross-entropy with one sampled negative per position.
    case bce
}

/// Hyper-parameters of ``SASRec``.
public struct SASRecConfig: Codable, Sendable, Equatable {
    public var dim = 64
    public var blocks = 2
    public var heads = 1
    public var maxLength = 200
    public var dropout: Float = 0.2
    public var loss = SequenceLoss.ce
    /// Sampled items per batch for the `sampled` loss.
    public var negatives = 256
    /// Whether the item embedding doubles as the output layer (else a separate one is learned).
    public var sharedOutput = true
    public var training = SequenceTrainingOptions()

    public init() {}

    /// Reads a saved configuration; keys written by older versions may be missing and take defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SASRecConfig()
        dim = try c.decodeIfPresent(Int.self, forKey: .dim) ?? d.dim
        blocks = try c.decodeIfPresent(Int.self, forKey: .blocks) ?? d.blocks
        heads = try c.decodeIfPresent(Int.self, forKey: .heads) ?? d.heads
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? d.maxLength
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
        loss = try c.decodeIfPresent(SequenceLoss.self, forKey: .loss) ?? d.loss
        negatives = try c.decodeIfPresent(Int.self, forKey: .negatives) ?? d.negatives
        sharedOutput = try c.decodeIfPresent(Bool.self, forKey: .sharedOutput) ?? d.sharedOutput
        training = try c.decodeIfPresent(SequenceTrainingOptions.self, forKey: .training) ?? d.training
    }

    func check() throws {
        try ParameterCheck.positive(dim, "dim")
        try ParameterCheck.positive(blocks, "blocks")
        try ParameterCheck.positive(heads, "heads")
        guard dim % heads == 0 else {
            throw ModelError.invalidParameter(name: "heads", reason: "dim \(dim) is not divisible by \(heads) heads")
        }
        try ParameterCheck.positive(maxLength, "max-len")
        try ParameterCheck.nonNegative(dropout, "dropout")
        guard dropout < 1 else { throw ModelError.invalidParameter(name: "dropout", reason: "must be below 1") }
        try ParameterCheck.positive(negatives, "negatives")
        try training.check()
    }
}

/// The network: item and position embeddings, causal Transformer blocks, a final norm; the
/// item embedding doubles as the output layer. Item i is row i + 1; row 0 is padding.
final class SASRecNetwork: SequenceNetwork {
    let config: SASRecConfig
    let itemCount: Int
    let itemEmbedding: Embedding
    let positionEmbedding: Embedding
    let blocks: [TransformerBlock]
    let finalNorm: LayerNorm
    let embeddingDropout: Dropout
    /// The output layer when it is not the item embedding.
    let outputEmbedding: Embedding?
    var isTraining = true
    private var negativeSampler: SeededGenerator

    init(items: Int, config: SASRecConfig) {
        self.config = config
        itemCount = items
        var g = SeededGenerator(seed: config.training.seed)
        itemEmbedding = Embedding(count: items + 1, dim: config.dim, paddingIndex: 0, std: 0.05, generator: &g)
        positionEmbedding = Embedding(count: config.maxLength, dim: config.dim, std: 0.05, generator: &g)
        blocks = (0..<config.blocks).map { _ in
            TransformerBlock(
                dim: config.dim, heads: config.heads, feedForwardDim: 4 * config.dim, dropout: config.dropout,
                causal: true, attentionDropout: config.dropout, generator: &g)
        }
        finalNorm = LayerNorm(config.dim)
        embeddingDropout = Dropout(config.dropout, seed: g.next())
        negativeSampler = g.split()
        outputEmbedding =
            config.sharedOutput ? nil : Embedding(count: items, dim: config.dim, std: 0.05, generator: &g)
    }

    var children: [(name: String, layer: any Layer)] {
        [("item_embedding", itemEmbedding), ("position_embedding", positionEmbedding)]
            + blocks.enumerated().map { ("blocks.\($0.offset)", $0.element) }
            + [("final_norm", finalNorm), ("embedding_dropout", embeddingDropout)]
            + (outputEmbedding.map { [("output_embedding", $0)] } ?? [])
    }

    var maxLength: Int { config.maxLength }
    var trainingWindow: Int { config.maxLength + 1 }

    /// The output weights, one row per item.
    var catalogue: Variable {
        outputEmbedding?.weight ?? itemEmbedding.weight.slice(axis: 0, 1..<itemEmbedding.weight.shape[0])
    }

    /// The output weights' table and the offset of item 0's row in it, without copying.
    var outputTable: (table: Tensor, offset: Int) {
        outputEmbedding.map { ($0.weight.value, 0) } ?? (itemEmbedding.weight.value, config.dim)
    }

    /// Left-padded embedding rows (item index + 1, 0 = padding), [batch, length] flattened.
    static func paddedRows(_ histories: [ArraySlice<Int32>], length: Int) -> [Int32] {
        var rows = [Int32](repeating: 0, count: histories.count * length)
        for (r, history) in histories.enumerated() {
            let recent = history.suffix(length)
            for (k, item) in recent.enumerated() { rows[r * length + length - recent.count + k] = item + 1 }
        }
        return rows
    }

    /// The blocks' input: scaled item vectors [batch, length, dim] plus positions, with dropout.
    /// Sequences shorter than `maxLength` take the last positions, as if padded to full length.
    func input(itemVectors: Variable, batch: Int, length: Int) -> Variable {
        let offset = Int32(maxLength - length)
        let positions = (0..<(batch * length)).map { offset + Int32($0 % length) }
        let scale = Float(config.dim).squareRoot()
        return embeddingDropout(itemVectors * scale + positionEmbedding(positions, shape: [batch, length]))
    }

    /// [batch, length] with 1 at padding (row 0).
    static func paddingMask(_ rows: [Int32], batch: Int, length: Int) -> Tensor {
        var padding = Tensor.zeros([batch, length])
        padding.withUnsafeMutableBufferPointer { p in for (i, v) in rows.enumerated() where v == 0 { p[i] = 1 } }
        return padding
    }

    /// Hidden states [batch·length, dim] from item vectors [batch, length, dim] of left-padded rows.
    func hidden(itemVectors: Variable, rows: [Int32], batch: Int, length: Int) -> Variable {
        let padding = Self.paddingMask(rows, batch: batch, length: length)
        var h = input(itemVectors: itemVectors, batch: batch, length: length)
        for block in blocks { h = block(h, keyPaddingMask: padding) }
        return finalNorm(h).reshaped([batch * length, -1])
    }

    func loss(_ windows: [ArraySlice<Int32>]) -> (loss: Variable, targets: Int) {
        // Pad to the longest window of the batch: positions count from the end, so this
        // equals padding to maxLength.
        let length = min(maxLength, max(1, (windows.map(\.count).max() ?? 2) - 1)), batch = windows.count
        let rows = Self.paddedRows(windows.map { $0.dropLast() }, length: length)
        // Train only on positions with a next item: padding never reaches the output layer.
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
        let used = h.embeddingLookup(positions)
        switch config.loss {
        case .ce:
            return (used.linearCrossEntropy(weight: catalogue, targets: targets), targets.count)
        case .sampled:
            let negatives = (0..<config.negatives).map { _ in Int32(negativeSampler.next() % UInt64(itemCount)) }
            let positive = (used * catalogue.embeddingLookup(targets)).sum(axes: [1], keepDims: true)
            var clash = Tensor.zeros([targets.count, negatives.count])
            clash.withUnsafeMutableBufferPointer { c in
                for (i, t) in targets.enumerated() {
                    for (j, n) in negatives.enumerated() where n == t { c[i * negatives.count + j] = 1 }
                }
            }
            let negative = used.matmul(catalogue.embeddingLookup(negatives), transposeOther: true)
                .maskedFill(clash, with: -1e9)
            let logits = Variable.concatenate([positive, negative], axis: 1)
            return (logits.crossEntropy(targets: [Int32](repeating: 0, count: targets.count)), targets.count)
        case .bce:
            let negatives = targets.map { t in
                var n = t
                while n == t { n = Int32(negativeSampler.next() % UInt64(itemCount)) }
                return n
            }
            let positive = (used * catalogue.embeddingLookup(targets)).sum(axes: [1], keepDims: true)
            let negative = (used * catalogue.embeddingLookup(negatives)).sum(axes: [1], keepDims: true)
            var labels = Tensor.zeros([targets.count, 2])
            labels.withUnsafeMutableBufferPointer { p in for i in 0..<targets.count { p[2 * i] = 1 } }
            let logits = Variable.concatenate([positive, negative], axis: 1)
            return (logits.binaryCrossEntropyWithLogits(targets: labels) * 2, targets.count)
        }
    }

    /// The last hidden state of each history, [histories.count, dim], for inference. The last
    /// block computes only the last position (its keys and values still span the history), which
    /// equals ``hidden(itemVectors:rows:batch:length:)`` there at a fraction of the work.
    func lastHidden(_ histories: [ArraySlice<Int32>]) -> Tensor {
        let batch = histories.count
        let length = max(1, histories.map { min($0.count, maxLength) }.max() ?? 1)
        let rows = Self.paddedRows(histories, length: length)
        let padding = Self.paddingMask(rows, batch: batch, length: length)
        let dim = config.dim
        var x = input(itemVectors: itemEmbedding(rows, shape: [batch, length]), batch: batch, length: length)
        for block in blocks.dropLast() { x = block(x, keyPaddingMask: padding) }
        let block = blocks[blocks.count - 1]
        precondition(block.preNorm, "sasrec: the last-position path expects pre-norm blocks")
        let normed = block.norm1(x)
        let keys = block.attention.key(normed).value, values = block.attention.value(normed).value
        func lastRows(_ t: Tensor) -> Tensor {
            var out = Tensor(uninitializedShape: [batch, dim])
            out.withUnsafeMutableBufferPointer { o in
                t.withUnsafeBufferPointer { s in
                    for b in 0..<batch {
                        for j in 0..<dim { o[b * dim + j] = s[((b + 1) * length - 1) * dim + j] }
                    }
                }
            }
            return out
        }
        let residual = lastRows(x.value)
        let query = block.attention.query(Variable(lastRows(normed.value))).value
        let heads = block.attention.heads, headDim = dim / heads
        let scale = 1 / Float(headDim).squareRoot()
        var attended = Tensor.zeros([batch, dim])
        attended.withUnsafeMutableBufferPointer { a in
            query.withUnsafeBufferPointer { q in
                keys.withUnsafeBufferPointer { k in
                    values.withUnsafeBufferPointer { v in
                        padding.withUnsafeBufferPointer { mask in
                            nonisolated(unsafe) let (a, q, k, v, mask) = (a, q, k, v, mask)
                            parallelRanges(batch, costPerItem: 4 * length * dim) { range in
                                var weights = [Float](repeating: 0, count: length)
                                for b in range {
                                    for h in 0..<heads {
                                        let qRow = b * dim + h * headDim
                                        var largest = -Float.infinity
                                        for j in 0..<length {
                                            let kRow = (b * length + j) * dim + h * headDim
                                            var dot: Float = 0
                                            for c in 0..<headDim { dot += q[qRow + c] * k[kRow + c] }
                                            weights[j] = mask[b * length + j] != 0 ? -1e9 : dot * scale
                                            largest = max(largest, weights[j])
                                        }
                                        var total: Float = 0
                                        for j in 0..<length {
                                            weights[j] = expf(weights[j] - largest)
                                            total += weights[j]
                                        }
                                        for j in 0..<length {
                                            let p = weights[j] / total
                                            let vRow = (b * length + j) * dim + h * headDim
                                            for c in 0..<headDim { a[qRow + c] += p * v[vRow + c] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let afterAttention = Variable(residual + block.attention.output(Variable(attended)).value)
        let out = afterAttention + block.feedForward(block.norm2(afterAttention))
        return finalNorm(out).value
    }

    func scores(after histories: [ArraySlice<Int32>], into scores: UnsafeMutableBufferPointer<Float>) {
        guard !histories.isEmpty else { return }
        withNoGrad { scoreLastPositions(lastHidden(histories), count: histories.count, length: 1, into: scores) }
    }

    func explanationRows(_ history: ArraySlice<Int32>) -> (rows: [Int32], length: Int, trailing: Int) {
        (Self.paddedRows([history], length: history.count), history.count, 0)
    }

}

/// SASRec (Kang & McAuley 2018): a causal Transformer over each user's item sequence that
/// predicts the next item. It scores from the newest items of a ``UserState``, so fresh
/// events count without retraining, and explains a recommendation by gradient × input over
/// the history.
public final class SASRec: SequenceRecommender {
    public let config: SASRecConfig

    public init(config: SASRecConfig = .init()) throws {
        try config.check()
        self.config = config
        super.init(
            core: SequenceModelCore(
                name: "sasrec", historyLength: config.maxLength, config: config, options: config.training
            ) { SASRecNetwork(items: $0, config: config) })
    }

    var network: SASRecNetwork? { (core as? SequenceModelCore<SASRecNetwork>)?.network }

    public static func load(from directory: URL) throws -> SASRec {
        let (config, itemCount, weights) = try SequenceArtifact.load(
            SASRecConfig.self, model: "sasrec", from: directory)
        let model = try SASRec(config: config)
        try (model.core as! SequenceModelCore<SASRecNetwork>).load(itemCount: itemCount, weights: weights)
        return model
    }
}
