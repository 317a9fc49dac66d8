import Foundation
import Testing

@testable import SwiftRecData

/// A dataset from (user, item, time, value) rows, in this log order.
private func dataset(_ rows: [(String, String, Int64, Double?)], items: [Item] = [], users: [User] = []) -> Dataset {
    var builder = DatasetBuilder()
    for (u, i, t, v) in rows {
        builder.add(Event(user: u, item: i, type: v == nil ? .view : .rating, value: v, timestamp: t))
    }
    for item in items { builder.add(item) }
    for user in users { builder.add(user) }
    return builder.build()
}

/// The dataset's events as (user id, item id, time) in log order.
private func events(_ d: Dataset) -> [String] {
    (0..<d.eventCount).map {
        "\(d.users.id(at: d.log.users[$0]))/\(d.items.id(at: d.log.items[$0]))@\(d.log.timestamps[$0])"
    }
}

@Suite("Preprocessing")
struct PreprocessingTests {
    @Test func deduplicationKeepsTheFirstOfEachGroup() {
        let d = dataset([
            ("u1", "a", 1, 5), ("u1", "a", 1, 5),  // exact duplicate
            ("u1", "a", 1, 3),  // same user, item and time, other value
            ("u1", "a", 2, 5),  // other time
            ("u2", "a", 1, nil), ("u2", "a", 1, nil),  // exact duplicate with missing values
        ])
        var report = PreprocessingReport()
        let exact = d.deduplicated(.exact, report: &report)
        #expect(exact.eventCount == 4)
        #expect(events(exact) == ["u1/a@1", "u1/a@1", "u1/a@2", "u2/a@1"])
        #expect(exact.log.values[0] == 5 && exact.log.values[1] == 3)
        #expect(exact.users == d.users && exact.items == d.items)

        let loose = d.deduplicated(.sameUserItemTime, report: &report)
        #expect(events(loose) == ["u1/a@1", "u1/a@2", "u2/a@1"])
        #expect(loose.log.values[0] == 5)
        #expect(report.steps.map(\.eventsRemoved) == [2, 3])
        #expect(report.eventsRemoved == 5)
        #expect(d.deduplicated(.exact).deduplicated(.exact).eventCount == 4)
    }

    @Test func missingValuesAreDroppedOrFilled() {
        let d = dataset([
            ("u1", "a", 1, 1), ("u1", "b", 2, 2), ("u1", "c", 3, nil), ("u2", "a", 4, 2), ("u2", "b", 5, 7),
            ("u3", "c", 6, nil),
        ])
        func values(_ d: Dataset) -> [Float] { d.log.values }
        var report = PreprocessingReport()
        // Present values 1, 2, 2, 7: mean 3, median (2 + 2) / 2 = 2, mode 2.
        #expect(values(d.fillingMissingValues(.mean, report: &report)) == [1, 2, 3, 2, 7, 3])
        #expect(values(d.fillingMissingValues(.median)) == [1, 2, 2, 2, 7, 2])
        #expect(values(d.fillingMissingValues(.mode)) == [1, 2, 2, 2, 7, 2])
        #expect(values(d.fillingMissingValues(.constant(-1))) == [1, 2, -1, 2, 7, -1])
        #expect(report.steps.first?.valuesChanged == 2 && report.steps.first?.eventsRemoved == 0)

        // Dropping removes the events and u3, who had only a missing value; item c keeps one event.
        let dropped = d.fillingMissingValues(.drop, report: &report)
        #expect(values(dropped) == [1, 2, 2, 7])
        #expect(dropped.users.ids == ["u1", "u2"] && dropped.items.ids == ["a", "b"])
        #expect(report.steps.last?.eventsRemoved == 2)
        #expect(report.steps.last?.usersRemoved == 1 && report.steps.last?.itemsRemoved == 1)
    }

