import Algorithms
import Foundation
import SwiftRecData
import SwiftRecTensor

/// Where a feature ranker's labels come from.
public enum LabelSource: String, OptionChoice, Sendable {
    /// `ratings` when some event has a value below `positive-at`, else `implicit`.
    case auto
    /// Each rated event: 1 at or above `positive-at`, 0 below.
    case ratings
    /// Each event is a positive; `negatives` unseen items per positive are drawn each epoch.
    case implicit
}

extension LinearInitialization: OptionChoice {}
extension EmbeddingInitialization: OptionChoice {}

/// Settings every feature ranker (FM, DeepFM, Wide & Deep, DCN-v2, DIN) trains with.
public struct FeatureTrainingOptions: ModelConfig {
    /// Size of each field's vector.
    public var dim = 16
    public var epochs = 30
    public var batchSize = 2048
    public var learningRate: Float = 1e-3
    /// L2 penalty (Adam's weight decay) on every parameter.
    public var weightDecay: Float = 0
    /// Epochs without a better validation AUC before training stops (with validation data).
    public var patience = 3
    public var labels: LabelSource = .auto
    public var positiveAt: Double = 4
    public var negatives = 1
    /// Share of the sampled negatives drawn from the items a cascade's retriever proposed to
    /// the user before each example (``CandidateNegativeSampling``); the rest are uniform. No
    /// effect outside a cascade. All of them by default: a cascade's ranker only ever orders
    /// the retriever's candidates (ML-1M, DIN at 64 dimensions: 1.06–1.10× SASRec's NDCG@10
    /// against 1.01–1.05× with uniform negatives; BENCHMARKS.md, "Negatives retrieved before
    /// each example").
    public var candidateNegatives: Double = 1
    /// User attribute keys read as fields; none reads every key the users have.
    public var userFeatures: [String]? = nil
    /// Item attribute keys read as fields (`categories` for the categories); none reads all.
    public var itemFeatures: [String]? = nil
    public var minCount = 2
    public var maxVocabulary = 10_000
    /// The most recent items a model attending over the history reads.
    public var history = 50
    /// Standard deviation of the feature vectors' and first-order weights' initial values.
    public var initStd: Float = 0.01
    /// How the deep part's linear layers start (``LinearInitialization``); FM has none.
    public var mlpInit: LinearInitialization = .uniform
    /// How the feature vectors and first-order weights start (``EmbeddingInitialization``).
    public var embeddingInit: EmbeddingInitialization = .fixed
    public var timeBudget: Double? = nil
    public var seed: UInt64 = 0

    public init() {}

    public static let options: [ConfigOption<Self>] = [
        .value("dim", \.dim, in: 1...512, "Size of each feature's vector."),
        .value("epochs", \.epochs, in: 0...10_000, "The most passes over the training examples."),
        .value("batch-size", \.batchSize, in: 1...65_536, "Examples per optimiser step."),
        .value("lr", \.learningRate, in: 1e-7...10, "Adam learning rate."),
        .value("weight-decay", \.weightDecay, in: 0...10, "L2 penalty on every parameter."),
        .value("patience", \.patience, in: 1...1_000, "Epochs without a better validation AUC before stopping."),
        .choice("labels", \.labels, "auto, ratings (1 at or above positive-at) or implicit (sampled negatives)."),
        .value("positive-at", \.positiveAt, in: -1e9...1e9, "The lowest rating that counts as a positive."),
        .value("negatives", \.negatives, in: 1...100, "Sampled negatives per positive (implicit labels)."),
        .value(
            "candidate-negatives", \.candidateNegatives, in: 0...1,
            "In a cascade: share of sampled negatives drawn from the retriever's candidates for the user (default 1)."),
        .checked(
            "user-features", \.userFeatures, range: "a list of attribute keys, or none",
            "User attributes read as fields (none: all)."
        ) { $0.map { $0.count <= 64 } ?? true },
        .checked(
            "item-features", \.itemFeatures, range: "a list of attribute keys, or none",
            "Item attributes read as fields, `categories` included (none: all)."
        ) { $0.map { $0.count <= 64 } ?? true },
        .value("min-count", \.minCount, in: 1...1_000_000, "Values rarer than this read as unknown."),
        .value("max-vocabulary", \.maxVocabulary, in: 1...1_000_000, "The most values one field keeps."),
        .value("history", \.history, in: 1...1_000, "Recent items read by models that attend over the history."),
        .value("init-std", \.initStd, in: 1e-6...10, "Standard deviation of the initial feature vectors."),
        .choice(
            "mlp-init", \.mlpInit,
            "How the deep part's layers start: uniform (PyTorch's default) or xavier (normal, as RecBole)."),
        .choice(
            "embedding-init", \.embeddingInit,
            "How feature vectors start: fixed (normal with init-std) or xavier (per table, as RecBole)."),
        .value("time-budget", \.timeBudget, in: 0...86_400 * 7, "Stop training after this many seconds."),
        .value("seed", \.seed, in: 0...UInt64.max, "Random seed."),
    ]
}

