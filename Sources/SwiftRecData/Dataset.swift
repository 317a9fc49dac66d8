/// Events as parallel columns over dense user and item indices.
public struct InteractionLog: Sendable, Equatable {
    public var users: [Int32] = []
    public var items: [Int32] = []
    public var timestamps: [Int64] = []
    /// The event's value, or NaN when it has none.
    public var values: [Float] = []
    public var types: [EventType] = []
    /// Where each event happened, as an index into ``Dataset/scenarios``; ``noScenario`` when
    /// the source names none.
    public var scenarios: [Int32] = []

    /// The scenario index of an event whose source names no scenario.
    public static let noScenario: Int32 = -1

    public init() {}

    public var count: Int { users.count }

    public mutating func append(
        user: Int32, item: Int32, timestamp: Int64, value: Float, type: EventType, scenario: Int32 = noScenario
    ) {
        users.append(user)
        items.append(item)
        timestamps.append(timestamp)
        values.append(value)
        types.append(type)
        scenarios.append(scenario)
    }
}

/// Each user's items in time order, stored compactly (CSR): user u's items are
/// `items[offsets[u]..<offsets[u + 1]]`.
public struct UserSequences: Sendable, Equatable {
    public let offsets: [Int]
    public let items: [Int32]
    public let timestamps: [Int64]

    public var userCount: Int { offsets.count - 1 }

    /// User `u`'s items, oldest first.
    public func items(of u: Int) -> ArraySlice<Int32> { items[offsets[u]..<offsets[u + 1]] }

    /// User `u`'s event times, oldest first.
    public func timestamps(of u: Int) -> ArraySlice<Int64> { timestamps[offsets[u]..<offsets[u + 1]] }

    /// Builds sequences from a log; events of one user with equal times keep their log order.
    public init(log: InteractionLog, userCount: Int) {
        var counts = [Int](repeating: 0, count: userCount + 1)
        for u in log.users { counts[Int(u) + 1] += 1 }
        for u in 0..<userCount { counts[u + 1] += counts[u] }
        var cursor = counts
        var order = [Int](repeating: 0, count: log.count)
        for (i, u) in log.users.enumerated() {
            order[cursor[Int(u)]] = i
            cursor[Int(u)] += 1
        }
        for u in 0..<userCount {
            let range = counts[u]..<counts[u + 1]
            // Stable: ties keep the order events were logged in.
            let sorted = order[range].enumerated().sorted {
                (log.timestamps[$0.element], $0.offset) < (log.timestamps[$1.element], $1.offset)
            }.map(\.element)
            order.replaceSubrange(range, with: sorted)
        }
        offsets = counts
        items = order.map { log.items[$0] }
        timestamps = order.map { log.timestamps[$0] }
    }

    public init(offsets: [Int], items: [Int32], timestamps: [Int64]) {
        precondition(offsets.first == 0 && offsets.last == items.count && items.count == timestamps.count)
        self.offsets = offsets
        self.items = items
        self.timestamps = timestamps
    }
}

/// Users, items, their events and features, over dense indices.
public struct Dataset: Sendable {
    public private(set) var users: IDMap
    public private(set) var items: IDMap
    public private(set) var log: InteractionLog
    /// Item features by item index (nil where unknown).
    public var itemInfo: [Item?]
    /// User features by user index (nil where unknown).
    public var userInfo: [User?]
    /// Per-user time-ordered item sequences, derived from `log`.
    public private(set) var sequences: UserSequences
    /// The names of the scenarios events happened in (`home`, `search`, …): the log's
    /// ``InteractionLog/scenarios`` index them. Empty when no event names one.
    public private(set) var scenarios: IDMap

    public init(
        users: IDMap, items: IDMap, log: InteractionLog, itemInfo: [Item?] = [], userInfo: [User?] = [],
        scenarios: IDMap = IDMap()
    ) {
        precondition(
            log.scenarios.allSatisfy { $0 == InteractionLog.noScenario || (0..<Int32(scenarios.count)).contains($0) },
            "Dataset: an event's scenario index is outside the \(scenarios.count) scenario names")
        self.users = users
        self.items = items
        self.scenarios = scenarios
        self.log = log
        self.itemInfo = itemInfo + Array(repeating: nil, count: max(0, items.count - itemInfo.count))
        self.userInfo = userInfo + Array(repeating: nil, count: max(0, users.count - userInfo.count))
        self.sequences = UserSequences(log: log, userCount: users.count)
    }

    /// Changes event values in place; values are not part of ``sequences``, so those stay valid.
    public mutating func updateEventValues<R>(_ body: (inout [Float]) throws -> R) rethrows -> R {
        try body(&log.values)
    }

    /// The name of scenario index `index` (an entry of ``InteractionLog/scenarios``), nil for
    /// ``InteractionLog/noScenario``.
    public func scenarioName(_ index: Int32) -> String? {
        index == InteractionLog.noScenario ? nil : scenarios.id(at: index)
    }

    public var userCount: Int { users.count }
    public var itemCount: Int { items.count }
    public var eventCount: Int { log.count }
}

/// The sizes of the data a fit's memory depends on.
public struct DataShape: Codable, Sendable, Equatable, CustomStringConvertible {
    public var users: Int
    public var items: Int
    public var events: Int

    public init(users: Int, items: Int, events: Int) {
        self.users = users
        self.items = items
        self.events = events
    }

    public init(_ dataset: Dataset) {
        self.init(users: dataset.userCount, items: dataset.itemCount, events: dataset.eventCount)
    }

    public var description: String { "\(users) users, \(items) items, \(events) events" }
}
