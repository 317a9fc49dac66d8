import SwiftRecData

/// A user's events as models read them: item ids and times, oldest first, in the order the
/// store recorded them. About 24 bytes an event (ids of up to 15 UTF-8 bytes are held inline).
public struct UserHistory: Sendable, Equatable {
    public private(set) var items: [String] = []
    public private(set) var timestamps: [Int64] = []
    /// Heap bytes of ids too long to be held inline, kept up to date by every change.
    private var outOfLineBytes = 0

    public init() {}

    public init(_ events: some Sequence<Event>) {
        append(contentsOf: events)
    }

    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }

    public mutating func append(contentsOf events: some Sequence<Event>) {
        for event in events {
            items.append(event.item)
            timestamps.append(event.timestamp)
            outOfLineBytes += Self.outOfLine(event.item)
        }
    }

    /// Keeps the newest `count` events.
    public mutating func keepNewest(_ count: Int) {
        let excess = items.count - max(count, 0)
        guard excess > 0 else { return }
        for item in items[..<excess] { outOfLineBytes -= Self.outOfLine(item) }
        items.removeFirst(excess)
        timestamps.removeFirst(excess)
    }

    /// Memory held, estimated: the arrays plus the heap storage of long ids.
    public var bytes: Int { 64 + items.count * 24 + outOfLineBytes }

    private static func outOfLine(_ id: String) -> Int {
        let length = id.utf8.count
        return length > 15 ? length + 32 : 0
    }
}
