import Foundation
import SwiftRecData
import SwiftRecTensor
import Synchronization

/// One report from a model in training.
public enum TrainingUpdate: Sendable {
    /// A line for the log (an epoch's summary, a note).
    case message(String)
    /// Where an epoch stands, sent after every optimiser step.
    case step(TrainingStatus)
    /// An epoch's result, sent when it ends (with its validation score when it was validated).
    case epoch(EpochSummary)
}

/// What an epoch ended with.
public struct EpochSummary: Sendable {
    public var model: String
    public var epoch: Int
    public var loss: Double
    public var seconds: Double
    /// Validation NDCG@10, when this epoch was validated.
    public var validationNDCG: Double?
}

/// Where a training epoch stands.
public struct TrainingStatus: Sendable {
    public var model: String
    /// 1-based epoch and its planned maximum.
    public var epoch: Int, epochs: Int
    /// 1-based step within the epoch and the steps in it.
    public var step: Int, steps: Int
    /// Mean training loss of the epoch so far.
    public var loss: Double
    /// Training target items per second in this epoch.
    public var itemsPerSecond: Double
    /// Seconds since the epoch started.
    public var epochElapsed: Double
    /// Seconds left before the wall-clock budget ends training, if one was set.
    public var budgetLeft: Double?
}

/// Receives training progress as it happens.
public typealias TrainingProgress = @Sendable (TrainingUpdate) -> Void

/// Settings every sequence model trains with.
public struct SequenceTrainingOptions: ModelConfig {
    /// The most epochs to run.
    public var epochs = 200
    public var batchSize = 128
    public var learningRate: Float = 1e-3
    /// Decoupled weight decay (AdamW); 0 gives Adam.
    public var weightDecay: Float = 0
    /// Validation rounds without a better NDCG@10 before training stops.
    public var patience = 5
    /// Stop once this many seconds of training have passed (checked after each step).
    public var timeBudget: Double?
    /// Validate after every this many epochs.
    public var validateEvery = 1
    /// Batch users of similar history length (sorted within groups of 32 shuffled batches,
    /// batches then shuffled) so less of each batch is padding.
    public var lengthBuckets = false
    public var seed: UInt64 = 1

    public init() {}

    public static let options: [ConfigOption<Self>] = [
        .value("epochs", \.epochs, in: 0...10_000, "The most epochs to run."),
        .value("batch", \.batchSize, in: 1...65_536, "Sequences per batch."),
        .value("lr", \.learningRate, in: 1e-7...10, "Adam(W) learning rate."),
        .value("weight-decay", \.weightDecay, in: 0...10, "Decoupled weight decay (0: Adam)."),
        .value("patience", \.patience, in: 0...1000, "Validation rounds without a better NDCG@10 before stopping."),
        .value(
            "time-budget", \.timeBudget, in: 1e-3...1e7, "Stop after this many seconds of training (none: no limit)."),
        .value("validate-every", \.validateEvery, in: 1...1000, "Validate after every this many epochs."),
        .checked("length-buckets", \.lengthBuckets, range: "true or false", "Batch users of similar history length."),
        .value("seed", \.seed, in: 0...UInt64.max, "Random seed."),
    ]

    public func validate() throws { try check() }

    func check() throws {
        try ParameterCheck.nonNegative(epochs, "epochs")
        try ParameterCheck.positive(batchSize, "batch")
        try ParameterCheck.positive(learningRate, "lr")
        try ParameterCheck.nonNegative(weightDecay, "weight-decay")
        try ParameterCheck.nonNegative(patience, "patience")
        try ParameterCheck.positive(validateEvery, "validate-every")
        if let timeBudget, !(timeBudget > 0 && timeBudget.isFinite) {
            throw ModelError.invalidParameter(name: "time-budget", reason: "must be a positive number of seconds")
        }
    }
}

/// A network that learns what comes next in item sequences. Items are indices 0..<itemCount.
protocol SequenceNetwork: Layer {
    /// The longest history the network reads; older items are dropped.
    var maxLength: Int { get }

    /// How many of a user's newest items one training example holds.
    var trainingWindow: Int { get }

    /// The mean loss of one batch of training windows (oldest item first) and the number of
    /// target items it was computed over.
    func loss(_ windows: [ArraySlice<Int32>]) -> (loss: Variable, targets: Int)

