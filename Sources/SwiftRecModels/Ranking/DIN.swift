import Foundation
import SwiftRecData
import SwiftRecTensor
import Synchronization

/// The nonlinearity after each hidden layer of DIN's activation unit.
public enum DINAttentionActivation: String, Sendable, Codable, CaseIterable, OptionChoice {
    /// A sigmoid (RecBole's DIN; the default).
    case sigmoid
    /// PReLU with a learned slope per unit, started at 0.25 (the paper's activation unit;
    /// no exponential per pair, so a request ranks its candidates faster).
    case prelu
}

/// Options of ``DINNetwork``.
public struct DINConfig: FeatureModelConfig {
    public var training = FeatureTrainingOptions()
    /// Hidden widths of the activation unit (the attention's scorer).
    public var attentionLayers = [80, 40]
    public var attentionActivation = DINAttentionActivation.sigmoid
    /// Hidden widths of the network over [user fields; pooled history; candidate].
    public var layers = [200, 80]
    public var dropout: Float = 0

    public init() {}

    public static let options: [ConfigOption<Self>] =
        FeatureTrainingOptions.options.map { $0.lifted(\.training) } + [
            .widths("attention-layers", \.attentionLayers, "Hidden widths of the activation unit."),
            .choice(
                "attention-activation", \.attentionActivation,
                "The activation unit's nonlinearity: sigmoid (RecBole's) or prelu (the paper's)."),
            .widths("layers", \.layers, "Hidden widths of the network on top."),
            .value("dropout", \.dropout, in: 0...0.95, "Dropout between the top network's layers."),
        ]

    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let d = Double(training.dim), length = Double(training.history)
        let attention = length * (4 * d + Double(attentionLayers.reduce(0, +)) * 3 + d * 4)
        return estimatedBytes(
            shape, parametersBeyondEmbeddings: 4 * d * 128 + 64 * d * 256,
            widthPerExample: attention + 64 * d + Double(layers.reduce(0, +)) * 3)
    }
}

/// Deep Interest Network (Zhou et al. 2018): the user's recent items are pooled with weights
/// that depend on the candidate, so one user's vector differs per candidate. An item's vector
/// is its id's plus the mean of its categories'. For history item h and candidate c the
/// activation unit, a small network over [h; c; h − c; h ⊙ c], gives a weight w(h, c), not
/// normalised (as in the paper, so the pooled vector keeps how strong the interest is); the
/// pooled Σ w(h, c)·h, the user's fields and c feed a feed-forward network to the logit.
/// Differences from the paper: a sigmoid in the activation unit by default (PReLU with
/// `attention-activation=prelu`), ReLU instead of Dice/PReLU on top, no mini-batch-aware
/// regularisation (weight decay is the option), and a learned vector per recency rank (0 for the
/// newest item) added to each history item's vector, as BST does, so the attention can favour
/// the newest events and the ranking follows a change of interest.
public final class DINNetwork: FeatureNetwork {
    public static let modelName = "din"
    public static let readsHistory = true
    public let embeddings: FieldEmbeddings
    public let activationUnit: MLP
    public let top: MLP
    /// One vector per recency rank of a history slot (0 = the newest).
    public let recency: Embedding
    /// Setting it (either way) drops the per-item cache of the request path, since every change
    /// of the weights (an epoch, restoring the best, loading) is followed by setting it.
    public var isTraining = true { didSet { itemSide.withLock { $0 = nil } } }
    /// Every item's share of a request, computed on the first request after training or
    /// loading when the catalogue is small enough (``ItemSide/maximumFloats``).
    private let itemSide = Mutex<ItemSide?>(nil)
    /// The most numbers that cache may hold (``ItemSide/maximumFloats``; tests lower it to take
    /// the path that computes the requested items' shares each time).
    var itemCacheFloats = ItemSide.maximumFloats
    /// The request path's precision for the activation unit's per-pair products.
    private var pairPrecision = ScoringPrecision.float

    public init(config: DINConfig, space: FeatureSpace, generator: inout SeededGenerator) {
        let d = config.training.dim
        embeddings = FieldEmbeddings(
            space: space, dim: d, std: config.training.initStd,
            initialization: config.training.embeddingInit, generator: &generator)
        activationUnit = MLP(
            sizes: [4 * d] + config.attentionLayers + [1],
            activation: config.attentionActivation == .prelu ? .prelu : .sigmoid,
            initialization: config.training.mlpInit, generator: &generator)
        top = MLP(
            sizes: [(space.userFields.count + 2) * d] + config.layers + [1], dropout: config.dropout,
            initialization: config.training.mlpInit, generator: &generator)
        recency = Embedding(count: max(config.training.history, 1), dim: d, std: 0.01, generator: &generator)
    }

