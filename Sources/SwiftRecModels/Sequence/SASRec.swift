import Foundation
import SwiftRecData
import SwiftRecTensor
import Synchronization

/// How SASRec learns the next item.
public enum SequenceLoss: String, Codable, Sendable, CaseIterable, OptionChoice {
    /// Softmax cross-entropy over the whole catalogue (the strongest, and the default).
    case ce
    /// Softmax over the target and `negatives` uniformly sampled items shared by the batch.
    case sampled
    /// The original paper's binary cross-entropy with one sampled negative per position.
    case bce
}

/// Hyper-parameters of ``SASRec``.
public struct SASRecConfig: ModelConfig {
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
    /// Content-aware SASRec: item vectors also come from the items' text through a learned
    /// adaptor, so items without interactions get sensible scores. Nil: plain SASRec.
    public var itemText: ItemTextSettings?
    /// What scoring reads: the float weights, or int8 copies of the item table and linear layers.
    public var quantize = ScoringPrecision.float
    public var training = SequenceTrainingOptions()

    public init() {}

    /// The item table (and output layer unless shared), positions and blocks trained with Adam;
    /// per example, each block's activations over `max-len` positions and the attention rows,
    /// and the loss's logits (per position for `sampled` and `bce`; for `ce` a fused block).
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let d = Double(dim), length = Double(maxLength), items = Double(shape.items + 1)
        let parameters =
            items * d * (sharedOutput ? 1 : 2) + length * d + Double(blocks) * (12 * d * d + 13 * d)
        let logits: Double =
            switch loss {
            case .ce: 0
            case .sampled: 3 * Double(negatives + 1)
            case .bce: 8
            }
        let perExample = length * (Double(blocks) * (40 * d + 6 * Double(heads) * length) + 4 * d + logits)
        let text = itemText.map { MemoryEstimate.itemText(items: shape.items, dim: Double($0.dimension)) } ?? 0
        let softmax = loss == .ce ? MemoryEstimate.fullSoftmax(items: shape.items) : 0
        return MemoryEstimate.data(shape) + text + softmax
            + MemoryEstimate.network(parameters: parameters, floatsPerExample: perExample, batch: training.batchSize)
    }

    /// The options of plain SASRec; content-aware SASRec adds its text options (``ContentSASRecConfig``).
    public static let options: [ConfigOption<Self>] =
        ownOptions + SequenceTrainingOptions.options.map { $0.lifted(\.training) }

    private static let ownOptions: [ConfigOption<Self>] =
        [
            .value("dim", \.dim, in: 1...4096, "Embedding and hidden size."),
            .value("blocks", \.blocks, in: 1...64, "Transformer blocks."),
            .value("heads", \.heads, in: 1...64, "Attention heads (must divide dim)."),
            .value("max-len", \.maxLength, in: 1...10_000, "Longest history read."),
            .value("dropout", \.dropout, in: 0...0.95, "Dropout probability."),
            .choice("loss", \.loss, "ce (full softmax), sampled (softmax over sampled items), bce (the paper's)."),
            .value("negatives", \.negatives, in: 1...1_000_000, "Sampled items per batch for the sampled loss."),
            .checked(
                "shared-output", \.sharedOutput, range: "true or false",
                "Whether the item embedding doubles as the output layer."),
            .choice(
                "quantize", \.quantize,
                "float, or int8: score with int8 copies of the item table and linear layers (per-row scales)."),
        ]

    public func validate() throws { try check() }

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
        if let itemText {
            guard sharedOutput else {
                throw ModelError.invalidParameter(
                    name: "shared-output", reason: "content-aware SASRec scores through its item vectors; keep it true")
            }
            try ParameterCheck.positive(itemText.dimension, "text-dim")
            guard itemText.idDropout >= 0, itemText.idDropout < 1 else {
                throw ModelError.invalidParameter(name: "id-dropout", reason: "must be in [0, 1)")
            }
        }
        try training.check()
    }
}

