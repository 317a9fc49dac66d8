import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import SwiftRecTensor

/// Who a list is for.
public enum RecommendationSubject: Sendable, Equatable {
    /// A stored user: their whole history, their stored attributes, their index in the model's
    /// training data.
    case user(String)
    /// An anonymous session: these events only, no stored state.
    case session([Event])
    /// Items like this one: a history of the item alone.
    case similar(toItem: String)
}

/// A ranked list and the model that answered it.
public struct RecommendationList: Codable, Sendable, Equatable {
    /// The user asked for (nil for sessions and similar items).
    public var user: String?
    /// The model that ranked the list (``RecommendationPipeline/scenarioPopularity`` when a user
    /// with nothing to go by was given the scenario's most popular items).
    public var model: String
    public var recommendations: [Recommendation]

    public init(user: String?, model: String, recommendations: [Recommendation]) {
        self.user = user
        self.model = model
        self.recommendations = recommendations
    }
}

/// Why a list could not be made; each names what the caller can fix.
public enum RecommendationError: Error, Equatable, CustomStringConvertible {
    case noActiveModel
    case unknownUser(String)
    case unknownItem(String)
    case unknownScenario(String)

    public var description: String {
        switch self {
        case .noActiveModel: "no model is active yet"
        case .unknownUser(let id):
            "no user '\(id)': post their events first, or use POST /sessions/recommendations"
        case .unknownItem(let id): "the model does not know item '\(id)'"
        case .unknownScenario(let name): "scenario: no event carries scenario '\(name)'"
        }
    }
}

/// The one path from a request to a ranked list, for every caller (the HTTP API, the command
/// line, tests that compare it with the evaluator):
///
/// state → candidates → scores (cached per user, history version and model) → filters (the
/// whole seen history, exclusions) → re-rank (diversity, caps, exploration) → explanations.
///
/// The state is the one the evaluator builds for the same user and history
/// (``ServableModel/state(user:history:features:scenario:)``), so a served list is the list the
/// offline evaluation scored.
public final class RecommendationPipeline: Sendable {
    public let store: any RecommendationStore
    /// Users' whole histories, in memory and backed by the store.
    public let live: LiveInterests
    /// Users' scores from a model, reused until the model, their history, the request's
    /// scenario or the attributes the model read change (``ScoreVersion``).
    public let scoreCache: ScoreCache
    /// Items per scenario, for `scenario` requests.
    public let scenarios: ScenarioCatalog
    let active: ActiveModel
    let registry: ModelRegistry
    let metrics: ServiceMetrics
    /// Where scores are computed: one thread per core, in the order requests asked.
    let computing = ComputeQueue.shared
    /// When set, popularity counts are released with Laplace noise.
    let noise: PopularityNoise?
    /// Matches queries by meaning when set; by BM25 keywords otherwise.
    let queryEncoder: (any TextEncoder)?

    /// The `model` a list names when it ranked by popularity within the requested scenario.
    public static let scenarioPopularity = ScenarioPopularity.name

    init(
        store: any RecommendationStore, live: LiveInterests, scoreCache: ScoreCache, scenarios: ScenarioCatalog,
        active: ActiveModel, registry: ModelRegistry, metrics: ServiceMetrics, noise: PopularityNoise? = nil,
        queryEncoder: (any TextEncoder)? = nil
    ) {
        self.noise = noise
        self.queryEncoder = queryEncoder
        self.store = store
        self.live = live
        self.scoreCache = scoreCache
        self.scenarios = scenarios
        self.active = active
        self.registry = registry
        self.metrics = metrics
    }

    /// The model for users with no events yet: a registered model that reads only user
    /// attributes (popularity among peers), the first by name; nil when none is registered.
    public var modelForUsersWithoutHistory: ServableModel? {
        registry.all.first { $0.servable.model.inputs == [.features] }?.servable
    }