    public var children: [(name: String, layer: any Layer)] {
        [("embeddings", embeddings), ("activation_unit", activationUnit), ("top", top), ("recency", recency)]
    }

    /// [count, dim]: each item's id vector plus the mean of its categories' (zero for −1).
    func itemVectors(_ items: [Int32], encoder: FeatureSpace.Encoder) -> Variable {
        let space = encoder.space, pad = Int32(space.paddingRow)
        let fields = space.itemFields.count, width = space.categoryWidth
        let ids = embeddings.vectors(items.map { $0 < 0 ? pad : encoder.itemRows[Int($0) * fields] })
        guard width > 0 else { return ids }
        var rows: [Int32] = []
        rows.reserveCapacity(items.count * width)
        var scale: [Float] = []
        for item in items {
            if item < 0 {
                rows += Array(repeating: pad, count: width)
                scale.append(0)
            } else {
                rows += encoder.categoryRows[(Int(item) * width)..<((Int(item) + 1) * width)]
                scale.append(1 / encoder.categoryCounts[Int(item)])
            }
        }
        let categories = embeddings.vectors(rows, shape: [items.count, width]).sum(axes: [1])
        return ids + categories * Variable(Tensor(shape: [items.count, 1], scalars: scale))
    }

    /// [B, L, 1]: the activation unit's weight of each history item `h` for its example's
    /// candidate `c` (0 at padding); `c` is gathered once per history slot so every elementwise
    /// op runs on equal shapes.
    func attention(history h: Variable, candidates c: Variable, mask: [Int32], batch b: Int, length: Int) -> Variable {
        let input = Variable.concatenate([h, c, h - c, h * c], axis: 1)
        let keep = Tensor(shape: [b * length, 1], scalars: mask.map { $0 < 0 ? 0 : 1 })
        return (activationUnit(input) * Variable(keep)).reshaped([b, length, 1])
    }

    public func logits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> Variable {
        let b = batch.size
        let (candidate, _, pooled) = attend(batch, encoder: encoder)
        let userFields = embeddings.space.userFields.count, d = embeddings.dim
        let fields = embeddings.fields(batch).slice(axis: 1, 0..<userFields).reshaped([b, userFields * d])
        return top(Variable.concatenate([fields, pooled, candidate], axis: 1)) + embeddings.firstOrder(batch)
    }

    /// One user's logits, the request path: the activation unit's first layer is split by input
    /// block, W·[h; c; h − c; h ⊙ c] = (W_h + W_d)·h + (W_c − W_d)·c + W_p·(h ⊙ c), so the h and c
    /// parts run once per history item and once per candidate and only W_p·(h ⊙ c) runs per
    /// (history item, candidate) pair, a quarter of that layer's work, fused with the further
    /// layers in one kernel (``PairMLP``); padding slots (weight 0)
    /// are skipped, and the user fields' share of the top network's first layer is computed once.
    /// What depends on an item alone (``ItemSide``) is kept for every item between changes of the
    /// weights. Equals ``logits(_:encoder:)`` up to rounding at `.float`; at `.int8` the top
    /// layers after the first take their int8 weights on both paths and, from dimension 24, the
    /// per-pair products are int8 on this path alone (``setScoringPrecision(_:)``).
    public func oneUserLogits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> [Float]? {
        // The layers this path reads as float weights (split by input block) must score at float.
        let split = activationUnit.layers + [top.layers[0]]
        guard !isTraining, batch.size > 0, split.allSatisfy({ $0.quantizedWeight == nil }) else { return nil }
        return withNoGrad { requestLogits(batch, encoder: encoder) }
    }

    /// Whether int8 reaches anything: top layers after the first, or the unit's per-pair products.
    public var hasInt8Scoring: Bool {
        top.layers.count > 1 || embeddings.dim >= Self.int8PairProductsFromDimension
    }

    /// int8 (or float again) for the top network's layers after the first and, from a dimension
    /// of 24 (``int8PairProductsFromDimension``), for the activation unit's per-pair products
    /// W_p·(h ⊙ c) (``PairMLP``). The unit's layers and the top's first stay float weights, which
    /// the request path splits by input block. The batch path (training, and the CTR protocol's
    /// pairs of many users) keeps the unit in float at either precision; one user's scores, served
    /// or evaluated, take the request path.
    public func setScoringPrecision(_ precision: ScoringPrecision) {
        for layer in top.layers.dropFirst() { layer.setPrecision(precision) }
        pairPrecision = embeddings.dim >= Self.int8PairProductsFromDimension ? precision : .float
    }

