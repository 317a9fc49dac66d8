import Foundation
import SwiftRecData

/// The newest events of each active user, in memory and backed by the store: an event
/// recorded here counts in the user's next recommendation, without retraining. At most
/// `maxUsers` users are held; the least recently used are dropped and read again from the
/// store when next asked for.
public actor LiveInterests {
    public let store: any RecommendationStore
    /// Events kept per user (the longest history a model reads is enough).
    public let capacity: Int
    /// Users held in memory at most.
    public let maxUsers: Int

    private struct Entry {
        var events: [Event]
        /// Changes whenever the history changes; a number is never given out twice, so a result
        /// computed from a history that was dropped and read again is never taken for current.
        var version: Int
        var lastUse: Int
    }
    private var entries: [String: Entry] = [:]
    private var clock = 0
    /// Users whose history is being read from the store: how many reads are under way and
    /// how often the history changed since the first began.
    private var reads: [String: (readers: Int, changes: Int)] = [:]
    /// Users with a write under way (store first, then memory), and how many.
    private var writing: [String: Int] = [:]

    public init(store: any RecommendationStore, capacity: Int = 200, maxUsers: Int = 100_000) {
        self.store = store
        self.capacity = max(capacity, 1)
        self.maxUsers = max(maxUsers, 1)
    }

    private func tick() -> Int {
        clock += 1
        return clock
    }

    /// Stores events durably, then adds them to the users held in memory, so the next
    /// recommendation counts them. A user first read while the write is under way is not kept
    /// from that read (it may or may not hold the new events); the next request reads again.
    public func append(_ events: [Event]) async throws {
        var order: [String] = []
        var byUser: [String: [Event]] = [:]
        for event in events {
            if byUser[event.user] == nil { order.append(event.user) }
            byUser[event.user, default: []].append(event)
        }
        for user in order { writing[user, default: 0] += 1 }
        defer {
            for user in order {
                writing[user]! -= 1
                if writing[user] == 0 { writing[user] = nil }
            }
        }
        try await store.append(events)
        for user in order {
            // A user not in memory is read from the store, which now holds these events, when
            // first asked for; a read under way is told to read again.
            guard entries[user] != nil else {
                reads[user]?.changes += 1
                continue
            }
            entries[user]!.events.append(contentsOf: byUser[user]!)
            let excess = entries[user]!.events.count - capacity
            if excess > 0 { entries[user]!.events.removeFirst(excess) }
            entries[user]!.version = tick()
        }
    }

    /// The user's newest events, oldest first (from the store on first use).
    public func events(of user: String) async throws -> [Event] {
        try await snapshot(of: user).events
    }

    /// The user's newest events and the version of that history.
    public func snapshot(of user: String) async throws -> (events: [Event], version: Int) {
        if var entry = entries[user] {
            entry.lastUse = tick()
            entries[user] = entry
            return (entry.events, entry.version)
        }
        reads[user, default: (0, 0)].readers += 1
        defer {
            reads[user]!.readers -= 1
            if reads[user]!.readers == 0 { reads[user] = nil }
        }
        while true {
            let before = reads[user]!.changes
            let loaded = try await store.recentEvents(ofUser: user, limit: capacity)
            // Another call may have filled the entry while the store was read.
            if let entry = entries[user] { return (entry.events, entry.version) }
            // Events recorded during the read may be missing from it: read again.
            guard reads[user]!.changes == before else { continue }
            // A write under way may or may not be in the read: answer from it, keep nothing.
            guard writing[user] == nil else { return (loaded, tick()) }
            let entry = Entry(events: loaded, version: tick(), lastUse: clock)
            entries[user] = entry
            evictIfFull()
            return (entry.events, entry.version)
        }
    }

    /// Drops what is known of the user (after they are deleted from the store).
    public func forget(_ user: String) {
        entries.removeValue(forKey: user)
        reads[user]?.changes += 1
    }

    /// Users held in memory.
    public var userCount: Int { entries.count }

    /// Beyond `maxUsers`, drops the least recently used tenth (at least one), so the sort is
    /// paid once per many insertions.
    private func evictIfFull() {
        guard entries.count > maxUsers else { return }
        let excess = entries.count - maxUsers + max(maxUsers / 10, 1) - 1
        let oldest = entries.sorted { $0.value.lastUse < $1.value.lastUse }.prefix(excess)
        for (user, _) in oldest { entries.removeValue(forKey: user) }
    }
}