    /// Next-item scores after each history into rows of `scores` ([histories.count, itemCount]).
    func scores(after histories: [ArraySlice<Int32>], into scores: UnsafeMutableBufferPointer<Float>)

    /// The input rows (embedding rows, left-padded) the network reads for `history` when
    /// explaining, their length, and how many trailing positions are not history items.
    func explanationRows(_ history: ArraySlice<Int32>) -> (rows: [Int32], length: Int, trailing: Int)

    /// Hidden states [batch·length, dim] from item vectors of `rows`.
    func hidden(itemVectors: Variable, rows: [Int32], batch: Int, length: Int) -> Variable

    /// For each of `items`, each history item's part in its score from one forward pass, or nil
    /// when the network has no such shortcut (then explanations use gradient × input).
    func attentionAttributions(of items: [Int32], after history: ArraySlice<Int32>) -> [[Float]]?

    /// The input embedding; row 0 is padding, row i + 1 is item i.
    var itemEmbedding: Embedding { get }
    /// The output layer's weights, one row per item, as a differentiable view.
    var catalogue: Variable { get }
    /// The output layer's weights without copying: a table and the offset of item 0's row.
    var outputTable: (table: Tensor, offset: Int) { get }
    var itemCount: Int { get }
    /// An int8 copy of the output layer's item rows that scoring uses when set.
    var quantizedOutput: QuantizedMatrix? { get set }
}

extension SequenceNetwork {
    func attentionAttributions(of items: [Int32], after history: ArraySlice<Int32>) -> [[Float]]? { nil }

    /// The tied default: item rows of the input embedding.
    var outputTable: (table: Tensor, offset: Int) { (itemEmbedding.weight.value, itemEmbedding.weight.shape[1]) }

    /// Item vectors for embedding rows, [batch, length, dim].
    func embed(_ rows: [Int32], batch: Int, length: Int) -> Variable { itemEmbedding(rows, shape: [batch, length]) }

    /// Writes every item's score for the last position of each of `count` sequences of
    /// `length` rows in `hidden` ([count·length, dim]) into `scores`.
    func scoreLastPositions(_ hidden: Tensor, count: Int, length: Int, into scores: UnsafeMutableBufferPointer<Float>) {
        let dim = hidden.shape[1]
        if let quantizedOutput, !GradMode.isEnabled {
            hidden.withUnsafeBufferPointer { h in
                quantizedOutput.multiply(
                    h.baseAddress! + (length - 1) * dim, count: count, xStride: length * dim, into: scores.baseAddress!,
                    outStride: itemCount)
            }
            return
        }
        let (table, offset) = outputTable
        hidden.withUnsafeBufferPointer { h in
            table.withUnsafeBufferPointer { w in
                // Sequence r's last position is row r·length + length − 1: a strided view of `hidden`.
                GEMM.multiply(
                    transA: false, transB: true, m: count, n: itemCount, k: dim, a: h.baseAddress! + (length - 1) * dim,
                    lda: length * dim, b: w.baseAddress! + offset, ldb: dim, c: scores.baseAddress!, ldc: itemCount)
            }
        }
    }

    /// Switches inference to `precision`: int8 copies of the output layer's item rows and of
    /// every linear layer, or back to the float weights. Explanations by gradient keep floats.
    func setPrecision(_ precision: ScoringPrecision) {
        // The output table first: a content-aware network computes and caches it from its
        // float adaptor here, before the adaptor itself is quantised.
        let (table, offset) = outputTable
        setLinearPrecision(precision)
        quantizedOutput =
            precision == .int8
            ? QuantizedMatrix(rows: itemCount, columns: table.shape[1], values: table.scalars, offset: offset) : nil
    }

    /// For each of `items`, how much each item of `history` (oldest first) adds to its score:
    /// gradient × input, from one forward and one backward pass over a batch holding the
    /// history once per explained item (the rows do not interact).
    func attributions(of items: [Int32], after history: ArraySlice<Int32>) -> [[Float]] {
        guard !history.isEmpty, !items.isEmpty else { return items.map { _ in [] } }
        // Frozen parameters: no weight gradients are computed or stored, so concurrent
        // explanations can share the model.
        return withFrozenParameters { inputAttributions(of: items, after: history) }
    }