/// A feature ranker's config: its own options next to the shared ``FeatureTrainingOptions``.
public protocol FeatureModelConfig: ModelConfig {
    var training: FeatureTrainingOptions { get set }
}

extension FeatureModelConfig {
    /// The data, the examples and their labels, the embedding tables with Adam's two moments,
    /// and one batch's activations (with `widthPerExample` floats for the network's layers).
    func estimatedBytes(_ shape: DataShape, parametersBeyondEmbeddings: Double, widthPerExample: Double) -> Double {
        let rows = Double(shape.users + shape.items) + 10_000
        let tables = rows * Double(training.dim + 1) + parametersBeyondEmbeddings
        let examples = Double(shape.events) * Double(1 + training.negatives) * 24
        let batch = Double(training.batchSize) * widthPerExample * 4
        return MemoryEstimate.data(shape) + tables * 4 * MemoryEstimate.float + examples
            + batch * MemoryEstimate.float
    }
}

extension ConfigOption {
    /// Hidden-layer widths: `counts` of them, each 1...4096.
    static func widths(
        _ key: String, _ path: WritableKeyPath<Config, [Int]> & Sendable, counts: ClosedRange<Int> = 1...8,
        _ help: String
    ) -> Self {
        checked(key, path, range: "\(counts.lowerBound) to \(counts.upperBound) widths of 1...4096", help) {
            counts.contains($0.count) && $0.allSatisfy { (1...4096).contains($0) }
        }
    }
}

/// One batch of examples as embedding rows.
public struct FeatureBatch {
    public let size: Int
    /// [size, user fields + item fields]: rows of the single-valued fields, user fields first.
    public let singleRows: [Int32]
    /// [size, categoryWidth]: the candidate item's category rows (padding after the real ones).
    public let categoryRows: [Int32]
    /// [size, 1]: 1 / the number of real category rows.
    public let categoryScale: Tensor
    /// [size]: the candidate items.
    public let items: [Int32]
    /// [size, historyLength]: the user's most recent items before the example, oldest first, −1 as padding.
    public let history: [Int32]
    public let historyLength: Int
    /// [size]: each example's scenario (``FeatureNetwork/scenario(features:requested:)``).
    public let scenarios: [Int32]
}

/// How ``FieldEmbeddings`` draws its initial values.
public enum EmbeddingInitialization: String, Codable, Sendable, CaseIterable {
    /// N(0, init-std²) for every vector and first-order weight.
    case fixed
    /// Xavier-normal per table, as RecBole's context-aware models start theirs: the
    /// single-valued fields share one table (std √(2 / (rows + dim))), the categories have
    /// their own, much smaller and so much wider (√(2 / (categories + dim))), and the
    /// first-order weights the same with a width of 1.
    case xavier
}

/// The embedding table every field reads from, plus the first-order weights (one number per
/// row) and a global bias: the part all feature rankers share.
public final class FieldEmbeddings: Layer {
    public let vectors: Embedding
    public let weights: Embedding
    public let bias: Variable
    public let space: FeatureSpace
    public var isTraining = true

    public init(
        space: FeatureSpace, dim: Int, std: Float = 0.01, initialization: EmbeddingInitialization = .fixed,
        generator: inout SeededGenerator
    ) {
        self.space = space
        vectors = Embedding(
            count: space.rowCount, dim: dim, paddingIndex: space.paddingRow, std: std, generator: &generator)
        weights = Embedding(
            count: space.rowCount, dim: 1, paddingIndex: space.paddingRow, std: std, generator: &generator)
        bias = parameter(.zeros([1]))
        if initialization == .xavier {
            // The same draws rescaled: N(0, std²)·(target / std) is N(0, target²).
            let categories = space.fields.first { $0.source == .itemCategories }
            let categoryRows = categories.map { $0.offset..<($0.offset + $0.size) } ?? 0..<0
            let singleRows = Float(space.paddingRow - categoryRows.count)
            for (table, width) in [(vectors, dim), (weights, 1)] {
                let single = (2 / (singleRows + Float(width))).squareRoot() / std
                let own = (2 / (Float(categoryRows.count) + Float(width))).squareRoot() / std
                var value = table.weight.value
                value.withUnsafeMutableBufferPointer { rows in
                    for row in 0..<space.paddingRow {
                        let scale = categoryRows.contains(row) ? own : single
                        for j in 0..<width { rows[row * width + j] *= scale }
                    }
                }
                table.weight.value = value
            }
        }
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [("bias", bias)] }
    public var children: [(name: String, layer: any Layer)] { [("vectors", vectors), ("weights", weights)] }

