import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import Synchronization

/// A trained model with the item ids its scores refer to. Scoring only reads the model, so
/// one instance serves concurrent requests.
public final class ServableModel: @unchecked Sendable {
    public let name: String
    public let model: any Recommender
    /// Item index ↔ id of the data the model was trained on.
    public let items: IDMap

    public init(name: String, model: any Recommender, items: IDMap) {
        precondition(
            model.itemCount == items.count, "ServableModel: \(model.itemCount) scores for \(items.count) items")
        self.name = name
        self.model = model
        self.items = items
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
    /// Items that must not be recommended (unavailable, filtered by the caller).
    public var excluded: Set<String>

    public init(count: Int = 10, excludeSeen: Bool = true, explain: Bool = false, excluded: Set<String> = []) {
        self.count = count
        self.excludeSeen = excludeSeen
        self.explain = explain
        self.excluded = excluded
    }
}

/// One recommended item.
public struct Recommendation: Codable, Sendable, Equatable {
    public var item: String
    public var score: Float
    /// The history items that drove it, strongest first, when explanations were asked for.
    public var because: [Reason]?
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

    /// Filters and orders precomputed `scores` for `state`.
    public static func rank(
        _ model: ServableModel, state: UserState, scores: [Float], request: RecommendationRequest
    ) -> [Recommendation] {
        var excluded = request.excludeSeen ? state.items : []
        for id in request.excluded { if let i = model.items.index(of: id) { excluded.append(i) } }
        let top = TopK.select(request.count, from: scores, excluding: excluded)
        let explainer = request.explain ? model.model as? any Explaining : nil
        let explanations = explainer?.explain(top, for: state, top: 3)
        return top.enumerated().map { k, index in
            let reasons = explanations?[k].map { Reason(item: model.items.id(at: $0.item), weight: $0.weight) }
            return Recommendation(item: model.items.id(at: index), score: scores[Int(index)], because: reasons)
        }
    }
}

/// Each user's latest scores from a model, valid while the user's history version and the
/// model are unchanged: a repeated request skips the model, a new event or model swap does not.
public final class ScoreCache: Sendable {
    private struct Entry {
        var model: ObjectIdentifier
        var version: Int
        var scores: [Float]
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
            guard let entry = s.entries[user], entry.model == ObjectIdentifier(model), entry.version == version
            else { return nil }
            return entry.scores
        }
    }

    public func store(_ scores: [Float], user: String, model: ServableModel, version: Int) {
        guard capacity > 0 else { return }
        state.withLock { s in
            if s.entries.updateValue(
                Entry(model: ObjectIdentifier(model), version: version, scores: scores), forKey: user) == nil
            {
                s.order.append(user)
            }
            while s.entries.count > capacity, !s.order.isEmpty {
                s.entries.removeValue(forKey: s.order.removeFirst())
            }
            if s.order.count > 2 * capacity + 16 { s.order.removeAll { s.entries[$0] == nil } }
        }
    }

    public func remove(user: String) { _ = state.withLock { $0.entries.removeValue(forKey: user) } }

    public var count: Int { state.withLock { $0.entries.count } }
}