    /// The ranked list for `subject`.
    public func recommend(_ subject: RecommendationSubject, _ request: RecommendationRequest) async throws
        -> RecommendationList
    {
        guard var model = active.current else { throw RecommendationError.noActiveModel }
        var request = request
        var scenarioCounts: [String: Int]?
        if let scenario = request.scenario {
            let counts = try await scenarios.itemCounts(in: scenario, store: store)
            guard !counts.isEmpty else { throw RecommendationError.unknownScenario(scenario) }
            request.candidates = request.candidates.map { $0.intersection(counts.keys) } ?? Set(counts.keys)
            scenarioCounts = counts
        }
        switch subject {
        case .session(let events):
            let state = model.state(user: nil, history: UserHistory(events), scenario: request.scenario)
            return try await list(model, state: state, scores: released(model, state), request: request)
        case .similar(let item):
            guard model.items.index(of: item) != nil else { throw RecommendationError.unknownItem(item) }
            let history = UserHistory([Event(user: "", item: item, timestamp: 0)])
            let state = model.state(user: nil, history: history, scenario: request.scenario)
            return try await list(model, state: state, scores: released(model, state), request: request)
        case .user(let user):
            let (history, version) = try await live.snapshot(of: user)
            var features: [String: String] = [:]
            if history.isEmpty {
                guard let stored = try await store.user(user) else { throw RecommendationError.unknownUser(user) }
                // No history yet: a feature model ranks by the stated attributes itself; otherwise
                // popularity among users with the same attributes, when registered.
                if model.model.inputs.contains(.features) {
                    features = stored.attributes
                } else if let byAttributes = modelForUsersWithoutHistory {
                    model = byAttributes
                    features = stored.attributes
                }
            } else if model.model.inputs.contains(.features) {
                features = try await store.user(user)?.attributes ?? [:]
            }
            let state = model.state(user: user, history: history, features: features, scenario: request.scenario)
            if history.isEmpty, features.isEmpty, let counts = scenarioCounts {
                // Nothing to go by but the scenario: what is most popular in it.
                let popularity = ScenarioPopularity(counts: counts)
                let scores = popularity.scores(over: model.items, noise: noise, scenario: request.scenario ?? "")
                var answer = try await list(model, state: state, scores: scores, request: request)
                answer.user = user
                answer.model = ScenarioPopularity.name
                return answer
            }
            // A user without history gets a new live version at every read; their scores depend
            // only on the model, the attributes read and the scenario, which the key holds.
            let key = ScoreVersion(
                history: history.isEmpty ? nil : version, scenario: request.scenario, attributes: features)
            let scores: [Float]
            let cached = scoreCache.scores(user: user, model: model, version: key)
            metrics.scoreCache(hit: cached != nil)
            if let cached {
                scores = cached
            } else {
                scores = await released(model, state)
                scoreCache.store(scores, user: user, model: model, version: key)
            }
            var answer = try await list(
                model, state: state, scores: scores, request: request,
                cachedReasons: CachedReasons(cache: scoreCache, user: user, version: key))
            answer.user = user
            return answer
        }
    }

    /// The model's scores for `state`, as the service may release them: a model whose scores
    /// are event counts gets the popularity noise when it is on.
    /// Computed on the compute queue, in arrival order.
    private func released(_ model: ServableModel, _ state: UserState) async -> [Float] {
        let scores = await computing.run { model.model.scores(for: state) }
        guard let noise, model.model is any CountScoring else { return scores }
        return noise.noised(scores, context: "model:" + model.name)
    }

    /// Ranks precomputed scores, reading the pool's categories from the store when the request
    /// diversifies or caps by category.
    private func list(
        _ model: ServableModel, state: UserState, scores: [Float], request: RecommendationRequest,
        cachedReasons: CachedReasons? = nil
    ) async throws -> RecommendationList {
        var scores = scores
        var queryParts: QueryParts?
        if let query = request.query {
            let index = try await queryIndex(for: model)
            let blended = try Self.blend(scores, query: query, weight: request.queryWeight, index: index)
            scores = blended.scores
            queryParts = QueryParts(query: query, shares: blended.queryShare, texts: [:])
        }
        let pool = Self.candidatePool(model, state: state, scores: scores, request: request)
        if request.explain, queryParts != nil {
            let stored = try await store.items(withIDs: Set(pool.map { model.items.id(at: $0) }))
            queryParts?.texts = stored.mapValues(ItemText.of)
        }
        var categories: [String: [String]] = [:]
        if request.diversification.isActive {
            let byVectors = request.diversifyByVectors && model.itemVectors != nil
            if !byVectors || request.diversification.categoryCap != nil {
                let stored = try await store.items(withIDs: Set(pool.map { model.items.id(at: $0) }))
                categories = stored.mapValues(\.categories)
            }
        }
        guard request.explain else {
            let ranked = Self.rank(
                model, state: state, scores: scores, request: request, categories: categories, pool: pool,
                cachedReasons: cachedReasons, queryParts: queryParts)
            return RecommendationList(user: nil, model: model.name, recommendations: ranked)
        }
        // Explanations run the model again (attention, gradients, occlusion of features), so they
        // wait their turn on the compute queue like scores do.
        let ranked = await computing.run { [scores, categories, queryParts] in
            Self.rank(
                model, state: state, scores: scores, request: request, categories: categories, pool: pool,
                cachedReasons: cachedReasons, queryParts: queryParts)
        }
        return RecommendationList(user: nil, model: model.name, recommendations: ranked)
    }

