import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels
import Synchronization

/// Limits and protection of the HTTP API.
public struct ServiceLimits: Sendable {
    /// With keys, each route needs `X-API-Key: <key>` (or `Authorization: Bearer <key>`) of a key
    /// holding its scope; without, every route is open.
    public var apiKeys: [APIKey] = []
    /// Events in one `POST /events`.
    public var maxBatch = 1_000
    /// The largest `n` of a recommendation request.
    public var maxCount = 100
    /// Request bodies above this are refused with 413.
    public var maxBodyBytes = 4 << 20
    /// The longest id accepted for users and items, in bytes of UTF-8.
    public var maxIDLength = 256
    /// Trainings queued or running at once (`POST /train` beyond it: 429).
    public var maxPendingTrainings = 4
    /// The most wall time of one training's fit, in seconds.
    public var maxTrainingSeconds: Double = 6 * 3600
    /// When set, user ids are stored as their pseudonyms (``UserPseudonyms``): requests name
    /// users by their ids, the store, live state and models see only pseudonyms.
    public var pseudonyms: UserPseudonyms?
    /// When set, released popularity counts carry Laplace noise (``PopularityNoise``).
    public var popularityNoise: PopularityNoise?
    /// The most memory one training's fit may be estimated to need, in bytes (above: 400).
    public var maxTrainingBytes: Double = TrainingJobs.defaultMaxBytes

    /// `apiKey`, when given, holds every scope.
    public init(apiKey: String? = nil, apiKeys: [APIKey] = []) {
        self.apiKeys = (apiKey.map { [APIKey(key: $0)] } ?? []) + apiKeys
    }
}

/// Everything a request handler needs: the store, the models and the recommendation pipeline.
public final class RecommendationService: Sendable {
    public let store: any RecommendationStore
    public let active: ActiveModel
    public let limits: ServiceLimits
    /// Background trainings started with `POST /train`.
    public let training: TrainingJobs
    /// Every recommendation the service gives comes from here.
    public let pipeline: RecommendationPipeline
    let metrics: ServiceMetrics
    let registry: ModelRegistry
    /// Where models trained by the service are saved (nil: they live only in this process).
    public let modelDirectory: URL?
    /// Models changed in memory (items taken in, text embedded again), saved a moment later.
    let pendingSaves = PendingSaves()

    /// Users' whole histories, in memory and backed by the store.
    public var live: LiveInterests { pipeline.live }

    /// `liveBytes` bounds the memory of the users' histories held (the least recently used are
    /// read again from the store when asked for); `cachedUsers` bounds the score cache.
    public init(
        store: any RecommendationStore, limits: ServiceLimits = .init(), modelDirectory: URL? = nil,
        liveBytes: Int = 512 << 20, cachedUsers: Int = 20_000, queryEncoder: (any TextEncoder)? = nil
    ) {
        self.store = store
        let active = ActiveModel()
        self.active = active
        self.limits = limits
        training = TrainingJobs(
            maxPending: limits.maxPendingTrainings, maxSeconds: limits.maxTrainingSeconds,
            maxBytes: limits.maxTrainingBytes)
        self.modelDirectory = modelDirectory
        let registry = ModelRegistry()
        self.registry = registry
        let metrics = ServiceMetrics()
        self.metrics = metrics
        pipeline = RecommendationPipeline(
            store: store, live: LiveInterests(store: store, maxBytes: liveBytes),
            scoreCache: ScoreCache(capacity: cachedUsers), scenarios: ScenarioCatalog(), active: active,
            registry: registry, metrics: metrics, noise: limits.popularityNoise, queryEncoder: queryEncoder)
    }
}

/// The request context. Bodies are read with ``ServiceLimits/maxBodyBytes`` as their bound.
public struct ServiceContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public init(source: Source) { coreContext = .init(source: source) }
}

extension RecommendationService {
    /// Forgets a user completely: their events and attributes in the store (checkpointed out of
    /// the SQLite WAL), their live history, cached scores and their part in scenario counts.
    /// Models already trained on their events keep what they learnt until retrained. False
    /// when the store knew nothing of them.
    public func forgetUser(_ id: String) async throws -> Bool {
        guard try await store.deleteUser(id) else { return false }
        await live.forget(id)
        pipeline.scoreCache.remove(user: id)
        pipeline.scenarios.forgetCounts()
        return true
    }
}
