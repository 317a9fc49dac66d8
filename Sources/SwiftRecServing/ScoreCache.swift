import Foundation
import SwiftRecModels
import Synchronization

/// What a user's scores were computed from besides the model: their history's version (nil
/// without history), the scenario the request named, and the attributes a feature model read.
/// Cached scores serve a request only when all three are the same, so a new event, another
/// scenario or changed attributes is scored afresh.
public struct ScoreVersion: Hashable, Sendable {
    public var history: Int?
    public var scenario: String?
    public var attributes: [String: String]

    public init(history: Int?, scenario: String? = nil, attributes: [String: String] = [:]) {
        self.history = history
        self.scenario = scenario
        self.attributes = attributes
    }
}

/// A user's explanations kept with their cached scores: a repeated request explains nothing again.
public struct CachedReasons: Sendable {
    public let cache: ScoreCache
    public let user: String
    public let version: ScoreVersion

    public init(cache: ScoreCache, user: String, version: ScoreVersion) {
        self.cache = cache
        self.user = user
        self.version = version
    }
}

/// Each user's latest scores from a model, valid while the model and the ``ScoreVersion``
/// (history version, scenario, attributes read) are unchanged: a repeated request skips the
/// model; a new event, another scenario, new attributes or a model swap does not.
public final class ScoreCache: Sendable {
    private struct Entry {
        var model: Int
        var version: ScoreVersion
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

    public func scores(user: String, model: ServableModel, version: ScoreVersion) -> [Float]? {
        state.withLock { s in
            guard let entry = s.entries[user], entry.model == model.serial, entry.version == version
            else { return nil }
            return entry.scores
        }
    }

    public func store(_ scores: [Float], user: String, model: ServableModel, version: ScoreVersion) {
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
        user: String, model: ServableModel, version: ScoreVersion, method: ExplanationMethod, items: [Int32]
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
        reasons: [Int32: [Reason]], user: String, model: ServableModel, version: ScoreVersion, method: ExplanationMethod
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
