import Foundation
import SwiftRecData
import SwiftRecTensor

/// Hyper-parameters of ``Caser``.
public struct CaserConfig: ModelConfig {
    public var dim = 64
    /// L: how many of the newest items form the "image" the convolutions read.
    public var maxLength = 5
    /// Horizontal filters per height h = 1…L.
    public var horizontalFilters = 16
    /// Vertical filters.
    public var verticalFilters = 4
    public var dropout: Float = 0.4
    /// How many of each user's newest items one training example window holds: every item in it
    /// is a target, read from the L items before it.
    public var trainingLength = 200
    public var training = SequenceTrainingOptions()

    public init() {}

    /// Input and output item tables trained with Adam; per target, its L input rows, the
    /// convolution windows and the fused softmax block.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let d = Double(dim), l = Double(maxLength), items = Double(shape.items + 1)
        let h = Double(horizontalFilters), v = Double(verticalFilters)
        let convolution = l * (l + 1) / 2 * (d * h + h) + l * v + v
        let parameters = items * d * 2 + convolution + (d * v + l * h) * d
        let perExample = Double(trainingLength) * (l * (l + 1) / 2 * d + 4 * (d * v + l * h) + 4 * d)
        return MemoryEstimate.data(shape) + MemoryEstimate.fullSoftmax(items: shape.items)
            + MemoryEstimate.network(parameters: parameters, floatsPerExample: perExample, batch: training.batchSize)
    }

    public static let options: [ConfigOption<Self>] =
        ownOptions
        + SequenceTrainingOptions.options.map {
            $0.lifted(\.training)
        }

    private static let ownOptions: [ConfigOption<Self>] = [
        .value("dim", \.dim, in: 1...4096, "Embedding size."),
        .value("max-len", \.maxLength, in: 1...64, "L, the newest items the convolutions read."),
        .value("horizontal-filters", \.horizontalFilters, in: 1...1024, "Horizontal filters per height 1…L."),
        .value("vertical-filters", \.verticalFilters, in: 1...1024, "Vertical filters."),
        .value("dropout", \.dropout, in: 0...0.95, "Dropout before the fully connected layer."),
        .value("train-len", \.trainingLength, in: 1...10_000, "Newest items per user whose next items are targets."),
    ]

    public func validate() throws {
        try ParameterCheck.positive(dim, "dim")
        try ParameterCheck.positive(maxLength, "max-len")
        try ParameterCheck.nonNegative(dropout, "dropout")
        guard dropout < 1 else { throw ModelError.invalidParameter(name: "dropout", reason: "must be below 1") }
        try training.check()
    }
}

/// Caser's network (Tang & Wang 2018): the embeddings of the newest L items form an L × d
/// "image". Horizontal filters of height h = 1…L span whole embeddings and slide over the
/// positions (union-level and point-level sequential patterns); each filter's ReLU outputs are
/// max-pooled over positions. Vertical filters (L × 1) take weighted sums of the L embeddings,
/// dimension by dimension. Both outputs, concatenated, go through dropout and a fully connected
/// layer with ReLU to a d-vector z; an item's score is z · its output vector. Item i is row
/// i + 1 of the input table; row 0 is padding.
///
/// One difference from the paper: no per-user embedding is added to z. A user's state is only
/// their newest items, as for the other sequence models, so new users and new events are served
/// without retraining. Training is the shared sequence loop with full-catalogue cross-entropy
/// (RecBole's default for Caser), every item of a user's newest `train-len` being a target.
final class CaserNetwork: SequenceNetwork {
    let config: CaserConfig
    let itemCount: Int
    let itemEmbedding: Embedding
    let outputEmbedding: Embedding
    /// One per height h = 1…L: (h · d) → horizontal filters.
    let horizontal: [Linear]
    /// L → vertical filters, applied to each dimension's column.
    let vertical: Linear
    let dropout: Dropout
    let fullyConnected: Linear
    var isTraining = true
    var quantizedOutput: QuantizedMatrix?

    init(items: Int, config: CaserConfig) {
        self.config = config
        itemCount = items
        var g = SeededGenerator(seed: config.training.seed)
        let (d, l) = (config.dim, config.maxLength)
        itemEmbedding = Embedding(count: items + 1, dim: d, paddingIndex: 0, std: 1 / Float(d), generator: &g)
        outputEmbedding = Embedding(count: items, dim: d, std: 1 / Float(d), generator: &g)
        horizontal = (1...l).map { Linear($0 * d, config.horizontalFilters, generator: &g) }
        vertical = Linear(l, config.verticalFilters, generator: &g)
        dropout = Dropout(config.dropout, seed: g.next())
        fullyConnected = Linear(d * config.verticalFilters + l * config.horizontalFilters, d, generator: &g)
    }

    var children: [(name: String, layer: any Layer)] {
        [("item_embedding", itemEmbedding), ("output_embedding", outputEmbedding)]
            + horizontal.enumerated().map { ("horizontal.\($0.offset)", $0.element) }
            + [("vertical", vertical), ("dropout", dropout), ("fully_connected", fullyConnected)]
    }