    private func inputAttributions(of items: [Int32], after history: ArraySlice<Int32>) -> [[Float]] {
        let (one, length, trailing) = explanationRows(history)
        let batch = items.count
        let rows = Array([[Int32]](repeating: one, count: batch).joined())
        let vectors = Variable(embed(rows, batch: batch, length: length).value, requiresGrad: true)
        let h = hidden(itemVectors: vectors, rows: rows, batch: batch, length: length)
        let last = h.embeddingLookup((0..<batch).map { Int32($0 * length + length - 1) })
        let weights = catalogue.value
        let dim = weights.shape[1]
        var targets = Tensor.zeros([batch, dim])
        targets.withUnsafeMutableBufferPointer { t in
            weights.withUnsafeBufferPointer { w in
                for (r, item) in items.enumerated() {
                    for j in 0..<dim { t[r * dim + j] = w[Int(item) * dim + j] }
                }
            }
        }
        (last * Variable(targets)).sum().backward()
        guard let grad = vectors.grad else { return items.map { _ in [] } }
        let g = grad.scalars, x = vectors.value.scalars
        return (0..<batch).map { r in
            (0..<(length - trailing)).map { k in
                let base = (r * length + k) * dim
                return (0..<dim).reduce(0) { $0 + g[base + $1] * x[base + $1] }
            }
        }
    }
}

/// One history item's part in a recommendation.
public struct Attribution: Sendable, Equatable, Codable {
    /// The history item (an item index).
    public var item: Int32
    /// Its position in the history the model read, 0 = oldest.
    public var position: Int
    /// Its share of the explanation; the weights of one explanation sum to 1 in absolute value.
    public var weight: Float
}

extension Attribution {
    /// The `parts` that raised the score (positive weight), strongest first (ties by item), at
    /// most `top`, each weight divided by the sum of all parts' magnitudes; positions are each
    /// item's in `newest`. Empty when every part is zero.
    static func shares(_ parts: [(item: Int32, weight: Float)], newest: [Int32: Int], top: Int) -> [Attribution] {
        let total = parts.reduce(Float(0)) { $0 + abs($1.weight) }
        guard total > 0 else { return [] }
        return parts.filter { $0.weight > 0 }
            .sorted { ($0.weight, $1.item) > ($1.weight, $0.item) }
            .prefix(top)
            .map { Attribution(item: $0.item, position: newest[$0.item] ?? 0, weight: $0.weight / total) }
    }
}

/// How a model attributes a recommendation to history items.
public enum ExplanationMethod: String, Sendable, Codable, CaseIterable {
    /// The model's one-pass shortcut where it has one (SASRec: its last block's attention ×
    /// value vectors), else gradient × input. Cheap enough for every request.
    case attention
    /// Gradient × input through the whole network: one forward and one backward pass.
    case gradient
}

/// A model that can say which history items drove a recommendation.
public protocol Explaining {
    /// The history items of `state` that most raised the score of `item`, strongest first.
    func explain(_ item: Int32, for state: UserState, top: Int) -> [Attribution]

    /// ``explain(_:for:top:)`` for several items at once (models may share the work).
    func explain(_ items: [Int32], for state: UserState, top: Int) -> [[Attribution]]

    /// Several items' explanations by `method` (models without that method use their own).
    func explain(_ items: [Int32], for state: UserState, top: Int, method: ExplanationMethod) -> [[Attribution]]
}

extension Explaining {
    public func explain(_ items: [Int32], for state: UserState, top: Int) -> [[Attribution]] {
        items.map { explain($0, for: state, top: top) }
    }

    public func explain(
        _ items: [Int32], for state: UserState, top: Int, method: ExplanationMethod
    ) -> [[Attribution]] {
        explain(items, for: state, top: top)
    }
}

/// The training loop the sequence models share: shuffled batches of each user's newest
/// items, Adam, validation NDCG@10 each round, early stopping with the best weights kept,
/// an optional wall-clock budget.
enum SequenceTrainer {
    struct Outcome {
        var epochSeconds: [Double] = []
        var validationNDCG: [Double] = []
        var bestEpoch = 0
        var stoppedBy = "epochs"

        /// What a saved model's manifest records about its training.
        var metrics: [String: Double] {
            var m = [
                "epochs": Double(epochSeconds.count), "epoch_seconds_total": epochSeconds.reduce(0, +),
                "best_epoch": Double(bestEpoch),
            ]
            if let best = validationNDCG.max() { m["valid_NDCG@10"] = best }
            return m
        }
    }

