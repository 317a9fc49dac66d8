import Foundation
import SwiftRecModels
import Synchronization

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