    public var dim: Int { vectors.weight.shape[1] }
    var singleFieldCount: Int { space.userFields.count + space.itemFields.count }

    /// [B, fields, dim]: one vector per field; the categories' is the mean of theirs.
    public func fields(_ batch: FeatureBatch) -> Variable {
        let single = vectors(batch.singleRows, shape: [batch.size, singleFieldCount])
        guard space.hasCategories else { return single }
        let categories =
            vectors(batch.categoryRows, shape: [batch.size, space.categoryWidth])
            .sum(axes: [1]) * Variable(batch.categoryScale)
        return Variable.concatenate([single, categories.reshaped([batch.size, 1, dim])], axis: 1)
    }

    /// [B, 1]: the bias plus every field's first-order weight (categories averaged).
    public func firstOrder(_ batch: FeatureBatch) -> Variable {
        var sum = weights(batch.singleRows, shape: [batch.size, singleFieldCount]).sum(axes: [1]) + bias
        if space.hasCategories {
            sum =
                sum
                + weights(batch.categoryRows, shape: [batch.size, space.categoryWidth]).sum(axes: [1])
                * Variable(batch.categoryScale)
        }
        return sum
    }

    /// ``firstOrder(_:)`` split for one user's many candidates: the bias plus the user's fields'
    /// weights (`userRows`, the user part of a batch's single rows), to which each candidate's
    /// ``firstOrder(ofItems:encoder:)`` adds its own.
    public func firstOrder(ofUser userRows: [Int32]) -> Float {
        weights.weight.value.withUnsafeBufferPointer { w in userRows.reduce(bias.value.scalars[0]) { $0 + w[Int($1)] } }
    }

    /// Each item's part of ``firstOrder(_:)``: its single fields' weights plus the mean of its
    /// categories' (as `encoder` reads the item).
    public func firstOrder(ofItems items: [Int32], encoder: FeatureSpace.Encoder) -> [Float] {
        let fields = space.itemFields.count, width = space.categoryWidth
        return weights.weight.value.withUnsafeBufferPointer { w in
            items.map { item in
                let i = Int(item)
                var sum = encoder.itemRows[(i * fields)..<((i + 1) * fields)].reduce(0) { $0 + w[Int($1)] }
                if width > 0 {
                    let categories = encoder.categoryRows[(i * width)..<((i + 1) * width)].reduce(0) { $0 + w[Int($1)] }
                    sum += categories * (1 / encoder.categoryCounts[i])
                }
                return sum
            }
        }
    }
}

/// The network of one feature ranker: how the field vectors become a logit.
public protocol FeatureNetwork: Layer {
    associatedtype Config: FeatureModelConfig
    /// The model's command-line name.
    static var modelName: String { get }
    /// Whether it reads the user's recent items (``FeatureBatch/history``).
    static var readsHistory: Bool { get }
    init(config: Config, space: FeatureSpace, generator: inout SeededGenerator)
    var embeddings: FieldEmbeddings { get }
    /// [B, 1] logits.
    func logits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> Variable
    /// [B × historyLength]: how much each of an example's history slots weighed in its score,
    /// for models that weigh the history (DIN's activation unit); nil for the others.
    func historyWeights(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> [Float]?
    /// [B] logits of a batch whose examples all share the first example's user fields and
    /// history (one user's candidates, as a request scores them), by a path faster than
    /// ``logits(_:encoder:)`` that gives the same numbers up to rounding; nil where the network
    /// has none (or while training), and the caller uses ``logits(_:encoder:)``.
    func oneUserLogits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> [Float]?
    /// Whether ``setScoringPrecision(_:)`` changes anything (the layers it would quantise).
    var hasInt8Scoring: Bool { get }
    /// Scores from now on at `precision` wherever the network has int8 scoring (DIN: its top
    /// layers after the first and, from dimension 24, its unit's per-pair products); `.float`
    /// goes back to float weights.
    func setScoringPrecision(_ precision: ScoringPrecision)
    /// The scenario an example of a user with these attributes belongs to, `requested` (the
    /// request's scenario, ``UserState/scenario``) taking precedence; 0 for models without scenarios.
    func scenario(features: [String: String], requested: String?) -> Int32
}

extension FeatureNetwork {
    public func historyWeights(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> [Float]? { nil }
    public func oneUserLogits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> [Float]? { nil }
    public var hasInt8Scoring: Bool { false }
    public func setScoringPrecision(_ precision: ScoringPrecision) {}
    public func scenario(features: [String: String], requested: String?) -> Int32 { 0 }
}

/// A ranker that can learn from negatives drawn among what a retriever proposes to each user,
/// as production rankers learn from impressions: the items it will have to order at serving
/// time are all plausible, and uniformly drawn negatives rarely are.
public protocol CandidateNegativeSampling: AnyObject {
    /// Share of the negatives that fitting on `dataset` would draw from ``negativeCandidates``:
    /// 0 when it draws none there, or samples no negatives at all (rated data brings its own),
    /// and then the retriever's candidates are not needed.
    func candidateNegativeShare(on dataset: Dataset) -> Double
    /// What the retriever proposed to each user along their training history; set before `fit`.
    var negativeCandidates: RetrievedCandidates? { get set }
}

/// What a retriever proposed to each user at points of their training history, so that the
/// negatives a ranker draws for an example come from what the retriever would have shown the
/// user then. Lists from the whole history instead hold the items the user picks *after* it
/// (the held-out ones: that is the retriever's recall), and a ranker drawing its negatives
/// there learns to push exactly those down (BENCHMARKS.md, "The cascade's ranker trained on the
/// retriever's candidates").
public struct RetrievedCandidates: Sendable, Equatable {
    /// One retrieval: after the user's first `events` training events, the retriever's top
    /// items outside those events, best first.
    public struct Checkpoint: Sendable, Equatable {
        public var events: Int
        public var items: [Int32]

