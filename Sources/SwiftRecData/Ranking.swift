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
        if k > 32, let found = selectAboveSampledThreshold(k, from: scores, excluded: excluded) { return found }
        return selectBySortedBuffer(k, from: scores, excluded: excluded)
    }

    /// The answer from the items scoring at least a threshold read off an even sample of 512
    /// scores, at about 1.5 times the k-th's expected rank: one pass without branches keeps
    /// them, and only they are sorted. Nil when fewer than k items pass (the sample misled), or
    /// when k is not small next to the catalogue. Items tied with the k-th best all score at
    /// least the threshold whenever k items do, so the list is the exact one. (Selections that
    /// branch on every score, a sorted buffer of k or a quickselect, took 6–7 % of a serving
    /// profile at 200 of 3,952.)
    static func selectAboveSampledThreshold(
        _ k: Int, from scores: UnsafeBufferPointer<Float>, excluded: UnsafeBufferPointer<Bool>?
    ) -> [Int32]? {
        let n = scores.count
        guard n >= 8 * k, n >= 1_024 else { return nil }
        let sampleSize = 512
        var sample = [Float]()
        sample.reserveCapacity(sampleSize)
        for j in 0..<sampleSize {
            let i = j * n / sampleSize
            if let excluded, excluded[i] { continue }
            if !scores[i].isNaN { sample.append(scores[i]) }
        }
        guard sample.count >= sampleSize / 2 else { return nil }
        let rank = min(sample.count - 1, 3 * k * sample.count / (2 * n) + 8)
        // The sample's (rank + 1)-th best by a sorted buffer: most sampled scores are turned
        // away by one comparison, where sorting all 512 cost more than the pass below.
        let best = sample.withUnsafeBufferPointer { selectBySortedBuffer(rank + 1, from: $0, excluded: nil) }
        let threshold = sample[Int(best[rank])]
        // Each kept item as one sort key: the score's order reversed above, the item below, so
        // a plain sort of integers orders by score, best first, then by item.
        var kept = [UInt64](repeating: 0, count: n)
        let count = kept.withUnsafeMutableBufferPointer { kept in
            var count = 0
            for i in 0..<n {
                let s = scores[i]
                kept[count] = UInt64(descendingKey(s)) << 32 | UInt64(i)
                // NaN fails the comparison, so it is never kept.
                let keep = s >= threshold && !(excluded?[i] ?? false)
                count &+= keep ? 1 : 0
            }
            return count
        }
        guard count >= k else { return nil }
        kept.removeLast(n - count)
        kept.sort()
        return kept.prefix(k).map { Int32(truncatingIfNeeded: $0) }
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

    /// The `k` highest-scoring items outside `excluding`, best first.
    public static func select(_ k: Int, from scores: [Float], excluding: some Sequence<Int32>) -> [Int32] {
        var excluded = [Bool](repeating: false, count: scores.count)
        for item in excluding where item >= 0 && Int(item) < scores.count { excluded[Int(item)] = true }
        return scores.withUnsafeBufferPointer { s in
            excluded.withUnsafeBufferPointer { select(k, from: s, excluded: $0) }
        }
    }
}
