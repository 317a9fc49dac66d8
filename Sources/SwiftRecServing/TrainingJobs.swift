import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import Synchronization

/// Where a background training stands.
public struct TrainingJob: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable, CaseIterable { case queued, running, finished, failed, cancelled }
    public var id: Int
    public var model: String
    /// The name the trained model is registered under.
    public var name: String
    public var state: State
    public var epoch: Int = 0
    public var step: Int = 0
    public var steps: Int = 0
    public var loss: Double?
    /// The newest line of the training log (epoch summaries with validation NDCG@10).
    public var message: String = ""
    public var validNDCG10: Double?
    /// When finished: validation and test HR@10 / NDCG@10 of the leave-one-out split it trained on.
    public var metrics: [String: Double]?
    public var error: String?
    public var seconds: Double = 0
    /// The estimated peak memory of the fit in bytes, for the data when it was queued (and
    /// again when it started): a job above the server's budget is refused.
    public var estimatedBytes: Double?
    /// Set by `DELETE /train/{job}` while it runs: models that train in steps stop at the next
    /// one (others finish their fit), and the result is discarded instead of registered.
    public var cancelRequested = false
}

/// Why a training was not queued or not cancelled.
public enum TrainingJobError: Error, Equatable, CustomStringConvertible {
    /// As many trainings as allowed are queued or running.
    case queueFull(limit: Int)
    /// The job has already ended.
    case ended(TrainingJob.State)
    /// The fit's estimated peak memory on data of `shape` is above the server's training budget.
    case overMemoryBudget(estimate: Double, budget: Double, shape: DataShape)

    public var description: String {
        switch self {
        case .queueFull(let limit): "\(limit) trainings are already queued or running; try again when one ends"
        case .ended(let state): "the job has already ended (\(state.rawValue))"
        case .overMemoryBudget(let estimate, let budget, let shape):
            "the fit would need about \(MemoryEstimate.describe(estimate)) for \(shape.description), above the "
                + "training memory budget of \(MemoryEstimate.describe(budget)) (swiftrec serve --training-memory); "
                + "choose smaller options"
        }
    }
}

/// Trains models in the background on a snapshot of the store, one at a time, then saves and
/// records each finished model in the registry and swaps it in atomically. Progress is
/// readable while it runs.
public final class TrainingJobs: Sendable {
    private let jobs = Mutex<[TrainingJob]>([])
    /// The stop signal of the running fit, when its model can be stopped early.
    private let runningStop = Mutex<(job: Int, stop: TrainingStop)?>(nil)
    /// Fits run here, off the concurrency pool's threads.
    private let queue = DispatchQueue(label: "swiftrec.training")
    /// The newest job's run; the next one waits for it.
    private let lastJob = Mutex<Task<Void, Never>?>(nil)
    /// The most trainings queued or running at once; more are refused (`429`).
    public let maxPending: Int
    /// The most wall time of one training's fit, in seconds: models with a `time-budget` get at
    /// most this one (and this one when they ask for none).
    public let maxSeconds: Double
    /// The most bytes one fit may be estimated to need (``ModelConfig/estimatedTrainingBytes(_:)``).
    public let maxBytes: Double

    public init(maxPending: Int = 4, maxSeconds: Double = 6 * 3600, maxBytes: Double = TrainingJobs.defaultMaxBytes) {
        self.maxPending = max(1, maxPending)
        self.maxSeconds = maxSeconds
        self.maxBytes = maxBytes
    }

    /// Half the machine's memory: the service, its caches and the store's pages keep the rest.
    public static var defaultMaxBytes: Double { Double(ProcessInfo.processInfo.physicalMemory) / 2 }

    /// The fit's estimated bytes on data of `shape`, or ``TrainingJobError/overMemoryBudget(estimate:budget:shape:)``.
    func checkedMemory(_ model: String, _ options: ModelCatalog.Options, _ shape: DataShape) throws -> Double {
        let estimate = try ModelCatalog.estimatedTrainingBytes(model, options: options, shape: shape)
        guard estimate <= maxBytes else {
            throw TrainingJobError.overMemoryBudget(estimate: estimate, budget: maxBytes, shape: shape)
        }
        return estimate
    }

    /// `options` checked (an unknown model, key or value throws) and with the model's time budget
    /// held to ``maxSeconds``.
    func bounded(_ model: String, _ options: ModelCatalog.Options) throws -> ModelCatalog.Options {
        let resolved = try ModelCatalog.resolve(model, options: options)
        guard ModelCatalog.acceptedKeys(model).contains("time-budget") else { return options }
        var options = options
        if case .number(let seconds)? = resolved["time-budget"], seconds <= maxSeconds { return options }
        options["time-budget"] = .number(maxSeconds)
        return options
    }

    /// Cancels a job: a queued one never runs; a running one is discarded when its fit returns.
    @discardableResult
    public func cancel(_ id: Int) throws -> TrainingJob? {
        try jobs.withLock { list in
            guard let k = list.firstIndex(where: { $0.id == id }) else { return nil }
            switch list[k].state {
            case .queued:
                list[k].state = .cancelled
                list[k].message = "cancelled before it ran"
            case .running:
                list[k].cancelRequested = true
                list[k].message = "cancelling: the fit stops at its next step and is discarded"
                runningStop.withLock { if $0?.job == id { $0?.stop.request() } }
            case .finished, .failed, .cancelled:
                throw TrainingJobError.ended(list[k].state)
            }
            return list[k]
        }
    }

