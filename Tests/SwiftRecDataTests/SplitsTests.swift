import Testing

@testable import SwiftRecData

/// `users` users; user u has `u % 7 + 1` events on distinct items at random times, logged in a
/// shuffled order (so log order is not time order).
private func randomDataset(users: Int = 60, seed: UInt64 = 3) -> Dataset {
    var rng = SplitMix64(seed: seed)
    var events: [Event] = []
    for u in 0..<users {
        for k in 0..<(u % 7 + 1) {
            events.append(
                Event(user: "u\(u)", item: "i\((u * 5 + k * 11) % 97)", timestamp: Int64(rng.nextInt(below: 10_000))))
        }
    }
    rng.shuffle(&events)
    var builder = DatasetBuilder()
    for e in events { builder.add(e) }
    return builder.build()
}

/// (item, time) of user u's events, in sequence order.
private func history(_ d: Dataset, _ u: Int) -> [String] {
    zip(d.sequences.items(of: u), d.sequences.timestamps(of: u)).map { "\($0)@\($1)" }
}

/// Checks what every split promises: shared maps, train ⊆ trainWithValidation ⊆ full, no held-out
/// item in the history it is scored against, each user held out at most once per part.
private func checkInvariants(_ split: Split, _ full: Dataset) {
    for part in [split.train, split.trainWithValidation] {
        #expect(part.users == full.users && part.items == full.items)
        #expect(part.itemInfo.count == full.itemCount && part.userInfo.count == full.userCount)
    }
    #expect(split.train.eventCount <= split.trainWithValidation.eventCount)
    for u in 0..<full.userCount {
        let all = history(full, u)
        let withValidation = history(split.trainWithValidation, u)
        let train = history(split.train, u)
        #expect(withValidation.allSatisfy(all.contains) && train.allSatisfy(withValidation.contains))
    }
    for (heldOut, history) in [(split.validation, split.train), (split.test, split.trainWithValidation)] {
        #expect(Set(heldOut.users).count == heldOut.users.count && heldOut.users == heldOut.users.sorted())
        for (u, items) in zip(heldOut.users, heldOut.items) {
            #expect(!items.isEmpty)
            // Items are distinct per user here, so a held-out item must not be in the history.
            #expect(items.allSatisfy { !history.sequences.items(of: Int(u)).contains($0) })
        }
    }
}