    static func fit(
        _ network: some SequenceNetwork, model: String, itemCount: Int, dataset: Dataset, validation: HeldOut?,
        options: SequenceTrainingOptions, progress: TrainingProgress?, stop: TrainingStop? = nil
    ) -> Outcome {
        var outcome = Outcome()
        let optimizer = Adam(
            parameters: network.parameters.filter(\.requiresGrad), learningRate: options.learningRate,
            weightDecay: options.weightDecay,
            decoupledWeightDecay: true)
        let window = network.trainingWindow
        let users = (0..<dataset.userCount).filter { dataset.sequences.items(of: $0).count >= 2 }
        var order = users
        var shuffle = SeededGenerator(seed: options.seed ^ 0x5EED_5EED)
        var stopping = EarlyStopping<[String: Tensor]>(patience: options.patience)
        let start = ProcessClock.now()
        let steps = (order.count + options.batchSize - 1) / options.batchSize
        let validating = validation.map { !$0.isEmpty } ?? false
        epochs: for epoch in 1...max(options.epochs, 1) where options.epochs > 0 {
            let epochStart = ProcessClock.now()
            network.setTraining(true)
            order.shuffle(using: &shuffle)
            var batches = stride(from: 0, to: order.count, by: options.batchSize).map {
                Array(order[$0..<min(order.count, $0 + options.batchSize)])
            }
            if options.lengthBuckets {
                let group = 32 * options.batchSize
                var regrouped: [[Int]] = []
                for start in stride(from: 0, to: order.count, by: group) {
                    let users = order[start..<min(order.count, start + group)].sorted {
                        dataset.sequences.items(of: $0).count < dataset.sequences.items(of: $1).count
                    }
                    for b in stride(from: 0, to: users.count, by: options.batchSize) {
                        regrouped.append(Array(users[b..<min(users.count, b + options.batchSize)]))
                    }
                }
                batches = regrouped
                batches.shuffle(using: &shuffle)
            }
            var lossSum = 0.0, targetSum = 0
            var outOfTime = false, stopRequested = false
            for (step, batch) in batches.enumerated() {
                let windows = batch.map { dataset.sequences.items(of: $0).suffix(window) }
                optimizer.zeroGrad()
                let (loss, targets) = network.loss(windows)
                loss.backward()
                optimizer.step()
                lossSum += Double(loss.value.scalar) * Double(targets)
                targetSum += targets
                let now = ProcessClock.now()
                let budgetLeft = options.timeBudget.map { $0 - (now - start) }
                progress?(
                    .step(
                        TrainingStatus(
                            model: model, epoch: epoch, epochs: options.epochs, step: step + 1, steps: steps,
                            loss: lossSum / Double(max(targetSum, 1)),
                            itemsPerSecond: Double(targetSum) / max(now - epochStart, 1e-9),
                            epochElapsed: now - epochStart, budgetLeft: budgetLeft)))
                if let budgetLeft, budgetLeft <= 0 {
                    outOfTime = true
                    break
                }
                if stop?.isRequested == true {
                    stopRequested = true
                    break
                }
            }
            outcome.epochSeconds.append(ProcessClock.now() - epochStart)
            let epochLoss = lossSum / Double(max(targetSum, 1))
            var validated: Double?, isBest = false
            if validating, let validation, epoch % options.validateEvery == 0 || outOfTime || stopRequested {
                network.setTraining(false)
                let ndcg = validationNDCG(network, itemCount: itemCount, dataset: dataset, heldOut: validation)
                validated = ndcg
                outcome.validationNDCG.append(ndcg)
                isBest = stopping.record(ndcg, epoch: epoch) { network.stateDict() }
            }
            EarlyStopping<[String: Tensor]>.reportEpoch(
                progress, model: model, epoch: epoch, loss: epochLoss, seconds: outcome.epochSeconds.last!,
                validated: validated, isBest: isBest)
            if outOfTime || stopRequested {
                outcome.stoppedBy = stopRequested ? "a stop request" : "time budget"
                break epochs
            }
            if validating && stopping.shouldStop {
                outcome.stoppedBy = "early stopping"
                break epochs
            }
        }
        outcome.bestEpoch = stopping.bestEpoch
        if let bestState = stopping.bestWeights {
            try? network.loadStateDict(bestState)
            progress?(
                .message(
                    String(
                        format: "%@: stopped by %@; keeping epoch %d (valid NDCG@10 %.4f)", model, outcome.stoppedBy,
                        outcome.bestEpoch, stopping.best)))
        }
        network.setTraining(false)
        return outcome
    }