    /// The model's catalogue text index for queries: built from the stored items' text at the
    /// first query, then kept with the model (a failed build is tried again next time).
    func queryIndex(for model: ServableModel) async throws -> QueryIndex {
        let build = model.queryIndexBuild.withLock { slot in
            if let slot { return slot }
            let task = Task { [store, queryEncoder, computing] in
                let ids = (0..<Int32(model.items.count)).map { model.items.id(at: $0) }
                let stored = try await store.items(withIDs: Set(ids))
                let texts = ids.map { ItemText.of(stored[$0]) }
                // Encoding a whole catalogue can take seconds: never on an event loop.
                return await computing.runOnQueueThreads {
                    QueryIndex(itemTexts: texts, representation: queryEncoder.map { .encoder($0) } ?? .keywords(.bm25))
                }
            }
            slot = task
            return task
        }
        do { return try await build.value } catch {
            model.queryIndexBuild.withLock { $0 = nil }
            throw error
        }
    }

    /// A query's blend with a model's scores (``QueryBlend``): the one step that `swiftrec
    /// recommend --query`, the service and `swiftrec bench query` share.
    public static func blend(_ scores: [Float], query: String, weight: Float, index: QueryIndex) throws -> (
        scores: [Float], queryShare: [Float]
    ) {
        let blend = try QueryBlend(weight: weight)
        return blend.blend(model: scores, query: try index.similarities(to: query))
    }

    /// The list for `state` without a store or a service (the command line's `recommend`): the
    /// model's scores, the query blend when the request has a query (matched by `queryIndex`,
    /// explained with `itemTexts` by item index), then the ranking steps of ``recommend(_:_:)``.
    public static func list(
        _ model: ServableModel, state: UserState, request: RecommendationRequest, queryIndex: QueryIndex?,
        itemTexts: [String]
    ) throws -> [Recommendation] {
        var scores = model.model.scores(for: state)
        var queryParts: QueryParts?
        if let query = request.query, let queryIndex {
            let blended = try blend(scores, query: query, weight: request.queryWeight, index: queryIndex)
            scores = blended.scores
            let texts = Dictionary(
                itemTexts.prefix(model.items.count).enumerated().map {
                    (model.items.id(at: Int32($0.offset)), $0.element)
                },
                uniquingKeysWith: { a, _ in a })
            queryParts = QueryParts(query: query, shares: blended.queryShare, texts: texts)
        }
        return rank(model, state: state, scores: scores, request: request, queryParts: queryParts)
    }

    /// What explanations say about a query: its share per item and the listed items' texts.
    struct QueryParts {
        var query: String
        var shares: [Float]
        var texts: [String: String]

        func reason(_ item: Int32, id: String) -> QueryReason {
            QueryReason(share: shares[Int(item)], words: QueryIndex.sharedWords(query, texts[id] ?? ""))
        }
    }

    // MARK: The ranking steps (synchronous, on precomputed scores)

    /// How many candidates re-ranking and exploration choose from.
    static func poolSize(_ request: RecommendationRequest) -> Int {
        request.diversification.isActive || request.exploration > 0 ? max(5 * request.count, 50) : request.count
    }

