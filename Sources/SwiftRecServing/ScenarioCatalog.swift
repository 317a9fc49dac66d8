import Foundation
import SwiftRecData
import Synchronization

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

    /// Drops every count, so each scenario is read from the store again: after a user is
    /// deleted, their events no longer count anywhere.
    public func forgetCounts() { entries.withLock { $0.removeAll() } }
}
