// Preprocessing: functions on `Dataset` that return a new `Dataset`.
//
// Id maps after filtering. A step that removes events rebuilds the user and item `IDMap`s
// densely: ids that are dropped disappear, the ids that stay keep their string id, their
// features (`itemInfo`, `userInfo`) and their relative order, and are numbered 0..<n again.
// When no id is dropped the maps are equal to the input's, so indices do not move. Which ids
// are dropped: for `kCore(users:items:)`, every id left with fewer than k events; for the
// other filters, every id that had events before the step and has none after it (ids that had
// no events to begin with, such as cold-start items known only from their features, stay).
//
// Every step has a form that appends what it did to a `PreprocessingReport`.

/// What preprocessing steps removed or changed, one entry per step in the order applied.
public struct PreprocessingReport: Sendable, Equatable, CustomStringConvertible {
    /// What one step did.
    public struct Step: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var eventsBefore: Int
        public var eventsRemoved: Int
        /// Events whose value was filled in (missing-value filling) or rewritten (implicit feedback).
        public var valuesChanged: Int
        public var usersRemoved: Int
        public var itemsRemoved: Int
        /// Passes over the events that removed something (k-core); 1 for single-pass steps that removed events.
        public var rounds: Int

        public init(
            name: String, eventsBefore: Int, eventsRemoved: Int = 0, valuesChanged: Int = 0, usersRemoved: Int = 0,
            itemsRemoved: Int = 0, rounds: Int = 0
        ) {
            self.name = name
            self.eventsBefore = eventsBefore
            self.eventsRemoved = eventsRemoved
            self.valuesChanged = valuesChanged
            self.usersRemoved = usersRemoved
            self.itemsRemoved = itemsRemoved
            self.rounds = rounds
        }

        public var description: String {
            var text = "\(name): \(eventsBefore) events, removed \(eventsRemoved)"
            if valuesChanged > 0 { text += ", changed \(valuesChanged) values" }
            if usersRemoved > 0 || itemsRemoved > 0 {
                text += ", dropped \(usersRemoved) users and \(itemsRemoved) items"
            }
            if rounds > 1 { text += " in \(rounds) rounds" }
            return text
        }
    }

    public var steps: [Step] = []

    public init() {}

    public var eventsRemoved: Int { steps.reduce(0) { $0 + $1.eventsRemoved } }

    public var description: String { steps.map(\.description).joined(separator: "\n") }
}

/// Which events count as duplicates of each other. The first in log order is kept.
public enum DeduplicationRule: Sendable, Equatable {
    /// Same user, item, time, type and value (missing values are equal to each other).
    case exact
    /// Same user, item and time, whatever the type and value.
    case sameUserItemTime
}

/// What to do with events whose value is missing (NaN).
public enum MissingValuePolicy: Sendable, Equatable {
    /// Remove those events.
    case drop
    /// Fill with the mean of the present values.
    case mean
    /// Fill with the median of the present values (the mean of the two middle ones for an even count).
    case median
    /// Fill with the most frequent present value (the smallest of equally frequent ones).
    case mode
    /// Fill with a fixed value.
    case constant(Float)
}

extension Dataset {
    // MARK: Deduplication

    /// The dataset without duplicate events (see ``DeduplicationRule``); the first event of each
    /// group of duplicates, in log order, is kept. No id loses all its events, so the id maps stay the same.
    public func deduplicated(_ rule: DeduplicationRule = .exact) -> Dataset {
        var report = PreprocessingReport()
        return deduplicated(rule, report: &report)
    }

