import Foundation
import SwiftRecData
import SwiftRecTensor
import Synchronization

/// What a model may know about a user when it is asked for recommendations.
///
/// Every model scores from a `UserState`, so sequence models react to the newest event
/// without retraining and new users are served from their first event.
public struct UserState: Sendable, Equatable {
    /// The user's index in the training data, or nil for a user the model has not seen.
    public var user: Int32?
    /// The user's items, oldest first, including the newest events.
    public var items: [Int32]
    /// When each of `items` happened (same length), if known.
    public var timestamps: [Int64]?
    /// User features (age, gender, location, …).
    public var features: [String: String]
    /// Where the request comes from (e.g. `home`, `detail`).
    public var scenario: String?

    public init(
        user: Int32? = nil, items: [Int32], timestamps: [Int64]? = nil, features: [String: String] = [:],
        scenario: String? = nil
    ) {
        self.user = user
        self.items = items
        self.timestamps = timestamps
        self.features = features
        self.scenario = scenario
    }

    /// The state of known user `u` from a dataset's history.
    public init(user u: Int32, in dataset: Dataset) {
        self.init(
            user: u, items: Array(dataset.sequences.items(of: Int(u))),
            timestamps: Array(dataset.sequences.timestamps(of: Int(u))),
            features: dataset.userInfo[Int(u)]?.attributes ?? [:])
    }
}

/// What a model reads from the data.
public enum ModelInput: String, Sendable, Codable, CaseIterable {
    /// The order of a user's items.
    case sequence
    /// The set of a user's items.
    case history
    /// User and item features.
    case features
    /// Item text.
    case text
}

/// A recommendation model: it fits on a dataset and scores every item for a user state.
public protocol Recommender: AnyObject {
    /// The short name used on the command line, e.g. `ease`.
    var name: String { get }
    /// What the model reads.
    var inputs: Set<ModelInput> { get }
    /// The number of items scores cover.
    var itemCount: Int { get }

    /// Learns from `dataset`; `validation` (held-out items scored against `dataset`) may steer
    /// early stopping.
    func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws

    /// Writes one score per item (higher is better) for `state` into `scores` (`itemCount` long).
    func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>)

    /// Scores several users at once into `scores` (row-major, `states.count × itemCount`).
    /// Models with a batched path (a matrix product) override it.
    func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>)

    /// Saves the fitted model into `directory` (created if needed).
    func save(to directory: URL) throws

    /// Wall time of each epoch (or iteration) of the last fit; empty for closed-form models.
    var epochSeconds: [Double] { get }
}

/// A model that scores items added after it was trained, from their text alone, so a brand-new
/// item is recommendable before any retraining.
public protocol CatalogueExtending: Recommender {
    /// Whether this model, as configured, can take items in after training at all (plain SASRec
    /// shares the type of content-aware SASRec but cannot). Models that cannot are skipped.
    var canExtendCatalogue: Bool { get }

    /// A model scoring this model's items followed by `items`, in that order, with the trained
    /// weights unchanged. Throws when this model cannot represent new items (for example one
    /// saved without its text vocabulary).
    func extended(with items: [Item]) throws -> any Recommender

    /// A model in which the items at the given indices (index → the item with its new text)
    /// are represented from their new text, everything else unchanged: an item whose title or
    /// description changed is embedded again without retraining.
    func reembedded(_ changes: [Int: Item]) throws -> any Recommender
}

extension Tensor {
    /// This [rows, columns] matrix with `rows[i]` overwritten by row `i` of `replacement`.
    func replacingRows(_ rows: [Int], with replacement: Tensor) -> Tensor {
        precondition(replacement.shape.count == 2 && replacement.shape[0] == rows.count, "replacingRows: one row each")
        let width = shape[1]
        precondition(replacement.shape[1] == width, "replacingRows: \(replacement.shape[1]) columns, not \(width)")
        var result = self
        result.withUnsafeMutableBufferPointer { out in
            replacement.withUnsafeBufferPointer { new in
                for (k, row) in rows.enumerated() {
                    for c in 0..<width { out[row * width + c] = new[k * width + c] }
                }
            }
        }
        return result
    }
}

extension Recommender {
    public var epochSeconds: [Double] { [] }