@Suite("Splits")
struct SplitsTests {
    @Test func newUsersLoseAllTheirEventsAndKeepTheirFirstItemsAsTargets() {
        let full = randomDataset()
        let split = Split.newUsers(full, fraction: 0.3, first: 3, seed: 2)
        checkInvariants(split, full)
        #expect(split.validation.users.isEmpty && split.test.users.count > 5)
        for (u, items) in zip(split.test.users, split.test.items) {
            #expect(split.train.sequences.items(of: Int(u)).isEmpty)
            #expect(items == Array(full.sequences.items(of: Int(u)).prefix(3)))
        }
        let heldOut = Set(split.test.users)
        #expect(
            split.train.eventCount
                == (0..<full.userCount).filter { !heldOut.contains(Int32($0)) }.map {
                    full.sequences.items(of: $0).count
                }.reduce(0, +))
        #expect(Split.newUsers(full, fraction: 0.3, first: 3, seed: 2).test == split.test)
    }

    @Test func aSeededGeneratorCanStartAnywhereInItsStream() {
        var stream = SplitMix64(seed: 42)
        let values = (0..<20).map { _ in stream.next() }
        for start in [0, 1, 7, 19] {
            var jumped = SplitMix64(seed: 42, skipping: UInt64(start))
            #expect(jumped.next() == values[start])
        }
    }

    @Test func leaveOneOutHoldsOutTheLastTwoByTime() {
        let d = randomDataset()
        let split = Split.leaveOneOut(d)
        checkInvariants(split, d)
        let eligible = (0..<d.userCount).filter { d.sequences.items(of: $0).count >= 3 }
        #expect(split.test.users == eligible.map(Int32.init))
        #expect(split.validation.users == split.test.users)
        for (k, u) in eligible.enumerated() {
            let seq = Array(d.sequences.items(of: u))
            #expect(split.test.items[k] == [seq[seq.count - 1]])
            #expect(split.validation.items[k] == [seq[seq.count - 2]])
            #expect(Array(split.train.sequences.items(of: u)) == Array(seq.dropLast(2)))
            #expect(Array(split.trainWithValidation.sequences.items(of: u)) == Array(seq.dropLast()))
        }
        // Users with fewer than 3 events are entirely in train.
        for u in 0..<d.userCount where d.sequences.items(of: u).count < 3 {
            #expect(history(split.train, u) == history(d, u))
        }
        #expect(split.train.eventCount == d.eventCount - 2 * eligible.count)
        #expect(split.trainWithValidation.eventCount == d.eventCount - eligible.count)
    }

    @Test func leaveOneOutBreaksTimeTiesByLogOrder() {
        var builder = DatasetBuilder()
        for (item, t) in [("a", 1), ("c", 5), ("b", 5), ("d", 2)] {
            builder.add(Event(user: "u", item: item, timestamp: Int64(t)))
        }
        let d = builder.build()
        let split = Split.leaveOneOut(d)
        #expect(split.test.items.map { $0.map { d.items.id(at: $0) } } == [["b"]])
        #expect(split.validation.items.map { $0.map { d.items.id(at: $0) } } == [["c"]])
        #expect(split.train.sequences.items(of: 0).map { d.items.id(at: $0) } == ["a", "d"])
    }

    @Test func temporalCutsAtGlobalTimes() {
        let d = randomDataset()
        let split = Split.temporal(d, validationStart: 6000, testStart: 8000)
        checkInvariants(split, d)
        #expect(split.train.log.timestamps.allSatisfy { $0 < 6000 })
        #expect(split.trainWithValidation.log.timestamps.allSatisfy { $0 < 8000 })
        #expect(split.trainWithValidation.eventCount == d.log.timestamps.filter { $0 < 8000 }.count)
        for u in 0..<d.userCount {
            let items = Array(d.sequences.items(of: u))
            let times = Array(d.sequences.timestamps(of: u))
            let testItems = (0..<items.count).filter { times[$0] >= 8000 }.map { items[$0] }
            let validationItems = (0..<items.count).filter { times[$0] >= 6000 && times[$0] < 8000 }.map { items[$0] }
            let testIndex = split.test.users.firstIndex(of: Int32(u))
            if !testItems.isEmpty && times[0] < 8000 {
                #expect(testIndex.map { split.test.items[$0] } == testItems)
            } else {
                #expect(testIndex == nil)
            }
            let validationIndex = split.validation.users.firstIndex(of: Int32(u))
            if !validationItems.isEmpty && times[0] < 6000 {
                #expect(validationIndex.map { split.validation.items[$0] } == validationItems)
            } else {
                #expect(validationIndex == nil)
            }
        }
        #expect(!split.test.isEmpty && !split.validation.isEmpty)
        // Without the history requirement, users whose first event is in the window are held out too.
        let all = Split.temporal(d, validationStart: 6000, testStart: 8000, requireHistory: false)
        #expect(all.test.users.count >= split.test.users.count)
        #expect(
            all.test.users.count
                == (0..<d.userCount).filter { d.sequences.timestamps(of: $0).contains { $0 >= 8000 } }.count)
    }

    @Test func randomHoldoutIsSeededAndKeepsHistory() {
        let d = randomDataset()
        let split = Split.randomHoldout(d, testFraction: 0.2, validationFraction: 0.2, seed: 7)
        checkInvariants(split, d)
        for u in 0..<d.userCount {
            let n = d.sequences.items(of: u).count
            var nTest = Int((0.2 * Double(n)).rounded())
            var nValidation = nTest
            while nTest + nValidation > n - 1 {
                if nValidation > 0 { nValidation -= 1 } else { nTest -= 1 }
            }
            let testIndex = split.test.users.firstIndex(of: Int32(u))
            #expect((testIndex.map { split.test.items[$0].count } ?? 0) == nTest)
            let validationIndex = split.validation.users.firstIndex(of: Int32(u))
            #expect((validationIndex.map { split.validation.items[$0].count } ?? 0) == nValidation)
            #expect(split.train.sequences.items(of: u).count == n - nTest - nValidation)
            #expect(split.train.sequences.items(of: u).count >= 1)
        }
        let again = Split.randomHoldout(d, testFraction: 0.2, validationFraction: 0.2, seed: 7)
        #expect(again.test == split.test && again.validation == split.validation)
        #expect(again.train.log.items == split.train.log.items)
        let other = Split.randomHoldout(d, testFraction: 0.2, validationFraction: 0.2, seed: 8)
        #expect(other.test != split.test)
    }

    @Test func kFoldPartitionsUsers() {
        let d = randomDataset()
        let folds = 4
        let assignment = Split.userFolds(userCount: d.userCount, folds: folds, seed: 11)
        let sizes = (0..<folds).map { f in assignment.filter { $0 == f }.count }
        #expect(sizes.reduce(0, +) == d.userCount && sizes.max()! - sizes.min()! <= 1)
        #expect(Split.userFolds(userCount: d.userCount, folds: folds, seed: 11) == assignment)
        #expect(Split.userFolds(userCount: d.userCount, folds: folds, seed: 12) != assignment)

        let splits = Split.kFold(d, folds: folds, seed: 11)
        #expect(splits.count == folds)
        var tested = [Int](repeating: 0, count: d.userCount)
        for (f, split) in splits.enumerated() {
            checkInvariants(split, d)
            #expect(split.validation.users == split.test.users)
            for u in split.test.users { tested[Int(u)] += 1 }
            for u in 0..<d.userCount {
                let eligible = d.sequences.items(of: u).count >= 3
                let held = split.test.users.contains(Int32(u))
                #expect(held == (eligible && assignment[u] == f))
                if !held { #expect(history(split.train, u) == history(d, u)) }
            }
        }
        // Every eligible user is tested in exactly one fold, everyone else in none.
        #expect((0..<d.userCount).allSatisfy { tested[$0] == (d.sequences.items(of: $0).count >= 3 ? 1 : 0) })
        #expect(Split.kFold(d, folds: folds, seed: 11).map(\.test) == splits.map(\.test))
    }

    @Test func seededRandomIsStable() {
        var rng = SplitMix64(seed: 0)
        // The published SplitMix64 reference values for seed 0.
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<5000 { counts[rng.nextInt(below: 5)] += 1 }
        #expect(counts.allSatisfy { $0 > 900 && $0 < 1100 })
        var values = Array(0..<10)
        rng.shuffle(&values)
        #expect(values.sorted() == Array(0..<10) && values != Array(0..<10))
        #expect((0..<1000).allSatisfy { _ in (0..<1).contains(rng.nextDouble()) })
    }
}