    public func deduplicated(_ rule: DeduplicationRule, report: inout PreprocessingReport) -> Dataset {
        let exact = rule == .exact
        // Duplicates share user and time, so they are neighbours in sequence order: a run of one
        // user's events with equal times, in log order. Each event is compared with the kept
        // events before it in its run (long runs use a hash set instead).
        struct Key: Hashable {
            var item: Int32, type: EventType?, value: UInt32
        }
        let order = sequenceOrder()
        var keep = [Bool](repeating: true, count: eventCount)
        var seen = Set<Key>()
        var kept: [Int] = []
        log.users.withUnsafeBufferPointer { users in
            log.items.withUnsafeBufferPointer { items in
                log.timestamps.withUnsafeBufferPointer { times in
                    log.values.withUnsafeBufferPointer { values in
                        // All NaNs are one "missing" value; 0 and -0 are equal.
                        func valueKey(_ e: Int) -> UInt32 {
                            let v = values[e]
                            return v.isNaN ? Float.nan.bitPattern : (v == 0 ? 0 : v.bitPattern)
                        }
                        func key(_ e: Int) -> Key {
                            exact
                                ? Key(item: items[e], type: log.types[e], value: valueKey(e))
                                : Key(item: items[e], type: nil, value: 0)
                        }
                        var start = 0
                        while start < order.count {
                            let first = order[start]
                            var end = start + 1
                            while end < order.count && users[order[end]] == users[first]
                                && times[order[end]] == times[first]
                            {
                                end += 1
                            }
                            if end - start > 64 {
                                seen.removeAll(keepingCapacity: true)
                                for p in start..<end { keep[order[p]] = seen.insert(key(order[p])).inserted }
                            } else if end - start > 1 {
                                kept.removeAll(keepingCapacity: true)
                                for p in start..<end {
                                    let e = order[p]
                                    let duplicate = kept.contains { k in
                                        items[k] == items[e]
                                            && (!exact || (log.types[k] == log.types[e] && valueKey(k) == valueKey(e)))
                                    }
                                    if duplicate { keep[e] = false } else { kept.append(e) }
                                }
                            }
                            start = end
                        }
                    }
                }
            }
        }
        let name = exact ? "deduplicate (exact)" : "deduplicate (same user, item and time)"
        return filteringEvents(keep, step: name, report: &report)
    }

    // MARK: Missing values

    /// The dataset with missing event values (NaN) dropped or filled (see ``MissingValuePolicy``).
    ///
    /// The statistic is computed over the present values of the whole log. When no value is
    /// present there is nothing to compute it from and the values stay missing (`.drop` then
    /// removes every event — an implicit-feedback log has no values at all).
    public func fillingMissingValues(_ policy: MissingValuePolicy) -> Dataset {
        var report = PreprocessingReport()
        return fillingMissingValues(policy, report: &report)
    }

    public func fillingMissingValues(_ policy: MissingValuePolicy, report: inout PreprocessingReport) -> Dataset {
        let values = log.values
        if policy == .drop {
            return filteringEvents(values.map { !$0.isNaN }, step: "drop missing values", report: &report)
        }
        let fill: Float?
        let name: String
        switch policy {
        case .drop: preconditionFailure("handled above")
        case .mean:
            name = "fill missing values with the mean"
            fill = Self.mean(of: values)
        case .median:
            name = "fill missing values with the median"
            fill = Self.median(of: values)
        case .mode:
            name = "fill missing values with the mode"
            fill = Self.mode(of: values)
        case .constant(let c):
            name = "fill missing values with \(c)"
            fill = c
        }
        var step = PreprocessingReport.Step(name: name, eventsBefore: eventCount)
        var result = self
        if let fill {
            var filled = 0
            result.updateEventValues {
                $0.withUnsafeMutableBufferPointer { v in
                    for e in v.indices where v[e].isNaN {
                        v[e] = fill
                        filled += 1
                    }
                }
            }
            step.valuesChanged = filled
        }
        report.steps.append(step)
        return result
    }

    /// The mean of the present (non-NaN) values, or nil when there are none.
    static func mean(of values: [Float]) -> Float? {
        var sum = 0.0
        var count = 0
        values.withUnsafeBufferPointer { v in
            for x in v where !x.isNaN {
                sum += Double(x)
                count += 1
            }
        }
        return count == 0 ? nil : Float(sum / Double(count))
    }

    /// The median of the present values, or nil when there are none.
    static func median(of values: [Float]) -> Float? {
        let present = values.filter { !$0.isNaN }.sorted()
        guard !present.isEmpty else { return nil }
        let mid = present.count / 2
        if present.count % 2 == 1 { return present[mid] }
        return Float((Double(present[mid - 1]) + Double(present[mid])) / 2)
    }