    @Test func medianAndModeByHand() {
        #expect(Dataset.median(of: [9, .nan, 1, 5]) == 5)
        #expect(Dataset.median(of: [4, 1, 3, 10]) == 3.5)
        #expect(Dataset.mode(of: [3, 1, 3, 1, .nan, 2]) == 1)  // tie between 1 and 3: the smaller
        #expect(Dataset.mode(of: [4, 4, 1]) == 4)
        #expect(Dataset.mean(of: [.nan, .nan]) == nil)
        let allMissing = dataset([("u", "a", 1, nil)])
        #expect(allMissing.fillingMissingValues(.mean).log.values[0].isNaN)
    }

    @Test func ratingThresholdMakesImplicitFeedback() {
        let d = dataset(
            [("u1", "a", 1, 5), ("u1", "b", 2, 3), ("u2", "c", 3, 2), ("u1", "c", 4, 4), ("u3", "a", 5, nil)],
            items: [Item(id: "c", title: "C"), Item(id: "cold", title: "Cold start")],
            users: [User(id: "u1", attributes: ["age": "30"])])
        var report = PreprocessingReport()
        let implicit = d.implicit(threshold: 4, report: &report)
        #expect(events(implicit) == ["u1/a@1", "u1/c@4"])
        #expect(implicit.log.values == [1, 1])
        // u2 and u3 lost all their events; b lost its only one; the cold-start item had none and stays.
        #expect(implicit.users.ids == ["u1"])
        #expect(implicit.items.ids == ["a", "c", "cold"])
        #expect(implicit.itemInfo.map { $0?.title } == [nil, "C", "Cold start"])
        #expect(implicit.userInfo[0]?.attributes == ["age": "30"])
        #expect(implicit.sequences.items(of: 0).map { implicit.items.id(at: $0) } == ["a", "c"])
        #expect(report.steps[0].eventsRemoved == 3 && report.steps[0].usersRemoved == 2)
        #expect(report.steps[0].itemsRemoved == 1)
        #expect(d.implicit(threshold: 4, keepValues: true).log.values == [5, 4])
    }

    @Test func kCoreIteratesUntilStable() {
        // Round 1 removes u4 (one event); then i3 has one event left, so round 2 removes it; then
        // u3 has one event left, so round 3 removes it. u1, u2, i1, i2 form the 2-core.
        let d = dataset(
            [
                ("u1", "i1", 1, nil), ("u3", "i2", 2, nil), ("u1", "i2", 3, nil), ("u2", "i1", 4, nil),
                ("u3", "i3", 5, nil), ("u2", "i2", 6, nil), ("u4", "i3", 7, nil),
            ],
            items: [Item(id: "i2", title: "Two"), Item(id: "cold")], users: [User(id: "u2", attributes: ["x": "y"])])
        var report = PreprocessingReport()
        let core = d.kCore(users: 2, items: 2, report: &report)
        #expect(events(core) == ["u1/i1@1", "u1/i2@3", "u2/i1@4", "u2/i2@6"])
        #expect(core.users.ids == ["u1", "u2"])
        #expect(core.items.ids == ["i1", "i2"])
        #expect(core.log.users == [0, 0, 1, 1] && core.log.items == [0, 1, 0, 1])
        #expect(core.itemInfo.map { $0?.title } == [nil, "Two"])
        #expect(core.userInfo.map { $0?.attributes } == [nil, ["x": "y"]])
        #expect(core.sequences.items(of: 1) == [0, 1])
        let step = report.steps[0]
        #expect(step.rounds == 3)
        #expect(step.eventsRemoved == 3 && step.usersRemoved == 2 && step.itemsRemoved == 2)

        #expect(core.kCore(users: 2, items: 2).eventCount == 4)  // stable
        // A 1-core only drops ids without events (here the cold-start item).
        #expect(d.kCore(users: 1, items: 1).items.ids == ["i1", "i2", "i3"])
        #expect(d.kCore(users: 3, items: 1).eventCount == 0)
    }

