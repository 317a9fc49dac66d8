import CSwiftRecKernels
import Foundation

/// Accuracy of one ranked list against a user's held-out items, under full ranking.
///
/// Ranks are 0-based and pessimistic: an item ranks below every other candidate with an equal
/// or higher score, so a model that scores everything the same gets no credit.
public struct RankingOutcome: Sendable, Equatable {
    /// The rank of each held-out item among the candidates.
    public var targetRanks: [Int]
    /// How many candidates were ranked (all items minus the excluded ones).
    public var candidateCount: Int

    public init(targetRanks: [Int], candidateCount: Int) {
        self.targetRanks = targetRanks
        self.candidateCount = candidateCount
    }

    /// Pessimistic ranks of `targets` given `scores` over all items. Items where `excluded`
    /// is true (known history) are not candidates, except the targets themselves.
    public init(scores: UnsafeBufferPointer<Float>, targets: [Int32], excluded: UnsafeBufferPointer<Bool>) {
        precondition(
            scores.count == excluded.count, "RankingOutcome: \(scores.count) scores but \(excluded.count) flags")
        var isTarget = [Bool](repeating: false, count: scores.count)
        for t in targets { isTarget[Int(t)] = true }
        var candidates = 0
        for i in 0..<scores.count where !excluded[i] || isTarget[i] { candidates += 1 }
        targetRanks = targets.map { t in
            let target = scores[Int(t)]
            var rank = 0
            for i in 0..<scores.count where i != Int(t) && (!excluded[i] || isTarget[i]) {
                if Self.outranks(scores[i], target) { rank += 1 }
            }
            return rank
        }
        candidateCount = candidates
    }

    /// Whether a candidate scoring `score` ranks above a target scoring `target`: ties and NaN
    /// count against the target, so a model that scores everything the same gets no credit.
    @inlinable
    public static func outranks(_ score: Float, _ target: Float) -> Bool {
        score >= target || score.isNaN || target.isNaN
    }

    /// The pessimistic rank of the single held-out item `target` among the items not
    /// `excluded`; counting stops at `limit` (a rank at or past a cutoff scores nothing).
    /// The training loops' validation and the evaluator both rank through this.
    public static func rank(
        of target: Int, scores: UnsafeBufferPointer<Float>, excluded: UnsafeBufferPointer<Bool>, limit: Int = .max
    ) -> Int {
        let targetScore = scores[target]
        var rank = 0
        for i in 0..<scores.count where i != target && !excluded[i] && outranks(scores[i], targetScore) {
            rank += 1
            if rank >= limit { break }
        }
        return rank
    }

    /// NDCG@k of one held-out item at 0-based `rank`.
    @inlinable
    public static func ndcg(rank: Int, k: Int) -> Double { rank < k ? 1 / log2(Double(rank) + 2) : 0 }

    /// Convenience for small cases: `excluded` as a set of item indices.
    public init(scores: [Float], targets: [Int32], excluded: Set<Int32>) {
        let flags = (0..<scores.count).map { excluded.contains(Int32($0)) }
        self = scores.withUnsafeBufferPointer { s in
            flags.withUnsafeBufferPointer { f in RankingOutcome(scores: s, targets: targets, excluded: f) }
        }
    }

    /// Metric values at cutoff `k`: HR, Recall, Precision, F1, NDCG, MRR, MAP.
    public func metrics(at k: Int) -> [String: Double] {
        let hits = targetRanks.filter { $0 < k }.sorted()
        let n = Double(max(targetRanks.count, 1))
        let recall = Double(hits.count) / n
        let precision = Double(hits.count) / Double(k)
        let f1 = recall + precision > 0 ? 2 * recall * precision / (recall + precision) : 0
        let dcg = hits.reduce(0.0) { $0 + 1 / log2(Double($1) + 2) }
        let ideal = (0..<min(targetRanks.count, k)).reduce(0.0) { $0 + 1 / log2(Double($1) + 2) }
        var averagePrecision = 0.0
        for (found, rank) in hits.enumerated() { averagePrecision += Double(found + 1) / Double(rank + 1) }
        averagePrecision /= Double(max(min(targetRanks.count, k), 1))
        let best = targetRanks.min() ?? Int.max
        return [
            "HR@\(k)": hits.isEmpty ? 0 : 1, "Recall@\(k)": recall, "Precision@\(k)": precision, "F1@\(k)": f1,
            "NDCG@\(k)": ideal > 0 ? dcg / ideal : 0, "MRR@\(k)": best < k ? 1 / Double(best + 1) : 0,
            "MAP@\(k)": averagePrecision,
        ]
    }