    /// Below this dimension the unit's products cost little beside the work around them and int8
    /// products were measured slower (`swiftrec bench pair-unit --dims 16,24,32,48,64`: 200
    /// candidates × 50 history items, one [36] PReLU unit, AMX: 112 µs float against 127 µs int8
    /// at dimension 16, 151 against 123 at 24, 178 against 122 at 32, 351 against 151 at 64), so
    /// they stay float there.
    public static let int8PairProductsFromDimension = 24

    /// ``oneUserLogits(_:encoder:)``'s work, inside `withNoGrad`.
    private func requestLogits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> [Float] {
        let n = batch.size, d = embeddings.dim, length = batch.historyLength
        let userFields = embeddings.space.userFields.count
        // The first example's history stands for every example's (one user).
        let slots = (0..<length).filter { batch.history[$0] >= 0 }
        let r = slots.count
        // The items' shares: every item's, kept; or computed now for these items alone.
        let items = slots.map { batch.history[$0] } + batch.items
        let cached = cachedItemSide(encoder: encoder)
        let side = cached ?? itemSide(items, encoder: encoder)
        let rows = cached == nil ? (0..<Int32(items.count)).map { $0 } : items
        let historyRows = Array(rows[0..<r]), candidateRows = Array(rows[r...])
        let candidates = side.vectors.gatheringRows(candidateRows)
        var pooled = Tensor.zeros([n, d])
        if r > 0 {
            let ranks = slots.map { Int32(length - 1 - $0) }
            let history = side.vectors.gatheringRows(historyRows) + recency.weight.value.gatheringRows(ranks)
            let historyPart = side.historyPart.gatheringRows(historyRows) + side.recencyPart.gatheringRows(ranks)
            // The per-pair rest (W_p·(h ⊙ c), then the further layers) in one fused kernel.
            let first = activationUnit.layers[0]
            let weights = PairMLP.outputs(
                history: history, candidates: candidates, historyPart: historyPart,
                candidatePart: side.candidatePart.gatheringRows(candidateRows), productBlock: first.weight.value,
                productColumn: 3 * d, layers: Array(activationUnit.layers.dropFirst()),
                slopes: activationUnit.activation == .prelu ? activationUnit.slopes.map(\.slope.value) : nil,
                precision: pairPrecision)
            // Σ_l w(h_l, c)·h_l for every candidate at once: [n, r] × [r, d].
            pooled = Tensor.matmul(weights, history)
        }
        let topFirst = top.layers[0]
        let userRows = Array(batch.singleRows[0..<userFields])
        let userVector = embeddings.vectors(userRows).value.reshaped([1, userFields * d])
        var userPart = Tensor.matmul(userVector, side.topUserBlock, transposeB: true)
        if let bias = topFirst.bias { userPart = userPart + bias.value.reshaped([1, bias.value.count]) }
        // [pooled; candidate] through the first layer's two blocks in one product. (The
        // candidates' part was kept per item, but that table, [items, top width], is 3 MB at
        // ML-1M's size: reading 200 random rows of it cost more than this product of 2 · dim.)
        var hidden = Tensor.matmul(
            Tensor.concatenate([pooled, candidates], axis: 1), side.topPooledAndCandidateBlock, transposeB: true)
        hidden = hidden + userPart.reshaped([userPart.count])
        var y = Variable(hidden)
        for layer in top.layers.dropFirst() { y = layer(top.activation(y)) }
        // The first-order terms: the bias and the user's fields once, each candidate's kept.
        let userFirstOrder = embeddings.firstOrder(ofUser: userRows)
        return zip(y.value.scalars, candidateRows).map { $0 + userFirstOrder + side.firstOrder[Int($1)] }
    }

    /// What a request reads that depends on the weights and some items alone: the items'
    /// vectors, their parts of the activation unit's first layer as candidate and as history item
    /// (without the recency vector's, which ``recencyPart`` holds per rank) and the sum of their
    /// fields' first-order weights; and the top network's first-layer blocks the request
    /// multiplies as they are.
    struct ItemSide: Sendable {
        /// A cache of every item above this many numbers is not kept (64 MB).
        static let maximumFloats = 16 << 20
        /// [items, dim].
        var vectors: Tensor
        /// [items, units]: (W_c − W_d)·c + the bias, and (W_h + W_d)·h.
        var candidatePart: Tensor
        var historyPart: Tensor
        /// [items].
        var firstOrder: [Float]
        /// [recency ranks, units]: (W_h + W_d)·recency vector.
        var recencyPart: Tensor
        /// The top network's first-layer columns that read the user's fields, and those that
        /// read the pooled history and then the candidate, sliced once rather than per request
        /// (at dimension 64 the copies took about 2 % of a served cascade's profile samples).
        var topUserBlock: Tensor
        var topPooledAndCandidateBlock: Tensor
    }