/// Options of content-aware SASRec (`sasrec-content`): SASRec's, plus where the item text
/// vectors come from. Its manifest saves these keys, so a loaded model knows it reads text.
public struct ContentSASRecConfig: ModelConfig {
    public var sasrec = SASRecConfig()
    public var text = ItemTextSource()
    public var textDim = 256
    public var idDropout: Float = 0.5

    public init() {}

    /// SASRec's, with its text table and encoder.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double { withText.estimatedTrainingBytes(shape) }

    /// The text options of a content-aware SASRec config.
    public init(_ config: SASRecConfig) {
        sasrec = config
        sasrec.itemText = nil
        if let settings = config.itemText {
            text.representation = TextRepresentationKind(rawValue: settings.representation)
            textDim = settings.dimension
            idDropout = settings.idDropout
        }
    }

    public static let options: [ConfigOption<Self>] =
        SASRecConfig.options.map { $0.lifted(\.sasrec) } + ItemTextSource.options.map { $0.lifted(\.text) } + [
            .value("text-dim", \.textDim, in: 1...4096, "Keyword vectors are projected to this size."),
            .value("id-dropout", \.idDropout, in: 0...0.95, "Share of items whose id vector is dropped per batch."),
        ]

    /// SASRec's config with its `itemText` set.
    public var withText: SASRecConfig {
        var config = sasrec
        config.itemText = ItemTextSettings(representation: text.kind.rawValue, dimension: textDim, idDropout: idDropout)
        return config
    }

    public func validate() throws { try withText.check() }
}

/// Where content-aware SASRec's item text vectors come from.
public struct ItemTextSettings: Codable, Sendable, Equatable {
    /// `bm25` or `tfidf` keyword vectors (randomly projected to `dimension`), or `encoder`.
    public var representation: String
    /// The text vector size (the encoder's size for `encoder`).
    public var dimension: Int
    /// During training, the share of items whose id vector is dropped in each batch, so the
    /// network learns to score items from their text alone (as it must for new items).
    public var idDropout: Float

    public init(representation: String = "bm25", dimension: Int = 256, idDropout: Float = 0.5) {
        self.representation = representation
        self.dimension = dimension
        self.idDropout = idDropout
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        representation = try c.decode(String.self, forKey: .representation)
        dimension = try c.decode(Int.self, forKey: .dimension)
        idDropout = try c.decodeIfPresent(Float.self, forKey: .idDropout) ?? 0.5
    }
}

/// Item vectors of content-aware SASRec: a learned adaptor of fixed text vectors, plus the
/// learned id vector for items that had interactions in training. Row 0 is padding.
final class ContentItemTable: Layer {
    /// Text vectors [items + 1, textDim]; fixed, saved with the model.
    let text: Variable
    /// 1 on rows of items seen in training, [items + 1, dim]; fixed, saved with the model.
    let warm: Variable
    let adaptor: Linear
    var isTraining = true
    /// Items with training interactions, and each item's position among them (−1: cold).
    /// Training's softmax and negatives range over these only: an item without events is
    /// unknown to training, as a brand-new item is, instead of a negative in every step.
    private(set) var warmItems: [Int32] = []
    private(set) var warmPosition: [Int32] = []
    /// The keyword vocabulary the text vectors came from (nil for encoder vectors): saved with
    /// the model, it embeds items added after training.
    var vocabulary: KeywordVocabulary?

    init(items: Int, textDimension: Int, dim: Int, generator: inout SeededGenerator) {
        text = Variable(.zeros([items + 1, textDimension]))
        warm = Variable(.zeros([items + 1, dim]))
        adaptor = Linear(textDimension, dim, bias: false, generator: &generator)
    }

    var ownParameters: [(name: String, parameter: Variable)] { [("text", text), ("warm", warm)] }
    var children: [(name: String, layer: any Layer)] { [("adaptor", adaptor)] }

