// The split protocols. Every split:
// - keeps the full dataset's id maps and features in all parts, so an index means the same
//   user or item in `train`, `trainWithValidation` and the held-out lists;
// - never puts a held-out event in `train`; validation events are in `trainWithValidation`
//   (the history when testing), test events are in neither;
// - keeps the remaining events in their log order, so per-user sequences are the full
//   sequences minus the held-out events;
// - lists held-out users in increasing index order;
// - is deterministic: the random ones draw only from `SplitMix64(seed:)`.
//
// "Last" and "second last" refer to a user's sequence order (time, ties in log order — the
// order of `Dataset.sequences`).

extension Split {
    /// Leave-one-out by time, the default protocol: for every user with at least 3 events the
    /// last event is the test item and the second last the validation item; `train` holds the
    /// rest. Users with fewer than 3 events go entirely to `train` and are held out nowhere.
    ///
    /// A held-out item may also occur earlier in the user's history when the log has repeats;
    /// deduplicate first if that is unwanted.
    public static func leaveOneOut(_ dataset: Dataset) -> Split {
        let eligible = (0..<dataset.userCount).map { dataset.sequences.items(of: $0).count >= 3 }
        return holdingOutLastTwo(dataset, eligible: eligible, name: "leave-one-out by time")
    }

    /// A global temporal split: events before `validationStart` are `train`, events in
    /// `validationStart..<testStart` are validation, events at or after `testStart` are test.
    /// Nothing at or after a cut is in the part before it.
    ///
    /// Each held-out list holds a user's distinct items in the window, in time order (first
    /// occurrence). With `requireHistory` (the default) a user is held out only when they have
    /// an earlier event — in `train` for validation, in `trainWithValidation` for test; the
    /// window events of other users are still removed from the earlier parts, just not scored.
    public static func temporal(
        _ dataset: Dataset, validationStart: Int64, testStart: Int64, requireHistory: Bool = true
    ) -> Split {
        precondition(
            validationStart <= testStart,
            "temporal: validationStart (\(validationStart)) must not be after testStart (\(testStart))")
        let times = dataset.log.timestamps
        let inTrain = times.map { $0 < validationStart }
        let inTrainWithValidation = times.map { $0 < testStart }
        let seq = dataset.sequences
        var validation = HeldOutBuilder(dataset: dataset)
        var test = HeldOutBuilder(dataset: dataset)
        var positions: [Int] = []
        for u in 0..<dataset.userCount {
            let range = seq.offsets[u]..<seq.offsets[u + 1]
            guard let first = range.first else { continue }
            let t0 = seq.timestamps[first]
            positions.removeAll(keepingCapacity: true)
            for p in range where seq.timestamps[p] >= validationStart && seq.timestamps[p] < testStart {
                positions.append(p)
            }
            if !positions.isEmpty && (!requireHistory || t0 < validationStart) {
                validation.add(user: u, positions: positions)
            }
            positions.removeAll(keepingCapacity: true)
            for p in range where seq.timestamps[p] >= testStart { positions.append(p) }
            if !positions.isEmpty && (!requireHistory || t0 < testStart) {
                test.add(user: u, positions: positions)
            }
        }
        return Split(
            name: "temporal (validation from t=\(validationStart), test from t=\(testStart))",
            train: dataset.sharingMaps(keeping: inTrain), validation: validation.heldOut, test: test.heldOut,
            trainWithValidation: dataset.sharingMaps(keeping: inTrainWithValidation))
    }

