import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import Synchronization

/// Where a background training stands.
public struct TrainingJob: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable, CaseIterable { case queued, running, finished, failed }
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
}

/// Trains models in the background on a snapshot of the store, one at a time, then saves and
/// records each finished model in the registry and swaps it in atomically. Progress is
/// readable while it runs.
public final class TrainingJobs: Sendable {
    private let jobs = Mutex<[TrainingJob]>([])
    private let queue = DispatchQueue(label: "swiftrec.training")

    public init() {}

    public var all: [TrainingJob] { jobs.withLock { $0 } }

    public func job(_ id: Int) -> TrainingJob? { jobs.withLock { $0.first { $0.id == id } } }

    private func update(_ id: Int, _ change: (inout TrainingJob) -> Void) {
        jobs.withLock { list in if let k = list.firstIndex(where: { $0.id == id }) { change(&list[k]) } }
    }

    /// Queues a training of `model` (a ``ModelCatalog`` name with `options`) on the store's data;
    /// when it finishes, the model is registered as `name` and, with `activate`, made active.
    public func start(
        model: String, options: ModelCatalog.Options, name: String, activate: Bool, service: RecommendationService
    ) throws -> TrainingJob {
        _ = try ModelCatalog.resolve(model, options: options)  // bad names and options fail now, not later
        let job = jobs.withLock { list -> TrainingJob in
            let job = TrainingJob(id: (list.last?.id ?? 0) + 1, model: model, name: name, state: .queued)
            list.append(job)
            return job
        }
        let id = job.id
        Task {
            let started = Date()
            do {
                let dataset = try await service.store.snapshot()
                let (trained, report) = try await withCheckedThrowingContinuation { continuation in
                    queue.async {
                        continuation.resume(
                            with: Result { try self.train(id, model: model, options: options, dataset: dataset) })
                    }
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
            } catch {
                self.update(id) {
                    $0.state = .failed
                    $0.error = "\(error)"
                    $0.seconds = Date().timeIntervalSince(started)
                }
            }
        }
        return job
    }

    /// Fits and evaluates the model on `dataset` (the ``Experiment`` that `swiftrec train` runs),
    /// reporting progress into the job.
    private func train(_ id: Int, model: String, options: ModelCatalog.Options, dataset: Dataset) throws
        -> (ServableModel, ModelReport)
    {
        let start = Date()
        update(id) { $0.state = .running }
        guard dataset.eventCount > 0 else {
            throw ModelError.invalidParameter(name: "data", reason: "the store has no events")
        }
        let recommender = try ModelCatalog.make(model, options: options)
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