    /// NDCG@10 of the held-out items scored after each user's history in `dataset`, history
    /// excluded and ties counted against the target (the evaluator's protocol).
    static func validationNDCG(
        _ network: some SequenceNetwork, itemCount n: Int, dataset: Dataset, heldOut: HeldOut
    ) -> Double {
        let chunk = 256
        var scores = [Float](repeating: 0, count: chunk * n)
        var total = 0.0, cases = 0
        var seen = [Bool](repeating: false, count: n)
        for first in stride(from: 0, to: heldOut.users.count, by: chunk) {
            let users = heldOut.users[first..<min(heldOut.users.count, first + chunk)]
            let histories = users.map { dataset.sequences.items(of: Int($0)).suffix(network.maxLength) }
            scores.withUnsafeMutableBufferPointer { network.scores(after: histories, into: $0) }
            scores.withUnsafeBufferPointer { all in
                seen.withUnsafeMutableBufferPointer { seen in
                    for (row, u) in users.enumerated() {
                        let history = dataset.sequences.items(of: Int(u))
                        for item in history { seen[Int(item)] = true }
                        let rowScores = UnsafeBufferPointer(rebasing: all[(row * n)..<((row + 1) * n)])
                        for target in heldOut.items[first + row] {
                            let rank = RankingOutcome.rank(
                                of: Int(target), scores: rowScores, excluded: UnsafeBufferPointer(seen), limit: 10)
                            total += RankingOutcome.ndcg(rank: rank, k: 10)
                            cases += 1
                        }
                        for item in history { seen[Int(item)] = false }
                    }
                }
            }
        }
        return total / Double(max(cases, 1))
    }

    /// The items of `state` a network can read: known indices only, the newest `maxLength`.
    static func history(of state: UserState, itemCount: Int, maxLength: Int) -> ArraySlice<Int32> {
        state.items.filter { $0 >= 0 && Int($0) < itemCount }.suffix(maxLength)
    }

    /// Gradient × input attributions turned into the strongest `top` explanation entries.
    static func explanation(_ raw: [Float], history: ArraySlice<Int32>, top: Int) -> [Attribution] {
        let total = raw.reduce(0) { $0 + abs($1) }
        guard total > 0 else { return [] }
        return zip(raw.indices, raw)
            .map { Attribution(item: history[history.startIndex + $0.0], position: $0.0, weight: $0.1 / total) }
            .sorted { $0.weight > $1.weight }
            .prefix(top).filter { $0.weight > 0 }
    }
}

/// Monotonic seconds.
enum ProcessClock {
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

/// What a sequence model's core does for ``SequenceRecommender``.
protocol SequenceCore: AnyObject {
    var name: String { get }
    var itemCount: Int { get }
    var epochSeconds: [Double] { get }
    var validationNDCG: [Double] { get }
    func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?, stop: TrainingStop) throws
    func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>)
    func explain(_ items: [Int32], for state: UserState, top: Int, method: ExplanationMethod) -> [[Attribution]]
    func save(to directory: URL) throws
    var itemVectors: Tensor? { get }
    var scoringPrecision: ScoringPrecision { get }
    func setScoringPrecision(_ precision: ScoringPrecision)
    /// Bytes of the table the model scores items with (int8 or float).
    var scoringTableBytes: Int { get }
}

/// A network with its training settings and what training left: fits with the shared loop,
/// scores states, explains, saves and loads.
final class SequenceModelCore<Network: SequenceNetwork>: SequenceCore {
    let name: String
    /// The newest items a state contributes.
    let historyLength: Int
    let options: SequenceTrainingOptions
    private let makeNetwork: (Int) -> Network
    /// Gives a new network what it needs from the training data beyond the sequences.
    private let prepare: ((Network, Dataset, TrainingProgress?) throws -> Void)?
    /// The model's config as its manifest saves it.
    private let config: [String: JSONValue]
    var network: Network?
    var itemCount = 0
    var epochSeconds: [Double] = []
    var validationNDCG: [Double] = []
    private var itemFingerprint = ""
    private var trainingMetrics: [String: Double] = [:]
    private(set) var scoringPrecision: ScoringPrecision