    /// Fills the fixed parts: text vectors of every item ([items, textDim]) and which items
    /// have training interactions.
    func set(textVectors: Tensor, warmItems: [Bool]) {
        let (rows, width, dim) = (textVectors.shape[0], textVectors.shape[1], warm.shape[1])
        var padded = Tensor.zeros([rows + 1, width])
        var mask = Tensor.zeros([rows + 1, dim])
        padded.withUnsafeMutableBufferPointer { p in
            textVectors.withUnsafeBufferPointer { t in for k in 0..<(rows * width) { p[width + k] = t[k] } }
        }
        mask.withUnsafeMutableBufferPointer { m in
            for (i, isWarm) in warmItems.enumerated() where isWarm { for j in 0..<dim { m[(i + 1) * dim + j] = 1 } }
        }
        text.value = padded
        warm.value = mask
        self.warmItems = indexWarmItems(warmItems)
    }

    private func indexWarmItems(_ flags: [Bool]) -> [Int32] {
        var position = [Int32](repeating: -1, count: flags.count)
        var items: [Int32] = []
        for (i, isWarm) in flags.enumerated() where isWarm {
            position[i] = Int32(items.count)
            items.append(Int32(i))
        }
        warmPosition = position
        return items
    }

    /// All item vectors from the learned id table `ids` ([items + 1, dim]).
    func table(ids: Variable) -> Variable { adaptor(text) + ids * warm }

    /// ``table(ids:)`` with each item's id vector left out with probability `dropping`.
    func table(ids: Variable, dropping: Float, generator: inout SeededGenerator) -> Variable {
        // Inverted dropout: kept id vectors are scaled by 1 / (1 − p), so at inference, with
        // every id vector present, warm items are on the scale training saw.
        var mask = warm.value
        let dim = mask.shape[1], threshold = UInt64(Double(dropping) * Double(UInt64.max))
        let keep = 1 / (1 - dropping)
        mask.withUnsafeMutableBufferPointer { m in
            for row in 0..<(m.count / dim) {
                let factor: Float = generator.next() < threshold ? 0 : keep
                for j in 0..<dim { m[row * dim + j] *= factor }
            }
        }
        return adaptor(text) + ids * Variable(mask)
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
    /// Content-aware SASRec's text side.
    let content: ContentItemTable?
    /// The item table at inference, kept until training changes the weights.
    private let inferenceTable = Mutex<Tensor?>(nil)
    /// The last block's inputs for the newest single-history scorings, so explaining a user's
    /// recommendations right after scoring them reuses that forward pass.
    private let recentParts = Mutex<[(history: [Int32], parts: LastPositionParts)]>([])
    /// Switching mode (as training does after restoring its best weights) drops the cached
    /// inference table.
    var isTraining = true {
        didSet {
            inferenceTable.withLock { $0 = nil }
            recentParts.withLock { $0.removeAll() }
        }
    }
    /// Switching precision drops the remembered forward passes, which the other precision made.
    var quantizedOutput: QuantizedMatrix? { didSet { recentParts.withLock { $0.removeAll() } } }
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
        content = config.itemText.map {
            ContentItemTable(items: items, textDimension: $0.dimension, dim: config.dim, generator: &g)
        }
    }

    var children: [(name: String, layer: any Layer)] {
        [("item_embedding", itemEmbedding), ("position_embedding", positionEmbedding)]
            + blocks.enumerated().map { ("blocks.\($0.offset)", $0.element) }
            + [("final_norm", finalNorm), ("embedding_dropout", embeddingDropout)]
            + (outputEmbedding.map { [("output_embedding", $0)] } ?? [])
            + (content.map { [("content", $0)] } ?? [])
    }

