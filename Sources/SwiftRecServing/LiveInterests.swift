import Foundation
import SwiftRecData

/// Each active user's whole history, in memory and backed by the store: an event recorded here
/// counts in the user's next recommendation, without retraining, and every item the user ever
/// had counts as seen. Memory is bounded in bytes: beyond ``maxBytes`` the least recently used
/// users are dropped and read again from the store when next asked for. A user with no events
/// is never held, so asking for unknown users allocates nothing.
public actor LiveInterests {
    public let store: any RecommendationStore
    /// The most events read and held for one user: longer histories keep their newest events.
    public let historyLimit: Int
    /// Memory the held histories may take, estimated by ``UserHistory/bytes``.
    public let maxBytes: Int

    private struct Entry {
        var history: UserHistory
        /// Changes whenever the history changes; a number is never given out twice, so a result
        /// computed from a history that was dropped and read again is never taken for current.
        var version: Int
        var lastUse: Int
    }
    private var entries: [String: Entry] = [:]
    private var heldBytes = 0
    private var clock = 0
    /// Users whose history is being read from the store: how many reads are under way and
    /// how often the history changed since the first began.
    private var reads: [String: (readers: Int, changes: Int)] = [:]
    /// Users with a write under way (store first, then memory), and how many.
    private var writing: [String: Int] = [:]

    public init(store: any RecommendationStore, historyLimit: Int = 1_000_000, maxBytes: Int = 512 << 20) {
        self.store = store
        self.historyLimit = max(historyLimit, 1)
        self.maxBytes = max(maxBytes, 1)
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
            guard var entry = entries[user] else {
                reads[user]?.changes += 1
                continue
            }
            heldBytes -= entry.history.bytes
            entry.history.append(contentsOf: byUser[user]!)
            entry.history.keepNewest(historyLimit)
            entry.version = tick()
            heldBytes += entry.history.bytes
            entries[user] = entry
        }
        evictIfFull(keeping: nil)
    }

    /// The user's history, oldest first (from the store on first use).
    public func history(of user: String) async throws -> UserHistory {
        try await snapshot(of: user).history
    }

    /// The user's history and the version of that history.
    public func snapshot(of user: String) async throws -> (history: UserHistory, version: Int) {
        if var entry = entries[user] {
            entry.lastUse = tick()
            entries[user] = entry
            return (entry.history, entry.version)
        }
        reads[user, default: (0, 0)].readers += 1
        defer {
            reads[user]!.readers -= 1
            if reads[user]!.readers == 0 { reads[user] = nil }
        }
        while true {
            let before = reads[user]!.changes
            let loaded = UserHistory(try await store.recentEvents(ofUser: user, limit: historyLimit))
            // Another call may have filled the entry while the store was read.
            if let entry = entries[user] { return (entry.history, entry.version) }
            // Events recorded during the read may be missing from it: read again.
            guard reads[user]!.changes == before else { continue }
            // A write under way may or may not be in the read, and an unknown user has nothing
            // worth holding: answer from the read, keep nothing.
            guard writing[user] == nil, !loaded.isEmpty else { return (loaded, tick()) }
            let entry = Entry(history: loaded, version: tick(), lastUse: clock)
            entries[user] = entry
            heldBytes += loaded.bytes
            evictIfFull(keeping: user)
            return (entry.history, entry.version)
        }
    }

    /// Drops what is known of the user (after they are deleted from the store).
    public func forget(_ user: String) {
        if let entry = entries.removeValue(forKey: user) { heldBytes -= entry.history.bytes }
        reads[user]?.changes += 1
    }

    /// Users held in memory.
    public var userCount: Int { entries.count }

    /// Bytes the held histories take (estimated).
    public var bytesHeld: Int { heldBytes }

    /// Beyond ``maxBytes``, drops the least recently used users until a tenth of the budget is
    /// free, so the sort is paid once per many insertions; `keeping` (just read) stays.
    private func evictIfFull(keeping kept: String?) {
        guard heldBytes > maxBytes else { return }
        let target = maxBytes - maxBytes / 10
        for (user, entry) in entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
            guard heldBytes > target else { break }
            if user == kept { continue }
            entries.removeValue(forKey: user)
            heldBytes -= entry.history.bytes
        }
    }
}
