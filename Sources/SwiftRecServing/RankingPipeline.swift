import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import SwiftRecTensor
import Synchronization

/// A trained model with the item ids its scores refer to. Scoring only reads the model, so
/// one instance serves concurrent requests.
public final class ServableModel: @unchecked Sendable {
    public let name: String
    public let model: any Recommender
    /// Item index ↔ id of the data the model was trained on.
    public let items: IDMap

    /// Distinct for every instance ever made: results computed from one are never taken for
    /// another's, even when a freed instance's memory is reused.
    public let serial: Int

    private static let instances = Atomic<Int>(0)

    public init(name: String, model: any Recommender, items: IDMap) {
        precondition(
            model.itemCount == items.count, "ServableModel: \(model.itemCount) scores for \(items.count) items")
        self.name = name
        self.model = model
        self.items = items
        serial = Self.instances.add(1, ordering: .relaxed).newValue
    }

    private let vectorCache = Mutex<Tensor??>(nil)

    /// The model's item vectors ([items, dim]) when it has them, read once.
    public var itemVectors: Tensor? {
        vectorCache.withLock { cache in
            if let cached = cache { return cached }
            let vectors = (model as? any ItemVectorProviding)?.itemVectors
            cache = .some(vectors)
            return vectors
        }
    }
}

/// The model that answers requests. Swapping is atomic: a request sees the old model or the
/// new one, never a mix.
public final class ActiveModel: Sendable {
    private let slot: Mutex<ServableModel?>

    public init(_ model: ServableModel? = nil) { slot = Mutex(model) }

    public var current: ServableModel? { slot.withLock { $0 } }

    public func activate(_ model: ServableModel) { slot.withLock { $0 = model } }
}

/// What a caller asks for.
public struct RecommendationRequest: Sendable {
    public var count: Int
    public var excludeSeen: Bool
    public var explain: Bool
    /// How explanations are computed when asked for.
    public var explanationMethod: ExplanationMethod
    /// Items that must not be recommended (unavailable, filtered by the caller).
    public var excluded: Set<String>
    /// When set, only these items may be recommended (e.g. a scenario's items).
    public var candidates: Set<String>?
    /// MMR re-ranking and a per-category cap (inactive by default).
    public var diversification = Diversification()
    /// Diversify by shared categories (default) or by the model's item vectors.
    public var diversifyByVectors = false
    /// The probability that the last slot goes to an exploration item: one the model ranks
    /// below the list, drawn at random from the candidate pool.
    public var exploration: Double = 0

    public init(
        count: Int = 10, excludeSeen: Bool = true, explain: Bool = false,
        explanationMethod: ExplanationMethod = .attention, excluded: Set<String> = [], candidates: Set<String>? = nil
    ) {
        self.count = count
        self.excludeSeen = excludeSeen
        self.explain = explain
        self.explanationMethod = explanationMethod
        self.excluded = excluded
        self.candidates = candidates
    }
}

/// One recommended item.
public struct Recommendation: Codable, Sendable, Equatable {
    public var item: String
    public var score: Float
    /// The history items that drove it, strongest first, when explanations were asked for.
    public var because: [Reason]?
    /// True when the item fills the exploration slot.
    public var explore: Bool?
}

/// A history item's share in a recommendation.
public struct Reason: Codable, Sendable, Equatable {
    public var item: String
    public var weight: Float
}

/// Candidates → scores from the model → filters (seen, excluded) → top items, with reasons.
public enum RankingPipeline {
    /// The model's state for a history: its known items, oldest first.
    public static func state(_ model: ServableModel, history: [Event]) -> UserState {
        let known = history.compactMap { event in model.items.index(of: event.item).map { ($0, event.timestamp) } }
        return UserState(items: known.map(\.0), timestamps: known.map(\.1))
    }

    public static func recommend(
        _ model: ServableModel, history: [Event], request: RecommendationRequest
    ) -> [Recommendation] {
        let state = state(model, history: history)
        return rank(model, state: state, scores: model.model.scores(for: state), request: request)
    }