    /// The most frequent present value (the smallest of equally frequent ones), or nil when there are none.
    static func mode(of values: [Float]) -> Float? {
        let present = values.filter { !$0.isNaN }.sorted()
        guard var best = present.first else { return nil }
        var bestCount = 0
        var start = 0
        while start < present.count {
            var end = start + 1
            while end < present.count && present[end] == present[start] { end += 1 }
            if end - start > bestCount {
                bestCount = end - start
                best = present[start]
            }
            start = end
        }
        return best
    }

    // MARK: Implicit feedback

    /// Implicit feedback from ratings: keeps the events whose value is at least `threshold`
    /// (missing values never pass — fill them first to keep them). The kept events' values
    /// become 1 unless `keepValues` is true.
    public func implicit(threshold: Float, keepValues: Bool = false) -> Dataset {
        var report = PreprocessingReport()
        return implicit(threshold: threshold, keepValues: keepValues, report: &report)
    }

    public func implicit(threshold: Float, keepValues: Bool = false, report: inout PreprocessingReport) -> Dataset {
        // NaN >= threshold is false, so missing values are dropped.
        let keep = log.values.map { $0 >= threshold }
        var result = filteringEvents(keep, step: "implicit (value >= \(threshold))", report: &report)
        if !keepValues {
            var changed = 0
            result.updateEventValues {
                $0.withUnsafeMutableBufferPointer { v in
                    for e in v.indices where v[e] != 1 {
                        v[e] = 1
                        changed += 1
                    }
                }
            }
            report.steps[report.steps.count - 1].valuesChanged = changed
        }
        return result
    }

    // MARK: k-core

    /// The k-core: repeatedly removes the events of users with fewer than `users` events and of
    /// items with fewer than `items` events until every remaining user and item has enough
    /// (removing an item's events can push a user below its k, and the other way round).
    ///
    /// Counts are events, not distinct items: deduplicate first to count each pair once. Users
    /// and items left with fewer than k events are dropped and the id maps rebuilt densely
    /// (see the note at the top of this file); with k = 0 nobody is dropped on that side.
    public func kCore(users userK: Int, items itemK: Int) -> Dataset {
        var report = PreprocessingReport()
        return kCore(users: userK, items: itemK, report: &report)
    }

    public func kCore(users userK: Int, items itemK: Int, report: inout PreprocessingReport) -> Dataset {
        precondition(userK >= 0 && itemK >= 0, "kCore: k must not be negative (users \(userK), items \(itemK))")
        let n = eventCount
        var alive = [Bool](repeating: true, count: n)
        var userDegree = [Int](repeating: 0, count: userCount)
        var itemDegree = [Int](repeating: 0, count: itemCount)
        var rounds = 0
        log.users.withUnsafeBufferPointer { users in
            log.items.withUnsafeBufferPointer { items in
                alive.withUnsafeMutableBufferPointer { alive in
                    userDegree.withUnsafeMutableBufferPointer { ud in
                        itemDegree.withUnsafeMutableBufferPointer { id in
                            for e in 0..<n {
                                ud[Int(users[e])] += 1
                                id[Int(items[e])] += 1
                            }
                            // Each round removes, against the counts at its start, every event of a user or
                            // item below its k; then the counts are updated. Stops at the first round
                            // that removes nothing.
                            var removed: [Int] = []
                            while true {
                                removed.removeAll(keepingCapacity: true)
                                for e in 0..<n where alive[e] {
                                    if ud[Int(users[e])] < userK || id[Int(items[e])] < itemK {
                                        alive[e] = false
                                        removed.append(e)
                                    }
                                }
                                if removed.isEmpty { break }
                                rounds += 1
                                for e in removed {
                                    ud[Int(users[e])] -= 1
                                    id[Int(items[e])] -= 1
                                }
                            }
                        }
                    }
                }
            }
        }
        let keepUser = userDegree.map { $0 >= userK }
        let keepItem = itemDegree.map { $0 >= itemK }
        var step = PreprocessingReport.Step(name: "\(userK)-core users, \(itemK)-core items", eventsBefore: n)
        let result = rebuilt(keepingEvents: alive, users: keepUser, items: keepItem, step: &step)
        step.rounds = rounds
        report.steps.append(step)
        return result
    }