        public init(events: Int, items: [Int32]) {
            self.events = events
            self.items = items
        }
    }

    /// Per user index, by increasing `events`; the last one read the user's whole history.
    public var checkpoints: [[Checkpoint]]

    public init(checkpoints: [[Checkpoint]]) { self.checkpoints = checkpoints }

    /// The list retrieved after the most events at or before `events` (the user's training
    /// events before an example); empty before the first retrieval and for unknown users.
    public func items(user: Int32, after events: Int) -> [Int32] {
        guard user >= 0, Int(user) < checkpoints.count else { return [] }
        let list = checkpoints[Int(user)]
        let after = list.partitioningIndex { $0.events > events }
        return after == 0 ? [] : list[after - 1].items
    }

    /// The list retrieved from the user's whole training history (what serving would propose).
    public func latest(user: Int32) -> [Int32] {
        guard user >= 0, Int(user) < checkpoints.count else { return [] }
        return checkpoints[Int(user)].last?.items ?? []
    }
}

/// A model that gives the probability of a positive for given (user, item) pairs, as the CTR
/// protocol needs; its ``Recommender/score(_:into:)`` is the logit of every item.
public protocol PairScoring: Recommender {
    /// Logits for `items` (in that order) for the user in `state`.
    func logits(_ state: UserState, items: [Int32]) -> [Float]
    /// Logits of the pairs (`states[k]`, `items[k]`).
    func logits(states: [UserState], items: [Int32]) -> [Float]
    /// Labeled examples to choose the best epoch by (AUC); set before ``fit`` by the CTR protocol.
    var validationPairs: LabeledPairs? { get set }
}

/// A feature ranker: a ``FeatureNetwork`` over a ``FeatureSpace``, trained with binary
/// cross-entropy (Adam) on labeled pairs, served by scoring every item as a candidate.
///
/// Labels: rated data gives 1 at or above `positive-at` and 0 below; implicit data gives each
/// event as a positive with `negatives` unseen items drawn per positive each epoch. With
/// validation pairs (the CTR protocol's, or the held-out items of the ranking protocol against
/// one drawn negative each) the epoch with the best validation AUC is kept.
///
/// A user is read through their id (unknown for a user the model was not trained on), their
/// attributes (`UserState.features`: a new user with attributes is ranked by them) and, for
/// models that attend over it, their most recent items. Training reads each example's history
/// as the user's items before the example's time; serving reads the state's newest items.
public final class FeatureRanker<Network: FeatureNetwork>: PairScoring, StoppableTraining,
    CandidateNegativeSampling
{
    public var name: String { Network.modelName }
    public var inputs: Set<ModelInput> { Network.readsHistory ? [.features, .sequence] : [.features, .history] }
    public let config: Network.Config
    public var options: FeatureTrainingOptions { config.training }
    public private(set) var network: Network?
    public private(set) var encoder: FeatureSpace.Encoder?
    public private(set) var itemCount = 0
    public private(set) var userCount = 0
    public private(set) var epochSeconds: [Double] = []
    public private(set) var scoringPrecision = ScoringPrecision.float
    public var validationPairs: LabeledPairs?
    public var negativeCandidates: RetrievedCandidates?
    public func candidateNegativeShare(on dataset: Dataset) -> Double {
        Self.labelMode(options, dataset) == .implicit ? options.candidateNegatives : 0
    }
    public let stop = TrainingStop()

    public init(config: Network.Config = .init()) throws {
        self.config = try config.checked()
    }

    // MARK: Training

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        let options = self.options
        let selection = FeatureSpace.Selection(
            userAttributes: options.userFeatures, itemAttributes: options.itemFeatures, minCount: options.minCount,
            maxVocabulary: options.maxVocabulary)
        let space = FeatureSpace(dataset: dataset, selection: selection)
        let encoder = FeatureSpace.Encoder(space: space, items: dataset.itemInfo)
        var generator = SeededGenerator(seed: options.seed)
        let network = Network(config: config, space: space, generator: &generator)
        var shuffler = SplitMix64(seed: options.seed ^ 0x0005_1F7E)
        self.encoder = encoder
        self.network = network
        itemCount = dataset.itemCount
        userCount = dataset.userCount
        let userRows = (0..<dataset.userCount).map {
            encoder.userRows(user: Int32($0), features: dataset.userInfo[$0]?.attributes ?? [:])
        }
        let userScenarios = (0..<dataset.userCount).map {
            network.scenario(features: dataset.userInfo[$0]?.attributes ?? [:], requested: nil)
        }
        let mode = Self.labelMode(options, dataset)
        let rated =
            mode == .ratings
            ? LabeledPairs.fromRatings(dataset, positiveAt: options.positiveAt, negativeBelow: options.positiveAt) : nil
        let positives = mode == .implicit ? Self.positives(dataset) : nil
        // Held-out items against drawn negatives; with the retriever's candidates, drawn from them
        // in the same share as training's, so the best epoch is the best at ordering candidates.
        let checkpoints =
            validationPairs
            ?? validation.map {
                let pairs = LabeledPairs.fromHeldOut($0, in: dataset, negatives: 1, seed: options.seed &+ 17)
                guard let pools = negativeCandidates, options.candidateNegatives > 0 else { return pairs }
                return Self.replacingNegatives(
                    pairs, pools: pools, share: options.candidateNegatives, seed: options.seed &+ 19)
            }
        let optimizer = Adam(
            parameters: network.parameters, learningRate: options.learningRate, weightDecay: options.weightDecay)
        let started = Date()
        // Each example's scenario in the network: once for the fixed examples, each epoch for
        // freshly sampled ones.
        let ratedScenarios = rated.map {
            Self.scenarios(of: $0, dataset: dataset, network: network, userScenarios: userScenarios)
        }
        let checkpointScenarios = checkpoints.map {
            Self.scenarios(of: $0, dataset: dataset, network: network, userScenarios: userScenarios)
        }
        var best: (auc: Double, state: [String: Tensor])?
        var sinceBest = 0
        epochSeconds = []
        progress?(
            .message(
                "\(name): \(space.fields.count) fields (\(space.fields.map(\.name).joined(separator: ", "))), \(mode.rawValue) labels"
            ))
        for epoch in 0..<options.epochs {
            let epochStart = Date()
            let examples =
                rated
                ?? Self.withNegatives(
                    positives!, dataset, options.negatives, seed: options.seed &+ UInt64(epoch),
                    candidates: negativeCandidates.map { ($0, options.candidateNegatives) })
            let exampleScenarios =
                ratedScenarios
                ?? Self.scenarios(of: examples, dataset: dataset, network: network, userScenarios: userScenarios)
            var order = Array(0..<examples.count)
            shuffler.shuffle(&order)
            network.setTraining(true)
            var lossSum = 0.0, steps = 0
            var start = 0
            while start < order.count {
                let chunk = Array(order[start..<min(start + options.batchSize, order.count)])
                start += chunk.count
                let batch = Self.batch(
                    chunk.map { examples.users[$0] }, chunk.map { examples.items[$0] },
                    histories: Network.readsHistory
                        ? chunk.map { Self.history(dataset, user: examples.users[$0], before: examples.timestamps[$0]) }
                        : nil,
                    userRows: userRows, scenarios: chunk.map { exampleScenarios[$0] },
                    encoder: encoder, historyLength: options.history)
                let targets = Tensor(shape: [chunk.count, 1], scalars: chunk.map { examples.labels[$0] })
                let loss = network.logits(batch, encoder: encoder).binaryCrossEntropyWithLogits(targets: targets)
                network.zeroGrad()
                loss.backward()
                optimizer.step()
                lossSum += Double(loss.value.scalar)
                steps += 1
                if stop.isRequested || options.timeBudget.map({ Date().timeIntervalSince(started) > $0 }) == true {
                    break
                }
            }
            epochSeconds.append(Date().timeIntervalSince(epochStart))
            var line = String(
                format: "%@: epoch %d, loss %.4f, %.1f s", name, epoch + 1, lossSum / Double(max(steps, 1)),
                epochSeconds.last!)
            var stopNow = stop.isRequested || options.timeBudget.map({ Date().timeIntervalSince(started) > $0 }) == true
            if let checkpoints, let checkpointScenarios, checkpoints.count > 0 {
                let auc =
                    self.auc(checkpoints, dataset: dataset, userRows: userRows, scenarios: checkpointScenarios) ?? 0
                line += String(format: ", valid AUC %.4f", auc)
                if auc > (best?.auc ?? -1) {
                    best = (auc, network.stateDict())
                    sinceBest = 0
                    line += " (best)"
                } else {
                    sinceBest += 1
                    stopNow = stopNow || sinceBest >= options.patience
                }
            }
            progress?(.message(line))
            if stopNow { break }
        }
        if let best { try network.loadStateDict(best.state) }
        network.setTraining(false)
        network.setScoringPrecision(scoringPrecision)
    }