    /// Every item's input vector, row 0 = padding.
    func itemTable() -> Variable {
        guard let content else { return itemEmbedding.weight }
        guard isTraining else {
            // Constant outside training: computed once, for scoring and explanations alike
            // (explanations take it as a leaf).
            return Variable(
                inferenceTable.withLock { cached in
                    if let cached { return cached }
                    let table = withNoGrad { content.table(ids: itemEmbedding.weight).value }
                    cached = table
                    return table
                })
        }
        let dropping = GradMode.isEnabled ? config.itemText?.idDropout ?? 0 : 0
        guard dropping > 0 else { return content.table(ids: itemEmbedding.weight) }
        return content.table(ids: itemEmbedding.weight, dropping: dropping, generator: &negativeSampler)
    }

    func embed(_ rows: [Int32], batch: Int, length: Int) -> Variable {
        itemTable().embeddingLookup(rows, indexShape: [batch, length], paddingIndex: 0)
    }

    var maxLength: Int { config.maxLength }
    var trainingWindow: Int { config.maxLength + 1 }

    /// The output weights, one row per item.
    var catalogue: Variable {
        outputEmbedding?.weight ?? itemTable().slice(axis: 0, 1..<itemEmbedding.weight.shape[0])
    }

    /// The output weights' table and the offset of item 0's row in it, without copying.
    var outputTable: (table: Tensor, offset: Int) {
        outputEmbedding.map { ($0.weight.value, 0) } ?? (withNoGrad { itemTable().value }, config.dim)
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
        inferenceTable.withLock { $0 = nil }
        let table = itemTable()
        let catalogue = outputEmbedding?.weight ?? table.slice(axis: 0, 1..<table.shape[0])
        let h = hidden(
            itemVectors: table.embeddingLookup(rows, indexShape: [batch, length], paddingIndex: 0), rows: rows,
            batch: batch, length: length)
        let used = h.embeddingLookup(positions)
        // Content-aware: items without training events take no part (see ContentItemTable).
        let warm = content.flatMap { $0.warmItems.count < itemCount && !$0.warmItems.isEmpty ? $0 : nil }
        func sample() -> Int32 {
            guard let warm else { return Int32(negativeSampler.next() % UInt64(itemCount)) }
            return warm.warmItems[Int(negativeSampler.next() % UInt64(warm.warmItems.count))]
        }
        switch config.loss {
        case .ce:
            if let warm {
                let positions = targets.map { warm.warmPosition[Int($0)] }
                return (
                    used.linearCrossEntropy(weight: catalogue.embeddingLookup(warm.warmItems), targets: positions),
                    targets.count
                )
            }
            return (used.linearCrossEntropy(weight: catalogue, targets: targets), targets.count)
        case .sampled:
            let negatives = (0..<config.negatives).map { _ in sample() }
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
                while n == t, (warm?.warmItems.count ?? itemCount) > 1 { n = sample() }
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
        let parts = lastPositionParts(histories)
        if histories.count == 1, !isTraining {
            recentParts.withLock { recent in
                recent.append((Array(histories[0]), parts))
                if recent.count > 64 { recent.removeFirst(recent.count - 64) }
            }
        }
        return finalNorm(Variable(lastBlockOutput(parts))).value
    }

    /// The last block's inputs for one history: reused from a recent scoring when there is one.
    func lastPositionParts(of history: ArraySlice<Int32>) -> LastPositionParts {
        let key = Array(history)
        if let found = recentParts.withLock({ recent in recent.last { $0.history == key }?.parts }) { return found }
        return lastPositionParts([history])
    }

    /// What the last block reads at the last position of each history.
    struct LastPositionParts {
        var batch: Int
        var length: Int
        /// The stream entering the last block at the last position, [batch, dim].
        var residual: Tensor
        /// The last block's value vectors, [batch·length, dim].
        var values: Tensor
        /// The last position's attention weights, [batch, heads, length].
        var weights: [Float]
        /// The attention's output at the last position before its output projection, [batch, dim].
        var attended: Tensor
    }

    func lastPositionParts(_ histories: [ArraySlice<Int32>]) -> LastPositionParts {
        let batch = histories.count
        let length = max(1, histories.map { min($0.count, maxLength) }.max() ?? 1)
        let rows = Self.paddedRows(histories, length: length)
        let padding = Self.paddingMask(rows, batch: batch, length: length)
        let dim = config.dim
        var x = input(itemVectors: embed(rows, batch: batch, length: length), batch: batch, length: length)
        for block in blocks.dropLast() { x = block(x, keyPaddingMask: padding) }
        let block = blocks[blocks.count - 1]
        precondition(block.preNorm, "sasrec: the last-position path expects pre-norm blocks")
        let normed = block.norm1(x)
        let keysAndValues = Linear.applying([block.attention.key, block.attention.value], to: normed)
        let keys = keysAndValues[0].value, values = keysAndValues[1].value
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
        let query = block.attention.query(Variable(lastRows(normed.value)))
        let (attended, weights) = Variable.singleQueryAttention(
            query: query, key: Variable(keys.reshaped([batch, length, dim])),
            value: Variable(values.reshaped([batch, length, dim])), heads: block.attention.heads,
            keyPaddingMask: padding)
        return LastPositionParts(
            batch: batch, length: length, residual: lastRows(x.value), values: values, weights: weights.weights,
            attended: attended.value)
    }

    /// The last block's output at the last position, before the final norm, [batch, dim].
    func lastBlockOutput(_ parts: LastPositionParts) -> Tensor {
        let block = blocks[blocks.count - 1]
        let afterAttention = Variable(parts.residual + block.attention.output(Variable(parts.attended)).value)
        return (afterAttention + block.feedForward(block.norm2(afterAttention))).value
    }

    /// For each of `items`, each history position's part in its score through the last block's
    /// attention (attention weight × value vector after the output projection; Kobayashi et al.
    /// 2020), carried through the final layer norm linearised at this input. The newest position
    /// also owns the residual stream entering the block. One forward pass, no gradients.
    func attentionAttributions(of items: [Int32], after history: ArraySlice<Int32>) -> [[Float]]? {
        guard !history.isEmpty, !items.isEmpty else { return items.map { _ in [] } }
        return withNoGrad {
            let parts = lastPositionParts(of: history)
            let block = blocks[blocks.count - 1]
            let dim = config.dim, heads = block.attention.heads, headDim = dim / heads
            let length = parts.length
            // Position j's attention-weighted value vector, head by head; the last row is the residual.
            var weighted = Tensor.zeros([length + 1, dim])
            weighted.withUnsafeMutableBufferPointer { o in
                parts.values.withUnsafeBufferPointer { v in
                    for j in 0..<length {
                        for h in 0..<heads {
                            let p = parts.weights[h * length + j]
                            for c in 0..<headDim { o[j * dim + h * headDim + c] = p * v[j * dim + h * headDim + c] }
                        }
                    }
                }
            }
            var shares = Tensor.matmul(weighted, block.attention.output.weight.value, transposeB: true)
            shares.withUnsafeMutableBufferPointer { s in
                parts.residual.withUnsafeBufferPointer { r in for c in 0..<dim { s[length * dim + c] = r[c] } }
            }
            // The final norm at this input: y = γ ⊙ (x − mean x) / σ + β, with σ held fixed.
            let out = lastBlockOutput(parts).scalars
            let mean = out.reduce(0, +) / Float(dim)
            let variance = out.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(dim)
            let sigma = (variance + finalNorm.epsilon).squareRoot()
            let gamma = finalNorm.weight.value.scalars
            let (table, offset) = outputTable
            return table.withUnsafeBufferPointer { w in
                shares.withUnsafeBufferPointer { s in
                    items.map { item in
                        let target = offset + Int(item) * dim
                        var direction = [Float](repeating: 0, count: dim)
                        for c in 0..<dim { direction[c] = gamma[c] * w[target + c] / sigma }
                        let directionSum = direction.reduce(0, +)
                        return (0..<length).map { j in
                            var dot: Float = 0, total: Float = 0
                            for c in 0..<dim {
                                dot += direction[c] * s[j * dim + c]
                                total += s[j * dim + c]
                            }
                            var share = dot - directionSum * total / Float(dim)
                            if j == length - 1 {
                                var residual: Float = 0, residualTotal: Float = 0
                                for c in 0..<dim {
                                    residual += direction[c] * s[length * dim + c]
                                    residualTotal += s[length * dim + c]
                                }
                                share += residual - directionSum * residualTotal / Float(dim)
                            }
                            return share
                        }
                    }
                }
            }
        }
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
/// the history or, faster, by its last block's attention.
public final class SASRec: SequenceRecommender {
    public let config: SASRecConfig
    /// Content-aware: the text representation, and the keyword vocabulary fitted on the
    /// training catalogue (saved with the model), which embed items added after training.
    let itemRepresentation: ItemRepresentation?

    /// `itemText` supplies the text vectors of content-aware SASRec (`config.itemText`); keyword
    /// representations can be named in the config alone, an encoder must be passed here.
    public init(config: SASRecConfig = .init(), itemText: ItemRepresentation? = nil) throws {
        var config = config
        var representation = itemText
        if let settings = config.itemText, representation == nil, settings.representation != "encoder" {
            guard let weighting = TermWeighting(rawValue: settings.representation) else {
                throw ModelError.invalidParameter(
                    name: "representation", reason: "'\(settings.representation)' is not bm25, tfidf or encoder")
            }
            representation = .keywords(weighting)
        }
        if case .encoder(let encoder)? = representation {
            config.itemText = ItemTextSettings(
                representation: "encoder", dimension: encoder.dimension, idDropout: config.itemText?.idDropout ?? 0.5)
        } else if case .keywords(let weighting)? = representation {
            config.itemText = ItemTextSettings(
                representation: weighting.rawValue, dimension: config.itemText?.dimension ?? 256,
                idDropout: config.itemText?.idDropout ?? 0.5)
        }
        try config.check()
        self.config = config
        self.itemRepresentation = representation
        let seed = config.training.seed
        super.init(
            core: SequenceModelCore(
                name: "sasrec", historyLength: config.maxLength,
                config: config.itemText == nil ? config.values : ContentSASRecConfig(config).values,
                options: config.training, precision: config.quantize,
                prepare: { network, dataset, progress in
                    guard let content = network.content else { return }
                    // A model loaded with encoder vectors scores from its saved table; fitting
                    // again needs the encoder.
                    guard let representation else {
                        throw ModelError.invalidParameter(
                            name: "encoder",
                            reason: "fitting content-aware SASRec with encoder vectors needs encoder=FOLDER")
                    }
                    progress?(.message("sasrec: text vectors of \(dataset.itemCount) items (\(representation.label))"))
                    let texts = ItemText.all(of: dataset)
                    let vectors: Tensor
                    switch representation {
                    case .keywords(let weighting):
                        let keywords = KeywordVectors(documents: texts, weighting: weighting)
                        content.vocabulary = keywords.savedVocabulary
                        vectors = ItemTextVectors.project(keywords, dimension: config.itemText!.dimension, seed: seed)
                    case .encoder(let encoder):
                        vectors = encoder.encode(texts)
                    }
                    var warm = [Bool](repeating: false, count: dataset.itemCount)
                    for item in dataset.log.items { warm[Int(item)] = true }
                    content.set(textVectors: vectors, warmItems: warm)
                }
            ) { SASRecNetwork(items: $0, config: config) })
    }

    override public func save(to directory: URL) throws {
        try super.save(to: directory)
        try network?.content?.vocabulary?.write(to: directory)
    }

    var network: SASRecNetwork? { (core as? SequenceModelCore<SASRecNetwork>)?.network }

    public static func load(from directory: URL) throws -> SASRec {
        let (manifest, file) = try ModelArtifact.read(from: directory, expecting: "sasrec")
        let config =
            manifest.config["text-dim"] != nil
            ? try manifest.config(ContentSASRecConfig.self).withText : try manifest.config(SASRecConfig.self)
        let (itemCount, weights) = (manifest.itemCount, try file.allTensors())
        let model = try SASRec(config: config)
        try (model.core as! SequenceModelCore<SASRecNetwork>).load(itemCount: itemCount, weights: weights)
        model.network?.content?.vocabulary = try KeywordVocabulary.read(from: directory)
        return model
    }
}

extension SASRec: CatalogueExtending {
    public var canExtendCatalogue: Bool { config.itemText != nil && config.sharedOutput }

    /// New items enter with their text vectors through the trained adaptor and no id vector,
    /// as items without training events do (content-aware SASRec only).
    public func extended(with items: [Item]) throws -> any Recommender {
        let (network, newText) = try textVectors(for: items)
        var state = network.stateDict()
        func appendRows(_ key: String, _ rows: Tensor) throws {
            guard let table = state[key] else { throw ModelError.incompatibleArtifact("sasrec: no \(key) to extend") }
            state[key] = Tensor.concatenate([table, rows], axis: 0)
        }
        try appendRows("item_embedding.weight", .zeros([items.count, config.dim]))
        try appendRows("content.text", newText)
        try appendRows("content.warm", .zeros([items.count, config.dim]))
        return try rebuilt(network, itemCount: network.itemCount + items.count, weights: state)
    }

    /// The changed items' text vectors are replaced; their trained id vectors stay.
    public func reembedded(_ changes: [Int: Item]) throws -> any Recommender {
        let rows = changes.keys.sorted()
        let (network, newText) = try textVectors(for: rows.map { changes[$0]! })
        precondition(rows.allSatisfy { $0 >= 0 && $0 < network.itemCount }, "sasrec: re-embedding an unknown item")
        var state = network.stateDict()
        guard let table = state["content.text"] else {
            throw ModelError.incompatibleArtifact("sasrec: no content.text to re-embed")
        }
        // Row 0 of the table is padding: item i is row i + 1.
        state["content.text"] = table.replacingRows(rows.map { $0 + 1 }, with: newText)
        return try rebuilt(network, itemCount: network.itemCount, weights: state)
    }

    /// The trained network and the text vectors of `items`, made as the fitted items' were.
    private func textVectors(for items: [Item]) throws -> (SASRecNetwork, Tensor) {
        guard let network else { throw ModelError.notFitted(name) }
        guard let settings = config.itemText, network.content != nil, config.sharedOutput else {
            throw ModelError.invalidParameter(
                name: "model", reason: "only content-aware SASRec (sasrec-content) scores items added after training")
        }
        let texts = items.map(ItemText.of)
        if case .encoder(let encoder)? = itemRepresentation { return (network, encoder.encode(texts)) }
        guard let vocabulary = network.content?.vocabulary else {
            throw ModelError.incompatibleArtifact(
                "sasrec: no text vocabulary (saved before it was kept, or an encoder model loaded without its encoder); retrain to add items"
            )
        }
        let vectors = ItemTextVectors.project(
            KeywordVectors(vocabulary: vocabulary).appending(texts), dimension: settings.dimension,
            seed: config.training.seed)
        return (network, vectors)
    }

    private func rebuilt(_ network: SASRecNetwork, itemCount: Int, weights: [String: Tensor]) throws -> SASRec {
        let model = try SASRec(config: config, itemText: itemRepresentation)
        try (model.core as! SequenceModelCore<SASRecNetwork>).load(itemCount: itemCount, weights: weights)
        model.network?.content?.vocabulary = network.content?.vocabulary
        return model
    }
}