    /// The best items after the filters, best first: the list itself, or the pool that
    /// re-ranking and exploration choose from. Seen means every item of the state's history,
    /// as in the evaluator.
    static func candidatePool(
        _ model: ServableModel, state: UserState, scores: [Float], request: RecommendationRequest
    ) -> [Int32] {
        var excluded = request.excludeSeen ? state.items : []
        for id in request.excluded { if let i = model.items.index(of: id) { excluded.append(i) } }
        let size = poolSize(request)
        guard let candidates = request.candidates else { return TopK.select(size, from: scores, excluding: excluded) }
        var allowed = [Float](repeating: -.infinity, count: scores.count)
        for id in candidates { if let i = model.items.index(of: id) { allowed[Int(i)] = scores[Int(i)] } }
        return TopK.select(size, from: allowed, excluding: excluded).filter { allowed[Int($0)] > -.infinity }
    }

    /// Filters and orders precomputed `scores` for `state`. `categories` gives the categories
    /// of the candidate pool's items (by id) when the request diversifies by category.
    static func rank(
        _ model: ServableModel, state: UserState, scores: [Float], request: RecommendationRequest,
        categories: [String: [String]] = [:], pool: [Int32]? = nil, cachedReasons: CachedReasons? = nil,
        queryParts: QueryParts? = nil
    ) -> [Recommendation] {
        let pool = pool ?? candidatePool(model, state: state, scores: scores, request: request)
        var top = Array(pool.prefix(request.count))
        if request.diversification.isActive {
            // Re-rank over pool positions: per-request work stays proportional to the pool.
            var names: [String: Int32] = [:]
            let lists = pool.map { item in
                (categories[model.items.id(at: item)] ?? []).map { name in
                    let id = names[name] ?? Int32(names.count)
                    names[name] = id
                    return id
                }
            }
            let similarity: ItemSimilarity
            if request.diversifyByVectors, let vectors = model.itemVectors {
                // The pool's rows only: the whole table is not copied per request.
                similarity = .vectors(vectors.gatheringRows(pool))
            } else {
                similarity = .categories(lists)
            }
            let positions = request.diversification.rerank(
                (0..<Int32(pool.count)).map { $0 }, scores: pool.map { scores[Int($0)] }, count: request.count,
                similarity: similarity, category: { lists[Int($0)].first })
            top = positions.map { pool[Int($0)] }
        }
        var explored: Int32?
        if request.exploration > 0, !top.isEmpty, Double.random(in: 0..<1) < request.exploration {
            let rest = pool.filter { !top.contains($0) }
            if let pick = rest.randomElement() {
                top[top.count - 1] = pick
                explored = pick
            }
        }
        let explanations =
            request.explain
            ? explanations(model, state: state, items: top, request: request, cached: cachedReasons) : nil
        let features =
            request.explain ? (model.model as? any FeatureExplaining)?.explainFeatures(top, for: state, top: 3) : nil
        return top.enumerated().map { k, index in
            Recommendation(
                item: model.items.id(at: index), score: scores[Int(index)], because: explanations?[k],
                features: features?[k], explore: index == explored ? true : nil,
                query: request.explain ? queryParts?.reason(index, id: model.items.id(at: index)) : nil)
        }
    }

    /// The three history items that drove each of `items` (empty lists for a model that cannot
    /// explain), reusing and filling `cached` when given.
    static func explanations(
        _ model: ServableModel, state: UserState, items: [Int32], request: RecommendationRequest,
        cached: CachedReasons? = nil
    ) -> [[Reason]] {
        guard let explainer = model.model as? any Explaining else { return items.map { _ in [] } }
        let method = request.explanationMethod
        var known =
            cached.map {
                $0.cache.reasons(user: $0.user, model: model, version: $0.version, method: method, items: items)
            } ?? [:]
        let missing = items.filter { known[$0] == nil }
        if !missing.isEmpty {
            let computed = explainer.explain(missing, for: state, top: 3, method: method).map { list in
                list.map { Reason(item: model.items.id(at: $0.item), weight: $0.weight) }
            }
            let fresh = Dictionary(zip(missing, computed), uniquingKeysWith: { a, _ in a })
            if let cached {
                cached.cache.store(
                    reasons: fresh, user: cached.user, model: model, version: cached.version, method: method)
            }
            known.merge(fresh) { _, new in new }
        }
        return items.map { known[$0] ?? [] }
    }
}