    /// The three history items that drove each of `items` (empty lists for a model that cannot
    /// explain), reusing and filling `cached` when given.
    public static func explanations(
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

    /// How many candidates re-ranking and exploration choose from.
    static func poolSize(_ request: RecommendationRequest) -> Int {
        request.diversification.isActive || request.exploration > 0 ? max(5 * request.count, 50) : request.count
    }

    /// The best items after the filters, best first: the list itself, or the pool that
    /// re-ranking and exploration choose from.
    public static func candidatePool(
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
    /// of the candidate pool's items (by id) when the request diversifies by category; `pool`
    /// is ``candidatePool(_:state:scores:request:)`` when the caller has it already.
    public static func rank(
        _ model: ServableModel, state: UserState, scores: [Float], request: RecommendationRequest,
        categories: [String: [String]] = [:], pool: [Int32]? = nil, cachedReasons: CachedReasons? = nil
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
                let dim = vectors.shape[1]
                var rows = [Float]()
                rows.reserveCapacity(pool.count * dim)
                vectors.withUnsafeBufferPointer { table in
                    for item in pool { rows += table[(Int(item) * dim)..<(Int(item) * dim + dim)] }
                }
                similarity = .vectors(Tensor(shape: [pool.count, dim], scalars: rows))
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
        return top.enumerated().map { k, index in
            Recommendation(
                item: model.items.id(at: index), score: scores[Int(index)], because: explanations?[k],
                explore: index == explored ? true : nil)
        }
    }
}

/// A user's explanations kept with their cached scores: a repeated request explains nothing again.
public struct CachedReasons: Sendable {
    public let cache: ScoreCache
    public let user: String
    public let version: Int

    public init(cache: ScoreCache, user: String, version: Int) {
        self.cache = cache
        self.user = user
        self.version = version
    }
}

/// Each user's latest scores from a model, valid while the user's history version and the
/// model are unchanged: a repeated request skips the model, a new event or model swap does not.
public final class ScoreCache: Sendable {
    private struct Entry {
        var model: Int
        var version: Int
        var scores: [Float]
        /// Explanations computed for these scores, by method and item index.
        var reasons: [ExplanationMethod: [Int32: [Reason]]] = [:]
    }
    private struct State {
        var entries: [String: Entry] = [:]
        var order: [String] = []
    }
    private let state = Mutex(State())
    /// Users kept; the oldest entries go first.
    public let capacity: Int

    public init(capacity: Int = 20_000) { self.capacity = max(capacity, 0) }

    public func scores(user: String, model: ServableModel, version: Int) -> [Float]? {
        state.withLock { s in
            guard let entry = s.entries[user], entry.model == model.serial, entry.version == version
            else { return nil }
            return entry.scores
        }
    }

    public func store(_ scores: [Float], user: String, model: ServableModel, version: Int) {
        guard capacity > 0 else { return }
        state.withLock { s in
            if s.entries.updateValue(
                Entry(model: model.serial, version: version, scores: scores), forKey: user) == nil
            {
                s.order.append(user)
            }
            while s.entries.count > capacity, !s.order.isEmpty {
                s.entries.removeValue(forKey: s.order.removeFirst())
            }
            if s.order.count > 2 * capacity + 16 { s.order.removeAll { s.entries[$0] == nil } }
        }
    }

    /// Explanations already computed for `items` under the current scores, by item.
    public func reasons(
        user: String, model: ServableModel, version: Int, method: ExplanationMethod, items: [Int32]
    ) -> [Int32: [Reason]] {
        state.withLock { s in
            guard let entry = s.entries[user], entry.model == model.serial, entry.version == version,
                let known = entry.reasons[method]
            else { return [:] }
            return items.reduce(into: [:]) { found, item in found[item] = known[item] }
        }
    }

    /// Keeps explanations with the user's current scores (dropped when they are).
    public func store(
        reasons: [Int32: [Reason]], user: String, model: ServableModel, version: Int, method: ExplanationMethod
    ) {
        state.withLock { s in
            guard var entry = s.entries[user], entry.model == model.serial, entry.version == version
            else { return }
            entry.reasons[method, default: [:]].merge(reasons) { _, new in new }
            s.entries[user] = entry
        }
    }

    public func remove(user: String) { _ = state.withLock { $0.entries.removeValue(forKey: user) } }

    public var count: Int { state.withLock { $0.entries.count } }
}

/// Each scenario's items (those with events in it) and their event counts: read from the store
/// once, then kept up to date as events arrive.
public final class ScenarioCatalog: Sendable {
    private struct Entry {
        /// Events per item: the store's counts once loaded, plus events recorded since.
        var counts: [String: Int] = [:]
        /// Whether `counts` holds the store's answer (else only events recorded since start).
        var loaded = false
    }
    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// The items of `scenario` with their event counts; empty when no event carries it. An event
    /// stored while the scenario is first read from the store may be counted twice.
    public func itemCounts(in scenario: String, store: any RecommendationStore) async throws -> [String: Int] {
        if let entry = entries.withLock({ $0[scenario] }), entry.loaded { return entry.counts }
        let before = entries.withLock { $0[scenario]?.counts ?? [:] }
        let stored = try await store.itemCounts(inScenario: scenario)
        return entries.withLock { e in
            var entry = e[scenario] ?? Entry()
            if !entry.loaded {
                // The store has what was recorded before the read; add only what came since.
                var merged = stored
                for (item, count) in entry.counts { merged[item, default: 0] += count - (before[item] ?? 0) }
                entry.counts = merged
            }
            // Unknown scenarios are not remembered, so made-up names cannot fill memory.
            if !entry.counts.isEmpty {
                entry.loaded = true
                e[scenario] = entry
            }
            return entry.counts
        }
    }

    /// Counts stored events in their scenarios (also in one whose store read is under way, which
    /// merges them; the names come from stored events, so they are bounded by the store).
    public func record(_ events: [Event]) {
        entries.withLock { e in
            for event in events {
                if let scenario = event.scenario { e[scenario, default: Entry()].counts[event.item, default: 0] += 1 }
            }
        }
    }
}