    /// One ``score(_:into:)`` per state, the states shared out to the threads as each one
    /// frees up (each scoring on one thread). Scoring only reads a model — the service already
    /// scores concurrent requests with one instance — and each state's scores are computed
    /// alone, so they are those of ``score(_:into:)`` whatever the thread count.
    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= states.count * itemCount, "scoreBatch: buffer too small")
        let n = itemCount
        nonisolated(unsafe) let scores = scores, model = self
        let next = Atomic<Int>(0)
        // Worker threads do not inherit the caller's task-local gradient mode: pass it on.
        let recording = GradMode.isEnabled
        DispatchQueue.concurrentPerform(iterations: max(1, min(Threading.threadCount, states.count))) { _ in
            GradMode.$isEnabled.withValue(recording) {
                Threading.withThreadCount(1) {
                    while case let row = next.add(1, ordering: .relaxed).oldValue, row < states.count {
                        let target = UnsafeMutableBufferPointer(rebasing: scores[(row * n)..<((row + 1) * n)])
                        model.score(states[row], into: target)
                    }
                }
            }
        }
    }

    /// Scores for one user as an array.
    public func scores(for state: UserState) -> [Float] {
        [Float](unsafeUninitializedCapacity: itemCount) { buffer, n in
            score(state, into: buffer)
            n = itemCount
        }
    }
}

/// Errors a model raises for bad input or files.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case notFitted(String)
    case invalidParameter(name: String, reason: String)
    case incompatibleArtifact(String)

    public var description: String {
        switch self {
        case .notFitted(let model): return "\(model): the model has not been fitted"
        case .invalidParameter(let name, let reason): return "invalid parameter \(name): \(reason)"
        case .incompatibleArtifact(let why): return "cannot load model: \(why)"
        }
    }
}

/// Checks of hyper-parameters shared by the models; each throws ``ModelError/invalidParameter(name:reason:)``.
enum ParameterCheck {
    static func positive(_ value: Int, _ name: String) throws {
        guard value > 0 else { throw ModelError.invalidParameter(name: name, reason: "must be positive, got \(value)") }
    }

    static func nonNegative(_ value: Int, _ name: String) throws {
        guard value >= 0 else { throw ModelError.invalidParameter(name: name, reason: "must be ≥ 0, got \(value)") }
    }

    static func positive(_ value: Float, _ name: String) throws {
        guard value > 0, value.isFinite else {
            throw ModelError.invalidParameter(name: name, reason: "must be a positive number, got \(value)")
        }
    }

    static func nonNegative(_ value: Float, _ name: String) throws {
        guard value >= 0, value.isFinite else {
            throw ModelError.invalidParameter(name: name, reason: "must be ≥ 0, got \(value)")
        }
    }
}

/// A model whose items have vectors, for similarity and diversity.
public protocol ItemVectorProviding {
    /// One row per item, [itemCount, dim]; nil before fitting.
    var itemVectors: Tensor? { get }
}

/// A request to end a fit early, checked between training steps by the models that train in
/// steps (``StoppableTraining``): they stop as at the end of a time budget, keeping their best
/// weights so far.
public final class TrainingStop: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    public func request() { requested.store(true, ordering: .relaxed) }

    public var isRequested: Bool { requested.load(ordering: .relaxed) }
}

/// A model whose fit can be ended early through ``stop`` (from another thread).
public protocol StoppableTraining: Recommender {
    var stop: TrainingStop { get }
}

/// A model whose scores are (weighted) event counts, each event adding at most 1 to one item's
/// score and nothing else: what it serves is a statistic of users' events, so the service can
/// release it with differential-privacy noise of sensitivity 1 (`PopularityNoise`).
public protocol CountScoring: Recommender {}

/// A model that can score with int8 weights and item table (``ScoringPrecision``) as well as
/// with its float ones; the float weights stay in memory (training, saving and gradient
/// explanations use them), so switching back is exact.
public protocol PrecisionSwitching: AnyObject {
    var scoringPrecision: ScoringPrecision { get }
    /// Scores from now on at `precision` (quantising the current weights for `.int8`).
    func setScoringPrecision(_ precision: ScoringPrecision)
    /// Bytes of the item table scoring reads at the current precision.
    var scoringTableBytes: Int { get }
    /// Whether switching changes how anything scores (a fusion without int8 members: no).
    var hasInt8Scoring: Bool { get }
}

extension PrecisionSwitching {
    public var hasInt8Scoring: Bool { true }
}

extension ScoringPrecision: OptionChoice {}

/// `model`'s precision switch when switching changes how it scores; nil otherwise.
public func precisionSwitching(of model: any Recommender) -> (any PrecisionSwitching)? {
    guard let switching = model as? any PrecisionSwitching, switching.hasInt8Scoring else { return nil }
    return switching
}