    /// Each example's scenario in the network: its event's (``LabeledPairs/scenarios``) as a
    /// request's would be, else the user's (from the attribute); what serving does with
    /// ``UserState/scenario``.
    static func scenarios(of pairs: LabeledPairs, dataset: Dataset, network: Network, userScenarios: [Int32])
        -> [Int32]
    {
        (0..<pairs.count).map { k in
            let user = Int(pairs.users[k])
            guard let name = dataset.scenarioName(pairs.scenarios[k]) else { return userScenarios[user] }
            return network.scenario(features: dataset.userInfo[user]?.attributes ?? [:], requested: name)
        }
    }

    static func labelMode(_ options: FeatureTrainingOptions, _ dataset: Dataset) -> LabelSource {
        switch options.labels {
        case .ratings, .implicit: return options.labels
        case .auto:
            let hasNegatives = dataset.log.values.contains { !$0.isNaN && Double($0) < options.positiveAt }
            return hasNegatives ? .ratings : .implicit
        }
    }

    /// Every (user, item) event as a positive.
    static func positives(_ dataset: Dataset) -> LabeledPairs {
        var out = LabeledPairs()
        let log = dataset.log
        for k in 0..<log.count {
            out.append(
                user: log.users[k], item: log.items[k], label: 1, timestamp: log.timestamps[k],
                scenario: log.scenarios[k])
        }
        return out
    }