    // MARK: Rebuilding

    /// Keeps the events marked in `keep`; drops the ids that lose all their events.
    func filteringEvents(_ keep: [Bool], step name: String, report: inout PreprocessingReport) -> Dataset {
        var before = [Int32](repeating: 0, count: userCount)
        var after = [Int32](repeating: 0, count: userCount)
        var itemBefore = [Int32](repeating: 0, count: itemCount)
        var itemAfter = [Int32](repeating: 0, count: itemCount)
        var removed = 0
        log.users.withUnsafeBufferPointer { users in
            log.items.withUnsafeBufferPointer { items in
                keep.withUnsafeBufferPointer { keep in
                    for e in 0..<keep.count {
                        let u = Int(users[e])
                        let i = Int(items[e])
                        before[u] += 1
                        itemBefore[i] += 1
                        if keep[e] {
                            after[u] += 1
                            itemAfter[i] += 1
                        } else {
                            removed += 1
                        }
                    }
                }
            }
        }
        let keepUser = (0..<userCount).map { after[$0] > 0 || before[$0] == 0 }
        let keepItem = (0..<itemCount).map { itemAfter[$0] > 0 || itemBefore[$0] == 0 }
        var step = PreprocessingReport.Step(name: name, eventsBefore: eventCount)
        let result =
            removed == 0 ? self : rebuilt(keepingEvents: keep, users: keepUser, items: keepItem, step: &step)
        step.rounds = removed > 0 ? 1 : 0
        report.steps.append(step)
        return result
    }

    /// A dataset with the kept events (in log order) over densely rebuilt id maps that hold the
    /// kept ids in their old relative order, with their features. Every kept event's user and item must be kept.
    func rebuilt(
        keepingEvents keep: [Bool], users keepUser: [Bool], items keepItem: [Bool], step: inout PreprocessingReport.Step
    )
        -> Dataset
    {
        func remap(_ map: IDMap, _ keep: [Bool]) -> (IDMap, [Int32]) {
            var newIndex = [Int32](repeating: -1, count: map.count)
            var ids: [String] = []
            ids.reserveCapacity(map.count)
            for old in 0..<map.count where keep[old] {
                newIndex[old] = Int32(ids.count)
                ids.append(map.ids[old])
            }
            return (ids.count == map.count ? map : IDMap(ids), newIndex)
        }
        let (userMap, userIndex) = remap(users, keepUser)
        let (itemMap, itemIndex) = remap(items, keepItem)
        var newLog = log.keeping(keep)
        let kept = newLog.count
        userIndex.withUnsafeBufferPointer { userIndex in
            itemIndex.withUnsafeBufferPointer { itemIndex in
                newLog.users.withUnsafeMutableBufferPointer { users in
                    newLog.items.withUnsafeMutableBufferPointer { items in
                        for e in 0..<kept {
                            users[e] = userIndex[Int(users[e])]
                            items[e] = itemIndex[Int(items[e])]
                            precondition(
                                users[e] >= 0 && items[e] >= 0, "a kept event refers to a dropped user or item")
                        }
                    }
                }
            }
        }
        var newItemInfo: [Item?] = []
        newItemInfo.reserveCapacity(itemMap.count)
        for old in 0..<itemCount where keepItem[old] { newItemInfo.append(itemInfo[old]) }
        var newUserInfo: [User?] = []
        newUserInfo.reserveCapacity(userMap.count)
        for old in 0..<userCount where keepUser[old] { newUserInfo.append(userInfo[old]) }
        step.eventsRemoved = log.count - kept
        step.usersRemoved = userCount - userMap.count
        step.itemsRemoved = itemCount - itemMap.count
        return Dataset(
            users: userMap, items: itemMap, log: newLog, itemInfo: newItemInfo, userInfo: newUserInfo,
            scenarios: scenarios)
    }

    // MARK: Time features