    /// [recency ranks, units]: each recency vector's part of the activation unit's first layer.
    private func recencyPart() -> Tensor {
        let d = embeddings.dim, w = activationUnit.layers[0].weight.value
        let historyBlock = w.slice(axis: 1, 0..<d) + w.slice(axis: 1, (2 * d)..<(3 * d))
        return Tensor.matmul(recency.weight.value, historyBlock, transposeB: true)
    }

    private func itemSide(_ items: [Int32], encoder: FeatureSpace.Encoder) -> ItemSide {
        let d = embeddings.dim, userFields = embeddings.space.userFields.count
        let vectors = itemVectors(items, encoder: encoder).value
        let first = activationUnit.layers[0]
        let w = first.weight.value
        let block = { (k: Int) in w.slice(axis: 1, (k * d)..<((k + 1) * d)) }
        var candidatePart = Tensor.matmul(vectors, block(1) - block(2), transposeB: true)
        if let bias = first.bias { candidatePart = candidatePart + bias.value }
        let tw = top.layers[0].weight.value
        return ItemSide(
            vectors: vectors, candidatePart: candidatePart,
            historyPart: Tensor.matmul(vectors, block(0) + block(2), transposeB: true),
            firstOrder: embeddings.firstOrder(ofItems: items, encoder: encoder), recencyPart: recencyPart(),
            topUserBlock: tw.slice(axis: 1, 0..<(userFields * d)),
            topPooledAndCandidateBlock: tw.slice(axis: 1, (userFields * d)..<((userFields + 2) * d)))
    }

    /// Every item's ``ItemSide``, built once per change of the weights; nil while training or
    /// when the catalogue is too large to keep one.
    private func cachedItemSide(encoder: FeatureSpace.Encoder) -> ItemSide? {
        guard !isTraining else { return nil }
        let units = activationUnit.layers[0].weight.shape[0]
        guard encoder.itemCount * (embeddings.dim + 2 * units + 1) <= itemCacheFloats else { return nil }
        // Built under the lock: the first requests after loading wait for one build rather than
        // each making its own.
        return itemSide.withLock { kept in
            if let kept { return kept }
            let built = itemSide((0..<Int32(encoder.itemCount)).map { $0 }, encoder: encoder)
            kept = built
            return built
        }
    }

    /// The activation unit's weight of each history slot for its example's candidate.
    public func historyWeights(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> [Float]? {
        attend(batch, encoder: encoder).weights.value.scalars
    }

    /// [B, d] candidates, [B, 1, L] history weights and [B, d] the weighted sum of the history.
    func attend(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> (
        candidate: Variable, weights: Variable, pooled: Variable
    ) {
        let b = batch.size, d = embeddings.dim, length = batch.historyLength
        // Each distinct item of the batch (candidates and histories) is embedded once, into a
        // table whose row 0 is the zero vector of padding; the examples gather from it.
        var slots: [Int32: Int32] = [:]
        var distinct: [Int32] = [-1]
        func slot(_ item: Int32) -> Int32 {
            if item < 0 { return 0 }
            if let known = slots[item] { return known }
            let new = Int32(distinct.count)
            distinct.append(item)
            slots[item] = new
            return new
        }
        let candidateSlots = batch.items.map(slot)
        let historySlots = batch.history.map(slot)
        let table = itemVectors(distinct, encoder: encoder)
        let candidate = table.embeddingLookup(candidateSlots)
        // Slots are right-aligned: slot l of L holds the item of recency rank L − 1 − l.
        let ranks = (0..<(b * length)).map { Int32(length - 1 - $0 % max(length, 1)) }
        let history = table.embeddingLookup(historySlots) + recency(ranks)
        let repeated = table.embeddingLookup(candidateSlots.flatMap { repeatElement($0, count: length) })
        // Σ_l w_l·h_l as [B, 1, L] × [B, L, d].
        let weights = attention(history: history, candidates: repeated, mask: batch.history, batch: b, length: length)
            .reshaped([b, 1, length])
        let pooled = weights.batchedMatmul(history.reshaped([b, length, d])).reshaped([b, d])
        return (candidate, weights, pooled)
    }
}

/// DIN as a model.
public typealias DIN = FeatureRanker<DINNetwork>