    /// The positives, each followed by `negatives` items the user never had (seeded): uniformly
    /// drawn, or with probability `candidates.share` drawn from what the retriever proposed to
    /// the user after the training events before the positive's time.
    static func withNegatives(
        _ positives: LabeledPairs, _ dataset: Dataset, _ negatives: Int, seed: UInt64,
        candidates: (lists: RetrievedCandidates, share: Double)? = nil
    ) -> LabeledPairs {
        var out = LabeledPairs()
        var generator = SplitMix64(seed: seed ^ 0x5EED_CAFE)
        let histories = (0..<dataset.userCount).map { Set(dataset.sequences.items(of: $0)) }
        let n = dataset.itemCount
        for k in 0..<positives.count {
            let user = positives.users[k], time = positives.timestamps[k], scenario = positives.scenarios[k]
            out.append(user: user, item: positives.items[k], label: 1, timestamp: time, scenario: scenario)
            let seen = histories[Int(user)]
            guard seen.count < n else { continue }
            let pool =
                candidates.map { $0.lists.items(user: user, after: Self.historyEnd(dataset, user: user, before: time)) }
                ?? []
            for _ in 0..<negatives {
                if let j = Self.draw(from: pool, share: candidates?.share ?? 0, &generator), !seen.contains(j) {
                    out.append(user: user, item: j, label: 0, timestamp: time, scenario: scenario)
                    continue
                }
                var j = Int32(generator.nextInt(below: n))
                while seen.contains(j) { j = Int32(generator.nextInt(below: n)) }
                out.append(user: user, item: j, label: 0, timestamp: time, scenario: scenario)
            }
        }
        return out
    }

    /// `pairs` with each negative replaced, with probability `share`, by an item of the user's
    /// latest pool (from the whole training history: held-out pairs come after it) that is none
    /// of the user's positives in `pairs` (the pools hold no training items).
    static func replacingNegatives(_ pairs: LabeledPairs, pools: RetrievedCandidates, share: Double, seed: UInt64)
        -> LabeledPairs
    {
        var out = pairs
        var generator = SplitMix64(seed: seed ^ 0xCA9D_1DA7)
        var positives: [Int32: Set<Int32>] = [:]
        for k in 0..<pairs.count where pairs.labels[k] > 0 {
            positives[pairs.users[k], default: []].insert(pairs.items[k])
        }
        for k in 0..<pairs.count where pairs.labels[k] == 0 {
            guard let j = draw(from: pools.latest(user: pairs.users[k]), share: share, &generator) else { continue }
            if positives[pairs.users[k]]?.contains(j) != true { out.items[k] = j }
        }
        return out
    }