    public var all: [TrainingJob] { jobs.withLock { $0 } }

    public func job(_ id: Int) -> TrainingJob? { jobs.withLock { $0.first { $0.id == id } } }

    private func update(_ id: Int, _ change: (inout TrainingJob) -> Void) {
        jobs.withLock { list in if let k = list.firstIndex(where: { $0.id == id }) { change(&list[k]) } }
    }

    /// Queues a training of `model` (a ``ModelCatalog`` name with `options`) on the store's data;
    /// when it finishes, the model is registered as `name` and, with `activate`, made active.
    public func start(
        model: String, options: ModelCatalog.Options, name: String, activate: Bool, service: RecommendationService
    ) async throws -> TrainingJob {
        let options = try bounded(model, options)  // bad names and options fail now, not later
        let estimate = try checkedMemory(model, options, try await service.store.shape())
        let job = try jobs.withLock { list -> TrainingJob in
            let pending = list.filter { $0.state == .queued || $0.state == .running }.count
            guard pending < maxPending else { throw TrainingJobError.queueFull(limit: maxPending) }
            var job = TrainingJob(id: (list.last?.id ?? 0) + 1, model: model, name: name, state: .queued)
            job.estimatedBytes = estimate
            list.append(job)
            return job
        }
        let id = job.id
        // Jobs run one after another; each reads the store when its turn comes, so a queued job
        // holds no snapshot and trains on the data as it is when it starts.
        lastJob.withLock { last in
            let previous = last
            last = Task {
                await previous?.value
                await self.run(id, model: model, options: options, activate: activate, service: service)
            }
        }
        return job
    }

    /// Runs job `id` to its end: snapshot, fit and evaluation, then registration.
    private func run(
        _ id: Int, model: String, options: ModelCatalog.Options, activate: Bool, service: RecommendationService
    ) async {
        guard job(id)?.state == .queued else { return }  // cancelled while queued
        let started = Date()
        do {
            let dataset = try await service.store.snapshot()
            // The data may have grown while the job waited: check again on what it trains on.
            let estimate = try checkedMemory(model, options, DataShape(dataset))
            update(id) { $0.estimatedBytes = estimate }
            let (trained, report) = try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    continuation.resume(
                        with: Result { try self.train(id, model: model, options: options, dataset: dataset) })
                }
            }
            if self.job(id)?.cancelRequested == true {
                self.update(id) {
                    $0.state = .cancelled
                    $0.message = "cancelled; the trained model was discarded"
                    $0.seconds = Date().timeIntervalSince(started)
                }
                return
            }
            self.update(id) {
                $0.message = "saving and registering"
                $0.metrics = report.headline()
            }
            try await service.install(trained, metrics: report.headline(), activate: activate)
            self.update(id) {
                $0.state = .finished
                $0.seconds = Date().timeIntervalSince(started)
            }
        } catch is CancelledJob {
            // Cancelled while queued: the job already says so.
        } catch {
            self.update(id) {
                $0.state = .failed
                $0.error = "\(error)"
                $0.seconds = Date().timeIntervalSince(started)
            }
        }
    }

    /// Fits and evaluates the model on `dataset` (the ``Experiment`` that `swiftrec train` runs),
    /// reporting progress into the job.
    private func train(_ id: Int, model: String, options: ModelCatalog.Options, dataset: Dataset) throws
        -> (ServableModel, ModelReport)
    {
        let start = Date()
        let cancelled = jobs.withLock { list -> Bool in
            guard let k = list.firstIndex(where: { $0.id == id }), list[k].state == .queued else { return true }
            list[k].state = .running
            return false
        }
        if cancelled { throw CancelledJob() }
        guard dataset.eventCount > 0 else {
            throw ModelError.invalidParameter(name: "data", reason: "the store has no events")
        }
        let recommender = try ModelCatalog.make(model, options: options)
        if let stoppable = recommender as? any StoppableTraining {
            runningStop.withLock { $0 = (id, stoppable.stop) }
            // Cancelled between being marked running and here: stop at the first step.
            if job(id)?.cancelRequested == true { stoppable.stop.request() }
        }
        defer { runningStop.withLock { $0 = nil } }
        let report = try Experiment(dataset: dataset).run(recommender) { update in
            self.update(id) { job in
                switch update {
                case .message(let line):
                    job.message = line
                case .epoch(let summary):
                    job.validNDCG10 = summary.validationNDCG ?? job.validNDCG10
                case .step(let status):
                    job.epoch = status.epoch
                    job.step = status.step
                    job.steps = status.steps
                    job.loss = status.loss
                }
                job.seconds = Date().timeIntervalSince(start)
            }
        }
        let servable = ServableModel(
            name: job(id)?.name ?? model, model: recommender, items: dataset.items, users: dataset.users)
        return (servable, report)
    }
}

/// Thrown when a job cancelled while queued comes to its turn.
private struct CancelledJob: Error {}