    var maxLength: Int { config.maxLength }
    var trainingWindow: Int { config.trainingLength + 1 }
    var catalogue: Variable { outputEmbedding.weight }
    var outputTable: (table: Tensor, offset: Int) { (outputEmbedding.weight.value, 0) }

    /// z for each of `count` images [count, L, d]: [count, d].
    func encode(_ images: Variable, count: Int) -> Variable {
        let (d, l) = (config.dim, config.maxLength)
        // Vertical: each dimension's column of L values through the L → filters map.
        let columns = vertical(images.permuted([0, 2, 1]))  // [count, d, filters]
        var features = [columns.reshaped([count, d * config.verticalFilters])]
        // Horizontal: the windows of h consecutive rows, as rows of h · d values.
        let flat = images.reshaped([count * l, d])
        for (k, layer) in horizontal.enumerated() {
            let h = k + 1, positions = l - h + 1
            var rows: [Int32] = []
            rows.reserveCapacity(count * positions * h)
            for c in 0..<count {
                for p in 0..<positions { for j in 0..<h { rows.append(Int32(c * l + p + j)) } }
            }
            let windows = flat.embeddingLookup(rows).reshaped([count * positions, h * d])
            let activations = layer(windows).relu().reshaped([count, positions, config.horizontalFilters])
            features.append(activations.maxOverMiddleAxis())
        }
        return fullyConnected(dropout(Variable.concatenate(features, axis: 1))).relu()
    }

    /// The L newest items before each of `ends` positions of `history`, left-padded: rows of the
    /// input table, [ends.count · L].
    func images(_ history: ArraySlice<Int32>, ends: some Sequence<Int>) -> [Int32] {
        let l = config.maxLength
        var rows: [Int32] = []
        for end in ends {
            let start = max(history.startIndex, history.startIndex + end - l)
            let recent = history[start..<(history.startIndex + end)]
            rows += [Int32](repeating: 0, count: l - recent.count) + recent.map { $0 + 1 }
        }
        return rows
    }

    /// Hidden states [batch · length, dim] with z of each sequence at every one of its positions
    /// (the shared code reads the last one). A sequence shorter than L is left-padded with zero
    /// rows, as the padding row is; a longer one is read from its newest L rows.
    func hidden(itemVectors: Variable, rows: [Int32], batch: Int, length: Int) -> Variable {
        let (d, l) = (config.dim, config.maxLength)
        var images = itemVectors
        if length < l {
            images = Variable.concatenate([Variable(Tensor.zeros([batch, l - length, d])), itemVectors], axis: 1)
        } else if length > l {
            images = itemVectors.slice(axis: 1, (length - l)..<length)
        }
        let z = encode(images, count: batch)
        return z.embeddingLookup((0..<batch).flatMap { [Int32](repeating: Int32($0), count: length) })
    }

    func loss(_ windows: [ArraySlice<Int32>]) -> (loss: Variable, targets: Int) {
        var rows: [Int32] = [], targets: [Int32] = []
        for window in windows where window.count >= 2 {
            rows += images(window, ends: 1..<window.count)
            targets += window.dropFirst()
        }
        let count = targets.count
        let z = encode(itemEmbedding(rows, shape: [count, config.maxLength]), count: count)
        return (z.linearCrossEntropy(weight: catalogue, targets: targets), count)
    }

    func scores(after histories: [ArraySlice<Int32>], into scores: UnsafeMutableBufferPointer<Float>) {
        guard !histories.isEmpty else { return }
        withNoGrad {
            let rows = histories.flatMap { images($0, ends: [$0.count]) }
            let z = encode(itemEmbedding(rows, shape: [histories.count, config.maxLength]), count: histories.count)
            scoreLastPositions(z.value, count: histories.count, length: 1, into: scores)
        }
    }

    /// The history's rows, unpadded (``hidden(itemVectors:rows:batch:length:)`` pads them), so
    /// each attribution belongs to a history item.
    func explanationRows(_ history: ArraySlice<Int32>) -> (rows: [Int32], length: Int, trailing: Int) {
        (history.suffix(config.maxLength).map { $0 + 1 }, min(history.count, config.maxLength), 0)
    }
}

/// Caser (Tang & Wang 2018), convolutional sequence embedding: see ``CaserNetwork``.
public final class Caser: SequenceRecommender {
    public let config: CaserConfig

    public init(config: CaserConfig = .init()) throws {
        try config.validate()
        self.config = config
        super.init(
            core: SequenceModelCore(
                name: "caser", historyLength: config.maxLength, config: config.values, options: config.training
            ) { CaserNetwork(items: $0, config: config) })
    }

    public static func load(from directory: URL) throws -> Caser {
        let (config, itemCount, weights) = try SequenceArtifact.load(CaserConfig.self, model: "caser", from: directory)
        let model = try Caser(config: config)
        try (model.core as! SequenceModelCore<CaserNetwork>).load(itemCount: itemCount, weights: weights)
        return model
    }
}