    /// With probability `share`, an item of `pool`; nil otherwise. Draws nothing from the
    /// generator for an empty pool or a share of 0, so runs without candidates repeat exactly.
    static func draw(from pool: [Int32], share: Double, _ generator: inout SplitMix64) -> Int32? {
        guard !pool.isEmpty, share > 0, generator.nextDouble() < share else { return nil }
        return pool[generator.nextInt(below: pool.count)]
    }

    /// How many of the user's items (in time order) happened before `time`.
    static func historyEnd(_ dataset: Dataset, user: Int32, before time: Int64) -> Int {
        let times = dataset.sequences.timestamps(of: Int(user))
        return times.partitioningIndex { $0 >= time } - times.startIndex
    }

    /// The rows of the pairs (`users[k]`, `items[k]`) — or of `userRows[0]` with every item when
    /// `userRows` holds one user — with each example's recent items from `histories[k]` (the
    /// last `historyLength` of them), or one history for every example, and each example's
    /// scenario (or one for every example).
    static func batch(
        _ users: [Int32], _ items: [Int32], histories: [ArraySlice<Int32>]?, userRows: [[Int32]],
        scenarios: [Int32], encoder: FeatureSpace.Encoder, historyLength: Int
    ) -> FeatureBatch {
        let space = encoder.space
        let size = items.count, itemFields = space.itemFields.count, width = space.categoryWidth
        var single: [Int32] = []
        single.reserveCapacity(size * (itemFields + (userRows.first?.count ?? 0)))
        var categories: [Int32] = []
        var scale: [Float] = []
        if width > 0 {
            categories.reserveCapacity(size * width)
            scale.reserveCapacity(size)
        }
        // Element by element from the buffers: appending slices cost a retain and a release each.
        encoder.itemRows.withUnsafeBufferPointer { itemRows in
            encoder.categoryRows.withUnsafeBufferPointer { categoryRows in
                let sharedUserRow = userRows.count == 1 ? userRows[0] : nil
                for k in 0..<size {
                    single += sharedUserRow ?? userRows[Int(users[k])]
                    let i = Int(items[k])
                    for j in (i * itemFields)..<((i + 1) * itemFields) { single.append(itemRows[j]) }
                    if width > 0 {
                        for j in (i * width)..<((i + 1) * width) { categories.append(categoryRows[j]) }
                        scale.append(1 / encoder.categoryCounts[i])
                    }
                }
            }
        }
        var history: [Int32] = []
        let length = Network.readsHistory ? historyLength : 0
        if length > 0, let histories {
            history.reserveCapacity(size * length)
            func appendPadded(_ items: ArraySlice<Int32>, to row: inout [Int32]) {
                let recent = items.suffix(length)
                row += repeatElement(-1, count: length - recent.count)
                row += recent
            }
            if histories.count == 1 {
                // One user's history (a served request: 200 candidates) is padded once, then copied.
                var shared: [Int32] = []
                appendPadded(histories[0], to: &shared)
                for _ in 0..<size { history += shared }
            } else {
                for k in 0..<size { appendPadded(histories[k], to: &history) }
            }
        }
        return FeatureBatch(
            size: size, singleRows: single, categoryRows: categories,
            categoryScale: Tensor(shape: [size, 1], scalars: width > 0 ? scale : Array(repeating: 1, count: size)),
            items: items, history: history, historyLength: length,
            scenarios: scenarios.count == size ? scenarios : Array(repeating: scenarios.first ?? 0, count: size))
    }

    /// The user's items in `dataset` before `time`.
    static func history(_ dataset: Dataset, user: Int32, before time: Int64) -> ArraySlice<Int32> {
        let all = dataset.sequences.items(of: Int(user))
        return all.prefix(historyEnd(dataset, user: user, before: time))
    }

    /// Validation AUC over `pairs`, each scored with the user's history before the pair's time
    /// and its scenario in `scenarios`.
    func auc(_ pairs: LabeledPairs, dataset: Dataset, userRows: [[Int32]], scenarios: [Int32]) -> Double? {
        guard let network, let encoder else { return nil }
        network.setTraining(false)
        defer { network.setTraining(true) }
        var scores: [Float] = []
        scores.reserveCapacity(pairs.count)
        withNoGrad {
            var start = 0
            while start < pairs.count {
                let end = min(start + 4096, pairs.count)
                let batch = Self.batch(
                    Array(pairs.users[start..<end]), Array(pairs.items[start..<end]),
                    histories: Network.readsHistory
                        ? (start..<end).map {
                            Self.history(dataset, user: pairs.users[$0], before: pairs.timestamps[$0])
                        }
                        : nil,
                    userRows: userRows, scenarios: Array(scenarios[start..<end]),
                    encoder: encoder, historyLength: options.history)
                scores += network.logits(batch, encoder: encoder).value.scalars
                start = end
            }
        }
        return BinaryClassification.auc(scores: scores, labels: pairs.labels)
    }