    /// Hour, weekday and recency bucket of every event, aligned with `log` (log order).
    ///
    /// - Parameters:
    ///   - reference: the time recency is measured from; by default the latest event time.
    ///   - buckets: the recency bucket edges.
    public func timeFeatures(reference: Int64? = nil, buckets: RecencyBuckets = .standard) -> TimeFeatureColumns {
        let ref = reference ?? (log.timestamps.max() ?? 0)
        let n = eventCount
        var hours = [UInt8](repeating: 0, count: n)
        var weekdays = [UInt8](repeating: 0, count: n)
        var recency = [UInt8](repeating: 0, count: n)
        log.timestamps.withUnsafeBufferPointer { times in
            hours.withUnsafeMutableBufferPointer { hours in
                weekdays.withUnsafeMutableBufferPointer { weekdays in
                    recency.withUnsafeMutableBufferPointer { recency in
                        for e in 0..<n {
                            let t = times[e]
                            hours[e] = UInt8(TimeFeatures.hour(of: t))
                            weekdays[e] = UInt8(TimeFeatures.weekday(of: t))
                            recency[e] = UInt8(buckets.bucket(age: ref - t))
                        }
                    }
                }
            }
        }
        return TimeFeatureColumns(reference: ref, hours: hours, weekdays: weekdays, recencyBuckets: recency)
    }

    // MARK: Sessions

    /// Cuts each user's sequence into sessions: a new session starts at a user's first event and
    /// at every event that comes more than `gap` seconds after that user's previous event
    /// (a pause of exactly `gap` stays in the session).
    public func sessions(gap: Int64) -> SessionBoundaries {
        precondition(gap >= 0, "sessions(gap:): the gap must not be negative, got \(gap)")
        let offsets = sequences.offsets
        let n = sequences.items.count
        var bounds: [Int] = [0]
        var userOffsets = [Int](repeating: 0, count: userCount + 1)
        var sessionOfEvent = [Int32](repeating: 0, count: n)
        var session = -1
        sequences.timestamps.withUnsafeBufferPointer { times in
            sessionOfEvent.withUnsafeMutableBufferPointer { sessionOf in
                for u in 0..<userCount {
                    userOffsets[u] = session + 1
                    for p in offsets[u]..<offsets[u + 1] {
                        if p == offsets[u] || times[p] - times[p - 1] > gap {
                            if session >= 0 { bounds.append(p) }
                            session += 1
                        }
                        sessionOf[p] = Int32(session)
                    }
                }
            }
        }
        if session >= 0 { bounds.append(n) }
        userOffsets[userCount] = session + 1
        return SessionBoundaries(gap: gap, bounds: bounds, userOffsets: userOffsets, sessionOfEvent: sessionOfEvent)
    }
}

/// Calendar features of a time, in UTC.
///
/// - `hour`: 0...23.
/// - `weekday`: 0...6 with **Monday = 0** … Sunday = 6 (ISO 8601 order, counted from zero).
///   1970-01-01 was a Thursday (3).
/// - `recencyBucket`: how long before a reference time the event happened, in the buckets of
///   ``RecencyBuckets``.
public struct TimeFeatures: Sendable, Equatable {
    public var hour: Int
    public var weekday: Int
    public var recencyBucket: Int

    public init(timestamp: Int64, reference: Int64, buckets: RecencyBuckets = .standard) {
        hour = Self.hour(of: timestamp)
        weekday = Self.weekday(of: timestamp)
        recencyBucket = buckets.bucket(age: reference - timestamp)
    }

    /// The UTC hour of day (0...23) of a time in seconds since 1970; also right before 1970.
    public static func hour(of timestamp: Int64) -> Int {
        let secondOfDay = ((timestamp % 86_400) + 86_400) % 86_400
        return Int(secondOfDay / 3600)
    }

    /// The UTC day of week, Monday = 0 … Sunday = 6, of a time in seconds since 1970.
    public static func weekday(of timestamp: Int64) -> Int {
        // Floor division, so times before 1970 fall on the right day.
        let day = timestamp >= 0 ? timestamp / 86_400 : (timestamp - 86_399) / 86_400
        return Int(((day + 3) % 7 + 7) % 7)
    }
}

/// Recency buckets by the age of an event (reference time minus event time, in seconds).
///
/// With edges `e0 < e1 < … < e(k-1)`, bucket 0 is `age < e0`, bucket j is `e(j-1) <= age < ej`,
/// and bucket k is `age >= e(k-1)`. Events after the reference time (negative age) fall in bucket 0.
public struct RecencyBuckets: Sendable, Equatable {
    public let edges: [Int64]