    init(
        name: String, historyLength: Int, config: [String: JSONValue], options: SequenceTrainingOptions,
        precision: ScoringPrecision = .float,
        prepare: ((Network, Dataset, TrainingProgress?) throws -> Void)? = nil,
        makeNetwork: @escaping (Int) -> Network
    ) {
        self.scoringPrecision = precision
        self.name = name
        self.historyLength = historyLength
        self.options = options
        self.makeNetwork = makeNetwork
        self.prepare = prepare
        self.config = config
    }

    func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?, stop: TrainingStop) throws {
        itemCount = dataset.itemCount
        itemFingerprint = dataset.items.fingerprint
        let network = makeNetwork(itemCount)
        try prepare?(network, dataset, progress)
        self.network = network
        let trainable = network.parameters.filter(\.requiresGrad)
        progress?(.message("\(name): \(trainable.reduce(0) { $0 + $1.value.count }) parameters"))
        let outcome = SequenceTrainer.fit(
            network, model: name, itemCount: itemCount, dataset: dataset, validation: validation, options: options,
            progress: progress, stop: stop)
        epochSeconds = outcome.epochSeconds
        validationNDCG = outcome.validationNDCG
        trainingMetrics = outcome.metrics
        if scoringPrecision != .float { network.setPrecision(scoringPrecision) }
    }

    func setScoringPrecision(_ precision: ScoringPrecision) {
        scoringPrecision = precision
        network?.setPrecision(precision)
    }

    var scoringTableBytes: Int {
        guard let network else { return 0 }
        return network.quantizedOutput?.bytes ?? itemCount * network.outputTable.table.shape[1] * 4
    }

    func history(_ state: UserState) -> ArraySlice<Int32> {
        SequenceTrainer.history(of: state, itemCount: itemCount, maxLength: historyLength)
    }

    func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        guard let network else { preconditionFailure("\(name): score before fit or load") }
        precondition(scores.count >= states.count * itemCount, "\(name): scoreBatch buffer too small")
        let histories = states.map(history)
        // A large batch is scored a few users at a time, each thread taking its own groups on one
        // thread: one forward pass over hundreds of users × hundreds of positions streams its
        // activations through main memory, which then bounds the time more than arithmetic does;
        // four users' activations stay in a core's cache. On one thread too: 256 SASRec users
        // took 95 ms in one pass and 80 ms in groups (54 ms against 80 at int8).
        let threads = Threading.threadCount, group = Self.scoringGroup
        guard histories.count >= 2 * group else {
            network.scores(after: histories, into: scores)
            return
        }
        // Groups are made of users with similar history lengths (a group pads to its longest,
        // and padded positions are work thrown away) and handed out longest first to whichever
        // thread is free, so the threads finish together. Padded keys weigh exactly 0, so a user
        // with events scores as alone (up to the rounding of the row count's GEMM kernel); users
        // without events have only padded keys, so they form groups of their own, of length 1
        // as when scored alone.
        let order = histories.indices.sorted { (histories[$0].count, $0) > (histories[$1].count, $1) }
        let withEvents = order.prefix { !histories[$0].isEmpty }
        let groupsOfUsers =
            stride(from: 0, to: withEvents.count, by: group).map { Array(withEvents.dropFirst($0).prefix(group)) }
            + stride(from: withEvents.count, to: order.count, by: group).map {
                Array(order[$0..<min(order.count, $0 + group)])
            }
        let groups = groupsOfUsers.count, items = itemCount
        nonisolated(unsafe) let scores = scores
        // Scoring reads the weights only (its caches sit behind mutexes), as concurrent requests
        // of the server already do.
        nonisolated(unsafe) let shared = network
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: min(threads, groups)) { _ in
            Threading.withThreadCount(1) {
                var rows = [Float](repeating: 0, count: group * items)
                while case let g = next.add(1, ordering: .relaxed).oldValue, g < groups {
                    let users = groupsOfUsers[g]
                    rows.withUnsafeMutableBufferPointer { buffer in
                        shared.scores(after: users.map { histories[$0] }, into: buffer)
                        for (k, user) in users.enumerated() {
                            _ = UnsafeMutableBufferPointer(rebasing: scores[(user * items)..<((user + 1) * items)])
                                .update(fromContentsOf: buffer[(k * items)..<((k + 1) * items)])
                        }
                    }
                }
            }
        }
    }

    /// Users per forward pass when a large batch is scored in groups.
    static var scoringGroup: Int { 4 }

    func explain(_ items: [Int32], for state: UserState, top: Int, method: ExplanationMethod) -> [[Attribution]] {
        guard let network else { return items.map { _ in [] } }
        let history = history(state)
        let valid = items.filter { $0 >= 0 && Int($0) < itemCount }
        let fast = method == .attention ? network.attentionAttributions(of: valid, after: history) : nil
        let raw = fast ?? network.attributions(of: valid, after: history)
        var byItem: [Int32: [Attribution]] = [:]
        for (item, weights) in zip(valid, raw) {
            byItem[item] = SequenceTrainer.explanation(weights, history: history, top: top)
        }
        return items.map { byItem[$0] ?? [] }
    }

    /// The output layer's rows, [itemCount, dim].
    var itemVectors: Tensor? {
        guard let network else { return nil }
        let (table, offset) = network.outputTable
        let dim = table.shape[1]
        return Tensor(shape: [itemCount, dim], scalars: Array(table.scalars[offset..<(offset + itemCount * dim)]))
    }

    func save(to directory: URL) throws {
        guard let network else { throw ModelError.notFitted(name) }
        try ModelArtifact.write(
            manifest: ModelManifest(
                model: name, config: config, itemCount: itemCount, itemFingerprint: itemFingerprint,
                metrics: trainingMetrics),
            tensors: network.stateDict(), to: directory)
    }

    /// Restores saved weights.
    func load(itemCount: Int, weights: [String: Tensor]) throws {
        let network = makeNetwork(itemCount)
        try network.loadStateDict(weights)
        network.setTraining(false)
        self.itemCount = itemCount
        self.network = network
        if scoringPrecision != .float { network.setPrecision(scoringPrecision) }
    }
}