    @Test func timeFeaturesOnKnownTimestamps() {
        let monday: Int64 = 1_704_067_200  // 2024-01-01 00:00:00 UTC, a Monday
        #expect(TimeFeatures.weekday(of: 0) == 3)  // 1970-01-01 was a Thursday
        #expect(TimeFeatures.hour(of: 0) == 0)
        #expect(TimeFeatures.weekday(of: monday) == 0 && TimeFeatures.hour(of: monday) == 0)
        #expect(TimeFeatures.hour(of: monday + 13 * 3600 + 59 * 60) == 13)
        let sundayNight = monday + 6 * 86_400 + 86_399
        #expect(TimeFeatures.weekday(of: sundayNight) == 6 && TimeFeatures.hour(of: sundayNight) == 23)
        #expect(TimeFeatures.weekday(of: -1) == 2 && TimeFeatures.hour(of: -1) == 23)  // 1969-12-31 23:59:59, Wednesday

        // Agrees with Foundation's calendar (weekday 1 = Sunday there).
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var rng = SplitMix64(seed: 5)
        for _ in 0..<200 {
            let t = Int64(rng.nextInt(below: 4_000_000_000)) - 1_000_000_000
            let parts = calendar.dateComponents([.weekday, .hour], from: Date(timeIntervalSince1970: TimeInterval(t)))
            #expect(TimeFeatures.weekday(of: t) == (parts.weekday! + 5) % 7)
            #expect(TimeFeatures.hour(of: t) == parts.hour!)
        }

        let buckets = RecencyBuckets.standard
        let ages: [Int64] = [-5, 0, 3599, 3600, 86_399, 86_400, 7 * 86_400, 30 * 86_400 - 1, 30 * 86_400, 365 * 86_400]
        #expect(ages.map { buckets.bucket(age: $0) } == [0, 0, 0, 1, 1, 2, 3, 3, 4, 5])
        #expect(buckets.count == 6)
        #expect(
            TimeFeatures(timestamp: monday - 2 * 86_400, reference: monday)
                == TimeFeatures(hour: 0, weekday: 5, recencyBucket: 2))

        let d = dataset([("u", "a", monday + 3600, nil), ("u", "b", monday - 40 * 86_400 + 7200, nil)])
        let columns = d.timeFeatures()
        #expect(columns.reference == monday + 3600)
        #expect(columns.hours == [1, 2])
        #expect(columns.weekdays == [0, 2])  // 2023-11-22, 40 days before, was a Wednesday
        #expect(columns.recencyBuckets == [0, 4])
    }

    @Test func sessionsAreCutByTheInactivityGap() {
        // User a: pauses of 100, 1800 (= gap: same session), 3100 (new session), 100.
        let d = dataset(
            [
                ("a", "x", 0, nil), ("b", "x", 10, nil), ("a", "y", 100, nil), ("a", "x", 5000, nil),
                ("a", "z", 1900, nil), ("a", "y", 5100, nil),
            ],
            users: [User(id: "c")])
        let s = d.sessions(gap: 1800)
        #expect(s.count == 3)
        #expect(s.bounds == [0, 3, 5, 6])
        #expect(s.userOffsets == [0, 2, 3, 3])
        #expect(s.sessionOfEvent == [0, 0, 0, 1, 1, 2])
        #expect(s.sessions(of: 0) == 0..<2 && s.sessions(of: 2).isEmpty)
        #expect(s.positions(of: 1).map { d.sequences.timestamps[$0] } == [5000, 5100])
        #expect(d.sessions(gap: 0).count == 6)
        #expect(d.sessions(gap: 10_000).count == 2)
        #expect(Dataset(users: IDMap(), items: IDMap(), log: InteractionLog()).sessions(gap: 5).count == 0)
    }
}

extension TimeFeatures {
    fileprivate init(hour: Int, weekday: Int, recencyBucket: Int) {
        self.init(timestamp: 0, reference: 0)
        self.hour = hour
        self.weekday = weekday
        self.recencyBucket = recencyBucket
    }
}