    public init(edges: [Int64]) {
        precondition(zip(edges, edges.dropFirst()).allSatisfy { $0 < $1 }, "RecencyBuckets: edges must increase")
        precondition(edges.count < 255, "RecencyBuckets: at most 254 edges")
        self.edges = edges
    }

    /// Under an hour (0), under a day (1), under a week (2), under 30 days (3), under 365 days (4), older (5).
    public static let standard = RecencyBuckets(edges: [3600, 86_400, 7 * 86_400, 30 * 86_400, 365 * 86_400])

    /// The number of buckets, `edges.count + 1`.
    public var count: Int { edges.count + 1 }

    public func bucket(age: Int64) -> Int {
        var b = 0
        while b < edges.count && age >= edges[b] { b += 1 }
        return b
    }
}

/// Time features of every event of a dataset, aligned with its `log` (see ``TimeFeatures``).
public struct TimeFeatureColumns: Sendable, Equatable {
    /// The time recency is measured from.
    public var reference: Int64
    public var hours: [UInt8]
    /// Monday = 0 … Sunday = 6, UTC.
    public var weekdays: [UInt8]
    public var recencyBuckets: [UInt8]

    public init(reference: Int64, hours: [UInt8], weekdays: [UInt8], recencyBuckets: [UInt8]) {
        self.reference = reference
        self.hours = hours
        self.weekdays = weekdays
        self.recencyBuckets = recencyBuckets
    }
}

/// Sessions over a dataset's per-user sequences (see `Dataset.sessions(gap:)`). Positions index
/// `dataset.sequences.items` / `.timestamps`; sessions are numbered 0..<count, user by user.
public struct SessionBoundaries: Sendable, Equatable {
    /// The inactivity gap in seconds; a longer pause starts a new session.
    public let gap: Int64
    /// Session s covers sequence positions `bounds[s]..<bounds[s + 1]`.
    public let bounds: [Int]
    /// User u's sessions are `userOffsets[u]..<userOffsets[u + 1]`.
    public let userOffsets: [Int]
    /// The session of each event in sequence order (aligned with `dataset.sequences.items`).
    public let sessionOfEvent: [Int32]

    public init(gap: Int64, bounds: [Int], userOffsets: [Int], sessionOfEvent: [Int32]) {
        self.gap = gap
        self.bounds = bounds
        self.userOffsets = userOffsets
        self.sessionOfEvent = sessionOfEvent
    }

    public var count: Int { bounds.count - 1 }

    /// The sessions of user `u`.
    public func sessions(of u: Int) -> Range<Int> { userOffsets[u]..<userOffsets[u + 1] }

    /// The sequence positions of session `s`.
    public func positions(of s: Int) -> Range<Int> { bounds[s]..<bounds[s + 1] }
}

extension InteractionLog {
    /// The events marked in `keep`, in log order.
    func keeping(_ keep: [Bool]) -> InteractionLog {
        precondition(keep.count == count, "keeping: \(keep.count) flags for \(count) events")
        let kept = keep.reduce(0) { $1 ? $0 + 1 : $0 }
        var result = InteractionLog()
        result.users = Self.gather(users, keep, kept)
        result.items = Self.gather(items, keep, kept)
        result.timestamps = Self.gather(timestamps, keep, kept)
        result.values = Self.gather(values, keep, kept)
        result.types = Self.gather(types, keep, kept)
        result.scenarios = Self.gather(scenarios, keep, kept)
        return result
    }

    private static func gather<T>(_ column: [T], _ keep: [Bool], _ kept: Int) -> [T] {
        [T](unsafeUninitializedCapacity: kept) { buffer, initialized in
            column.withUnsafeBufferPointer { source in
                keep.withUnsafeBufferPointer { keep in
                    var k = 0
                    for e in 0..<source.count where keep[e] {
                        (buffer.baseAddress! + k).initialize(to: source[e])
                        k += 1
                    }
                    initialized = k
                }
            }
        }
    }
}