/// A recommender over item sequences (``SASRec``, ``BERT4Rec``, ``GRU4Rec``): it scores from
/// the newest items of a ``UserState``, so fresh events count without retraining, and explains
/// a recommendation by gradient × input over that history.
public class SequenceRecommender: Recommender, Explaining, ItemVectorProviding, StoppableTraining,
    PrecisionSwitching
{
    public let inputs: Set<ModelInput> = [.sequence]
    let core: any SequenceCore
    public let stop = TrainingStop()

    init(core: any SequenceCore) { self.core = core }

    public var name: String { core.name }
    public var itemCount: Int { core.itemCount }
    public var epochSeconds: [Double] { core.epochSeconds }
    /// Validation NDCG@10 after each validation round.
    public var validationNDCG: [Double] { core.validationNDCG }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        try core.fit(dataset, validation: validation, progress: progress, stop: stop)
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        core.scoreBatch([state], into: scores)
    }

    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        core.scoreBatch(states, into: scores)
    }

    /// Gradient × input attributions.
    public func explain(_ item: Int32, for state: UserState, top: Int) -> [Attribution] {
        core.explain([item], for: state, top: top, method: .gradient)[0]
    }

    /// Gradient × input attributions.
    public func explain(_ items: [Int32], for state: UserState, top: Int) -> [[Attribution]] {
        core.explain(items, for: state, top: top, method: .gradient)
    }

    public func explain(
        _ items: [Int32], for state: UserState, top: Int, method: ExplanationMethod
    ) -> [[Attribution]] {
        core.explain(items, for: state, top: top, method: method)
    }

    public func save(to directory: URL) throws { try core.save(to: directory) }

    /// The output layer's item rows.
    public var itemVectors: Tensor? { core.itemVectors }

    public var scoringPrecision: ScoringPrecision { core.scoringPrecision }
    public func setScoringPrecision(_ precision: ScoringPrecision) { core.setScoringPrecision(precision) }
    public var scoringTableBytes: Int { core.scoringTableBytes }
}

/// Reads a sequence model's saved configuration and weights.
enum SequenceArtifact {
    static func load<Config: ModelConfig>(
        _ type: Config.Type, model: String, from directory: URL
    ) throws -> (config: Config, itemCount: Int, weights: [String: Tensor]) {
        let (manifest, weights) = try ModelArtifact.read(from: directory, expecting: model)
        return (try manifest.config(Config.self), manifest.itemCount, try weights.allTensors())
    }
}