    /// Cutoff-free metrics: MRR over the full ranking and AUC against the other candidates.
    public var fullRankingMetrics: [String: Double] {
        guard let best = targetRanks.min() else { return ["MRR": 0, "AUC": 0] }
        let negatives = candidateCount - targetRanks.count
        // A target's rank counts other targets above it too; those are not negatives.
        let auc =
            negatives > 0
            ? targetRanks.sorted().enumerated().reduce(0.0) { sum, pair in
                let negativesAbove = max(0, pair.element - pair.offset)
                return sum + Double(negatives - negativesAbove) / Double(negatives)
            } / Double(targetRanks.count) : 0
        return ["MRR": 1 / Double(best + 1), "AUC": auc]
    }
}

/// Top-K selection.
public enum TopK {
    /// The `k` highest-scoring items not excluded, best first; ties go to the lower index.
    public static func select(_ k: Int, from scores: UnsafeBufferPointer<Float>, excluded: UnsafeBufferPointer<Bool>?)
        -> [Int32]
    {
        guard k > 0 else { return [] }
        if let found = selectAboveSampledThreshold(k, from: scores, excluded: excluded) { return found }
        return selectBySortedBuffer(k, from: scores, excluded: excluded)
    }

    /// The answer from the items scoring at least a threshold read off an even sample of 512
    /// scores, at about 1.5 times the k-th's expected rank: one vectorised pass
    /// (`sr_indices_at_least`) finds them, and only they are sorted. Nil when fewer than k items
    /// pass (the sample misled), or when k is not small next to the catalogue. Items tied with
    /// the k-th best all score at least the threshold whenever k items do, so the list is the
    /// exact one. (A sorted buffer of k, which branches on every score, and this selection's
    /// earlier scalar pass and standard-library sort took 6–7 % and then 4–6 % of a served
    /// cascade's profile at 200 of 3,883.) `path` caps the pass's code path, for tests.
    static func selectAboveSampledThreshold(
        _ k: Int, from scores: UnsafeBufferPointer<Float>, excluded: UnsafeBufferPointer<Bool>?,
        path: Int32 = -1
    ) -> [Int32]? {
        let n = scores.count
        guard n >= 8 * k, n >= 1_024, n <= Int(Int32.max), excluded.map({ $0.count >= n }) ?? true else { return nil }
        let sampleSize = 512
        let threshold = withUnsafeTemporaryAllocation(of: UInt64.self, capacity: sampleSize) { sample -> Float? in
            var m = 0
            for j in 0..<sampleSize {
                let i = j * n / sampleSize
                if let excluded, excluded[i] { continue }
                let s = scores[i]
                if s.isNaN { continue }
                sample[m] = UInt64(descendingKey(s))
                m += 1
            }
            guard m >= sampleSize / 2 else { return nil }
            let rank = min(m - 1, 3 * k * m / (2 * n) + 8)
            let sampled = UnsafeMutableBufferPointer(rebasing: sample[0..<m])
            placeInOrder(rank, in: sampled)
            return score(descendingKey: UInt32(truncatingIfNeeded: sampled[rank]))
        }
        guard let threshold else { return nil }
        let passing = [Int32](unsafeUninitializedCapacity: n) { indices, count in
            // Bool is one byte, 0 or 1; the kernel reads it as such.
            let flags = excluded.map { UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self) }
            count = sr_indices_at_least(scores.baseAddress, n, flags, threshold, indices.baseAddress, path)
        }
        guard passing.count >= k else { return nil }
        // Each kept item as one sort key: the score's order reversed above, the item below, so
        // integer order is by score, best first, then by item.
        var keys = passing.map { UInt64(descendingKey(scores[Int($0)])) << 32 | UInt64(UInt32($0)) }
        return keys.withUnsafeMutableBufferPointer { keys -> [Int32] in
            if keys.count > k { placeInOrder(k - 1, in: keys) }
            let best = UnsafeMutableBufferPointer(rebasing: keys[0..<k])
            sortKeys(best)
            return best.map { Int32(truncatingIfNeeded: $0) }
        }
    }

    /// Reorders `keys` so that `keys[rank]` holds the key it holds when sorted, with no larger
    /// key before it and no smaller one after (quickselect, median-of-three pivots).
    static func placeInOrder(_ rank: Int, in keys: UnsafeMutableBufferPointer<UInt64>) {
        var low = 0, high = keys.count - 1
        while high - low > 16 {
            let (left, right) = partition(keys, low, high)
            if rank <= left {
                high = left
            } else if rank >= right {
                low = right
            } else {
                return  // between the parts: keys equal to the pivot
            }
        }
        insertionSort(keys, low, high)
    }

    /// Sorts `keys` ascending (quicksort down to runs of 16, then insertion sort). The standard
    /// library's sort is stable, which distinct keys do not need, and was slower here; so were
    /// swift-algorithms' partial sorts (`min(count:)` for the keys and `max(count:)` for the
    /// sample: 12.8–18.0 µs against 6.6–8.3 µs for 200 of 3,883 in the same harness).
    static func sortKeys(_ keys: UnsafeMutableBufferPointer<UInt64>) {
        var pending = [(low: 0, high: keys.count - 1)]
        while let (low, high) = pending.popLast() {
            guard high - low > 16 else {
                insertionSort(keys, low, high)
                continue
            }
            let (left, right) = partition(keys, low, high)
            pending.append((low, left))
            pending.append((right, high))
        }
    }

    /// Hoare partition of `keys[low...high]` around the median of its first, middle and last
    /// keys: afterwards keys at or before `left` are ≤ the pivot, keys at or after `right` ≥ it,
    /// and those between equal it.
    private static func partition(_ keys: UnsafeMutableBufferPointer<UInt64>, _ low: Int, _ high: Int) -> (
        left: Int, right: Int
    ) {
        let middle = low + (high - low) / 2
        if keys[middle] < keys[low] { keys.swapAt(middle, low) }
        if keys[high] < keys[low] { keys.swapAt(high, low) }
        if keys[high] < keys[middle] { keys.swapAt(high, middle) }
        let pivot = keys[middle]
        var i = low, j = high
        while i <= j {
            while keys[i] < pivot { i += 1 }
            while keys[j] > pivot { j -= 1 }
            if i <= j {
                keys.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        return (j, i)
    }

    private static func insertionSort(_ keys: UnsafeMutableBufferPointer<UInt64>, _ low: Int, _ high: Int) {
        guard low < high else { return }
        for i in (low + 1)...high {
            let key = keys[i]
            var j = i - 1
            while j >= low && keys[j] > key {
                keys[j + 1] = keys[j]
                j -= 1
            }
            keys[j + 1] = key
        }
    }

    /// The score whose ``descendingKey(_:)`` this is (+0 for either zero).
    static func score(descendingKey key: UInt32) -> Float {
        let ascending = ~key
        return Float(bitPattern: ascending & 0x8000_0000 != 0 ? ascending & 0x7FFF_FFFF : ~ascending)
    }

    /// A key whose unsigned order is the reverse of the scores' (−0 and +0 alike), for scores
    /// that are not NaN.
    @inline(__always) static func descendingKey(_ score: Float) -> UInt32 {
        let bits = (score + 0).bitPattern  // −0 + 0 is +0
        // Negative scores: all bits flipped; others: the sign bit set. That orders as the floats.
        let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return ~ascending
    }

    /// The same by a sorted buffer of k, which most scores pass after one comparison: quick for
    /// small k, and the answer whenever the sampled threshold gives none.
    static func selectBySortedBuffer(
        _ k: Int, from scores: UnsafeBufferPointer<Float>, excluded: UnsafeBufferPointer<Bool>?
    )
        -> [Int32]
    {
        var best: [(score: Float, item: Int32)] = []
        best.reserveCapacity(k + 1)
        for i in 0..<scores.count {
            if let excluded, excluded[i] { continue }
            let s = scores[i]
            if s.isNaN { continue }
            if best.count == k, s <= best[k - 1].score { continue }
            var position = best.count
            while position > 0 && best[position - 1].score < s { position -= 1 }
            best.insert((s, Int32(i)), at: position)
            if best.count > k { best.removeLast() }
        }
        return best.map(\.item)
    }

    /// The `k` highest-scoring items outside `excluding`, best first. Inlinable so that callers
    /// in other modules get it specialised for their sequence (generic iteration showed in the
    /// served profile).
    @inlinable
    public static func select(_ k: Int, from scores: [Float], excluding: some Sequence<Int32>) -> [Int32] {
        var excluded = [Bool](repeating: false, count: scores.count)
        for item in excluding where item >= 0 && Int(item) < scores.count { excluded[Int(item)] = true }
        return scores.withUnsafeBufferPointer { s in
            excluded.withUnsafeBufferPointer { select(k, from: s, excluded: $0) }
        }
    }
}