    /// A random hold-out per user: each user's events are shuffled (seeded) and
    /// `round(testFraction × n)` of them held out as test, then `round(validationFraction × n)`
    /// as validation; the rest is `train`. Every user keeps at least one event in `train`
    /// (validation, then test, gives way), so users with one event are never held out.
    /// Each held-out list holds the user's distinct held-out items in time order. Not
    /// time-aware: a held-out event may be older than some of the user's `train` events.
    public static func randomHoldout(
        _ dataset: Dataset, testFraction: Double, validationFraction: Double = 0, seed: UInt64
    ) -> Split {
        precondition(
            testFraction >= 0 && validationFraction >= 0 && testFraction + validationFraction < 1,
            "randomHoldout: fractions must be >= 0 and sum to less than 1 (test \(testFraction), validation \(validationFraction))"
        )
        var rng = SplitMix64(seed: seed)
        let order = dataset.sequenceOrder()
        let seq = dataset.sequences
        var inTrain = [Bool](repeating: true, count: dataset.eventCount)
        var inTrainWithValidation = inTrain
        var validation = HeldOutBuilder(dataset: dataset)
        var test = HeldOutBuilder(dataset: dataset)
        var scratch: [Int] = []
        var chosen: [Int] = []
        for u in 0..<dataset.userCount {
            let range = seq.offsets[u]..<seq.offsets[u + 1]
            let n = range.count
            var nTest = Int((testFraction * Double(n)).rounded())
            var nValidation = Int((validationFraction * Double(n)).rounded())
            while nTest + nValidation > n - 1 && nTest + nValidation > 0 {
                if nValidation > 0 { nValidation -= 1 } else { nTest -= 1 }
            }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: range)
            rng.shuffle(&scratch)
            for isTest in [true, false] {
                let slice = isTest ? scratch[0..<nTest] : scratch[nTest..<(nTest + nValidation)]
                guard !slice.isEmpty else { continue }
                chosen.removeAll(keepingCapacity: true)
                chosen.append(contentsOf: slice)
                chosen.sort()
                for p in chosen {
                    inTrain[order[p]] = false
                    if isTest { inTrainWithValidation[order[p]] = false }
                }
                if isTest { test.add(user: u, positions: chosen) } else { validation.add(user: u, positions: chosen) }
            }
        }
        return Split(
            name: "random hold-out per user (test \(testFraction), validation \(validationFraction), seed \(seed))",
            train: dataset.sharingMaps(keeping: inTrain), validation: validation.heldOut, test: test.heldOut,
            trainWithValidation: dataset.sharingMaps(keeping: inTrainWithValidation))
    }

    /// k-fold cross-validation by user, for hyper-parameter tuning.
    ///
    /// Users are shuffled (seeded) and dealt into `folds` folds round-robin (fold sizes differ
    /// by at most one; see ``userFolds(userCount:folds:seed:)``). Split f holds out, for each
    /// user of fold f with at least 3 events, the last event as test and the second last as
    /// validation — leave-one-out by time within the fold; every other user, and fold users
    /// with fewer than 3 events, are entirely in `train`. So each eligible user is tested in
    /// exactly one split. As with leave-one-out, other users' events in `train` may be later
    /// in time than a fold user's held-out event.
    public static func kFold(_ dataset: Dataset, folds: Int, seed: UInt64) -> [Split] {
        let fold = userFolds(userCount: dataset.userCount, folds: folds, seed: seed)
        return (0..<folds).map { f in
            let eligible = (0..<dataset.userCount).map { fold[$0] == f && dataset.sequences.items(of: $0).count >= 3 }
            return holdingOutLastTwo(
                dataset, eligible: eligible,
                name: "k-fold by user (fold \(f + 1) of \(folds), seed \(seed)), leave-one-out by time in the fold")
        }
    }

    /// The fold (0..<folds) of each user for ``kFold(_:folds:seed:)``: the users in a seeded
    /// random order dealt round-robin, so fold sizes differ by at most one.
    public static func userFolds(userCount: Int, folds: Int, seed: UInt64) -> [Int] {
        precondition(folds >= 2, "kFold: needs at least 2 folds, got \(folds)")
        var rng = SplitMix64(seed: seed)
        var users = Array(0..<userCount)
        rng.shuffle(&users)
        var fold = [Int](repeating: 0, count: userCount)
        for (k, u) in users.enumerated() { fold[u] = k % folds }
        return fold
    }

    /// Leave-one-out with cold items: a seeded `fraction` of the items loses every event except
    /// where it is the test item (the last) of a held-out user, so those items are never seen in
    /// training and some test
    /// targets are items no model has interactions for. Returns the split and the cold items
    /// (a flag per item). Validation targets are always warm.
    public static func leaveOneOutWithColdItems(
        _ dataset: Dataset, fraction: Double, seed: UInt64
    ) -> (split: Split, cold: [Bool]) {
        precondition(fraction >= 0 && fraction < 1, "cold items: the fraction must be in 0..<1, got \(fraction)")
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<dataset.itemCount)
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        var cold = [Bool](repeating: false, count: dataset.itemCount)
        for i in order.prefix(Int((Double(dataset.itemCount) * fraction).rounded())) { cold[i] = true }
        // Keep warm events and each user's last event.
        let sequenceOrder = dataset.sequenceOrder()
        var keep = [Bool](repeating: true, count: dataset.eventCount)
        for u in 0..<dataset.userCount {
            let range = dataset.sequences.offsets[u]..<dataset.sequences.offsets[u + 1]
            for p in range.dropLast() where cold[Int(dataset.sequences.items[p])] { keep[sequenceOrder[p]] = false }
        }
        // A user left with fewer than 3 events is not held out, so a cold last event of theirs
        // would stay in training: drop it too.
        for u in 0..<dataset.userCount {
            let range = dataset.sequences.offsets[u]..<dataset.sequences.offsets[u + 1]
            guard let last = range.last, cold[Int(dataset.sequences.items[last])] else { continue }
            if range.dropLast().filter({ keep[sequenceOrder[$0]] }).count < 2 { keep[sequenceOrder[last]] = false }
        }
        let filtered = dataset.sharingMaps(keeping: keep)
        let eligible = (0..<filtered.userCount).map { filtered.sequences.items(of: $0).count >= 3 }
        let split = holdingOutLastTwo(
            filtered, eligible: eligible, name: "leave-one-out by time, \(Int(fraction * 100))% cold items")
        return (split, cold)
    }

    /// New users: a seeded `fraction` of the users with events loses all of them; the test
    /// targets of each are their first `first` distinct items by time, and `train` holds every
    /// other user's events (every user's attributes stay in the maps). No validation.
    public static func newUsers(_ dataset: Dataset, fraction: Double, first: Int, seed: UInt64) -> Split {
        precondition(fraction > 0 && fraction < 1, "new users: the fraction must be in 0<..<1, got \(fraction)")
        precondition(first >= 1, "new users: at least one target per user, got \(first)")
        var rng = SplitMix64(seed: seed)
        let order = dataset.sequenceOrder()
        var keep = [Bool](repeating: true, count: dataset.eventCount)
        var test = HeldOutBuilder(dataset: dataset)
        for u in 0..<dataset.userCount {
            let range = dataset.sequences.offsets[u]..<dataset.sequences.offsets[u + 1]
            guard !range.isEmpty, rng.nextDouble() < fraction else { continue }
            for p in range { keep[order[p]] = false }
            var positions: [Int] = []
            var seen = Set<Int32>()
            for p in range where seen.count < first && seen.insert(dataset.sequences.items[p]).inserted {
                positions.append(p)
            }
            test.add(user: u, positions: positions)
        }
        let train = dataset.sharingMaps(keeping: keep)
        return Split(
            name: "new users (\(Int(fraction * 100))% held out, first \(first) items)", train: train,
            validation: HeldOut(), test: test.heldOut, trainWithValidation: train)
    }

    /// Holds out the last (test) and second last (validation) event of each eligible user.
    private static func holdingOutLastTwo(_ dataset: Dataset, eligible: [Bool], name: String) -> Split {
        let order = dataset.sequenceOrder()
        let seq = dataset.sequences
        var inTrain = [Bool](repeating: true, count: dataset.eventCount)
        var inTrainWithValidation = inTrain
        var validation = HeldOutBuilder(dataset: dataset)
        var test = HeldOutBuilder(dataset: dataset)
        for u in 0..<dataset.userCount where eligible[u] {
            let last = seq.offsets[u + 1] - 1
            precondition(last - seq.offsets[u] >= 2, "leave-one-out: user \(u) has fewer than 3 events")
            inTrain[order[last]] = false
            inTrainWithValidation[order[last]] = false
            inTrain[order[last - 1]] = false
            test.add(user: u, positions: [last])
            validation.add(user: u, positions: [last - 1])
        }
        return Split(
            name: name, train: dataset.sharingMaps(keeping: inTrain), validation: validation.heldOut,
            test: test.heldOut, trainWithValidation: dataset.sharingMaps(keeping: inTrainWithValidation))
    }
}

