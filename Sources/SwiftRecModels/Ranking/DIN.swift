import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``DINNetwork``.
public struct DINConfig: FeatureModelConfig {
    public var training = FeatureTrainingOptions()
    /// Hidden widths of the activation unit (the attention's scorer).
    public var attentionLayers = [80, 40]
    /// Hidden widths of the network over [user fields; pooled history; candidate].
    public var layers = [200, 80]
    public var dropout: Float = 0

    public init() {}

    public static let options: [ConfigOption<Self>] =
        FeatureTrainingOptions.options.map { $0.lifted(\.training) } + [
            .widths("attention-layers", \.attentionLayers, "Hidden widths of the activation unit."),
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
/// Differences from the paper: ReLU/sigmoid instead of Dice/PReLU, no mini-batch-aware
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
    public var isTraining = true

    public init(config: DINConfig, space: FeatureSpace, generator: inout SeededGenerator) {
        let d = config.training.dim
        embeddings = FieldEmbeddings(space: space, dim: d, std: config.training.initStd, generator: &generator)
        activationUnit = MLP(sizes: [4 * d] + config.attentionLayers + [1], activation: .sigmoid, generator: &generator)
        top = MLP(
            sizes: [(space.userFields.count + 2) * d] + config.layers + [1], dropout: config.dropout,
            generator: &generator)
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
