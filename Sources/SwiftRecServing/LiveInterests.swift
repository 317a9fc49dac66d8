import Foundation
import SwiftRecData

/// The newest events of each active user, in memory and backed by the store: an event
/// recorded here counts in the user's next recommendation, without retraining.
public actor LiveInterests {
    public let store: any RecommendationStore
    /// Events kept per user (the longest history a model reads is enough).
    public let capacity: Int
    private var recent: [String: [Event]] = [:]
    /// Bumped whenever a user's history changes, so results computed from an older history can
    /// be told apart.
    private var versions: [String: Int] = [:]

    public init(store: any RecommendationStore, capacity: Int = 200) {
        self.store = store
        self.capacity = max(capacity, 1)
    }

    /// Adds events the store has already made durable.
    public func record(_ events: [Event]) async throws {
        var order: [String] = []
        var byUser: [String: [Event]] = [:]
        for event in events {
            if byUser[event.user] == nil { order.append(event.user) }
            byUser[event.user, default: []].append(event)
        }
        for user in order { versions[user, default: 0] += 1 }
        for user in order {
            // A user not in memory is read from the store, which already holds these events,
            // when first asked for; a read under way sees the version change and reads again.
            guard recent[user] != nil else { continue }
            recent[user]!.append(contentsOf: byUser[user]!)
            if recent[user]!.count > capacity { recent[user]!.removeFirst(recent[user]!.count - capacity) }
        }
    }

    /// The user's newest events, oldest first (from the store on first use).
    public func events(of user: String) async throws -> [Event] {
        if let cached = recent[user] { return cached }
        while true {
            let before = versions[user, default: 0]
            let loaded = try await store.recentEvents(ofUser: user, limit: capacity)
            // Another call may have filled the entry while the store was read.
            if let cached = recent[user] { return cached }
            // Events recorded during the read may be missing from it: read again.
            guard versions[user, default: 0] == before else { continue }
            recent[user] = loaded
            return loaded
        }
    }

    /// The user's newest events and the version of that history.
    public func snapshot(of user: String) async throws -> (events: [Event], version: Int) {
        let events = try await self.events(of: user)
        return (events, versions[user, default: 0])
    }

    /// Drops what is known of the user (after they are deleted from the store).
    public func forget(_ user: String) {
        recent.removeValue(forKey: user)
        versions[user, default: 0] += 1
    }

    /// Users held in memory.
    public var userCount: Int { recent.count }
}