    // MARK: Scoring

    public func logits(_ state: UserState, items: [Int32]) -> [Float] {
        logits(states: [state], items: items)
    }

    /// Logits of pairs (`states[k]`, `items[k]`), or of `states[0]` with every item.
    public func logits(states: [UserState], items: [Int32]) -> [Float] {
        guard let network, let encoder, !states.isEmpty else { return Array(repeating: 0, count: items.count) }
        precondition(states.count == 1 || states.count == items.count, "\(name): one state, or one per item")
        let rows = states.map { encoder.userRows(user: $0.user, features: $0.features) }
        let scenarios = states.map { network.scenario(features: $0.features, requested: $0.scenario) }
        var out: [Float] = []
        out.reserveCapacity(items.count)
        withNoGrad {
            var start = 0
            while start < items.count {
                let end = min(start + 1024, items.count)
                let one = states.count == 1
                let batch = Self.batch(
                    one ? [] : (start..<end).map { Int32($0 - start) }, Array(items[start..<end]),
                    histories: one ? [states[0].items[...]] : states[start..<end].map { $0.items[...] },
                    userRows: one ? rows : Array(rows[start..<end]),
                    scenarios: one ? scenarios : Array(scenarios[start..<end]), encoder: encoder,
                    historyLength: options.history)
                if one, let fast = network.oneUserLogits(batch, encoder: encoder) {
                    out += fast
                } else {
                    out += network.logits(batch, encoder: encoder).value.scalars
                }
                start = end
            }
        }
        return out
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= itemCount, "\(name): score buffer of \(scores.count) for \(itemCount) items")
        let all = logits(state, items: (0..<Int32(itemCount)).map { $0 })
        for (i, value) in all.enumerated() { scores[i] = value }
    }

    // MARK: Saving

    /// What a saved ranker needs besides its weights: the fields and each item's rows.
    struct SavedFeatures: Codable {
        var space: FeatureSpace
        var itemRows: [Int32]
        var categoryRows: [Int32]
        var categoryCounts: [Float]
    }

    static var featuresFile: String { "features.json" }

    public func save(to directory: URL) throws {
        guard let network, let encoder else { throw ModelError.notFitted(name) }
        try ModelArtifact.write(
            manifest: ModelManifest(model: name, config: config.values, userCount: userCount, itemCount: itemCount),
            tensors: network.stateDict(), to: directory)
        let saved = SavedFeatures(
            space: encoder.space, itemRows: encoder.itemRows, categoryRows: encoder.categoryRows,
            categoryCounts: encoder.categoryCounts)
        try JSONEncoder().encode(saved).write(to: directory.appendingPathComponent(Self.featuresFile), options: .atomic)
    }

    public static func load(from directory: URL) throws -> FeatureRanker {
        let (manifest, file) = try ModelArtifact.read(from: directory, expecting: Network.modelName)
        let model = try FeatureRanker(config: manifest.config(Network.Config.self))
        let url = directory.appendingPathComponent(featuresFile)
        guard let data = try? Data(contentsOf: url),
            let saved = try? JSONDecoder().decode(SavedFeatures.self, from: data)
        else { throw ModelError.incompatibleArtifact("\(url.path) is missing or not a saved feature space") }
        let encoder = FeatureSpace.Encoder(
            space: saved.space, itemRows: saved.itemRows, categoryRows: saved.categoryRows,
            categoryCounts: saved.categoryCounts)
        guard encoder.itemCount == manifest.itemCount else {
            throw ModelError.incompatibleArtifact(
                "\(url.path) describes \(encoder.itemCount) items, not \(manifest.itemCount)")
        }
        var generator = SeededGenerator(seed: 0)
        let network = Network(config: model.config, space: saved.space, generator: &generator)
        var state: [String: Tensor] = [:]
        for key in network.stateDict().keys { state[key] = try file.tensor(key) }
        try network.loadStateDict(state)
        network.setTraining(false)
        model.network = network
        model.encoder = encoder
        model.itemCount = manifest.itemCount
        model.userCount = manifest.userCount
        return model
    }
}

/// A feature ranker scores at a precision through its network (``FeatureNetwork/setScoringPrecision(_:)``);
/// networks with nothing to quantise keep ``hasInt8Scoring`` false.
extension FeatureRanker: PrecisionSwitching {
    public var hasInt8Scoring: Bool { network?.hasInt8Scoring ?? false }
    public func setScoringPrecision(_ precision: ScoringPrecision) {
        scoringPrecision = precision
        network?.setScoringPrecision(precision)
    }
    /// The field-embedding table scoring reads (items' and users' fields), float at either
    /// precision: int8 reaches only layers.
    public var scoringTableBytes: Int { (network?.embeddings.vectors.weight.value.count ?? 0) * 4 }
}