/// Collects held-out users and their distinct items (first occurrence, in the order given).
private struct HeldOutBuilder {
    let dataset: Dataset
    var users: [Int32] = []
    var items: [[Int32]] = []

    init(dataset: Dataset) { self.dataset = dataset }

    /// Adds user `u` with the items at these sequence positions.
    mutating func add(user u: Int, positions: [Int]) {
        var list: [Int32] = []
        list.reserveCapacity(positions.count)
        if positions.count <= 32 {
            for p in positions {
                let item = dataset.sequences.items[p]
                if !list.contains(item) { list.append(item) }
            }
        } else {
            var seen = Set<Int32>(minimumCapacity: positions.count)
            for p in positions where seen.insert(dataset.sequences.items[p]).inserted {
                list.append(dataset.sequences.items[p])
            }
        }
        users.append(Int32(u))
        items.append(list)
    }

    var heldOut: HeldOut { HeldOut(users: users, items: items) }
}

extension Dataset {
    /// The log index of every event in sequence order: `sequences.items[p]` is
    /// `log.items[sequenceOrder()[p]]` (users in index order, each by time, ties in log order).
    public func sequenceOrder() -> [Int] {
        let n = eventCount
        var start = [Int](repeating: 0, count: userCount + 1)
        var order = [Int](repeating: 0, count: n)
        log.users.withUnsafeBufferPointer { users in
            for u in users { start[Int(u) + 1] += 1 }
            for u in 0..<userCount { start[u + 1] += start[u] }
            var cursor = start
            order.withUnsafeMutableBufferPointer { order in
                for e in 0..<n {
                    let u = Int(users[e])
                    order[cursor[u]] = e
                    cursor[u] += 1
                }
            }
        }
        // Within a user the log indices are increasing, so sorting by (time, index) is the stable time order.
        log.timestamps.withUnsafeBufferPointer { times in
            for u in 0..<userCount {
                let range = start[u]..<start[u + 1]
                var sorted = true
                for p in range.dropFirst() where times[order[p - 1]] > times[order[p]] {
                    sorted = false
                    break
                }
                if !sorted { order[range].sort { (times[$0], $0) < (times[$1], $1) } }
            }
        }
        return order
    }

    /// The events marked in `keep`, in log order, over this dataset's id maps and features.
    public func sharingMaps(keeping keep: [Bool]) -> Dataset {
        Dataset(
            users: users, items: items, log: log.keeping(keep), itemInfo: itemInfo, userInfo: userInfo,
            scenarios: scenarios)
    }
}
