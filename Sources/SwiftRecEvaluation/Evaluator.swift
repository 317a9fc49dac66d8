import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecTensor

/// How an evaluation runs.
public struct EvaluationOptions: Sendable {
    /// Cutoffs for the @K metrics; beyond-accuracy metrics use the first.
    public var ks: [Int]
    /// Users scored per batch.
    public var batchSize: Int

    public init(ks: [Int] = [10, 20], batchSize: Int = 256) {
        precondition(!ks.isEmpty && ks.allSatisfy { $0 > 0 }, "EvaluationOptions: cutoffs must be positive, got \(ks)")
        self.ks = ks
        self.batchSize = batchSize
    }
}

/// Mean metrics over the evaluated users.
public struct EvaluationResult: Sendable, Codable, Equatable {
    /// Metric name → mean over users (e.g. "HR@10", "NDCG@10", "MRR", "AUC", "Coverage@10").
    public var metrics: [String: Double]
    /// Users evaluated.
    public var users: Int
    /// Wall time of scoring and ranking.
    public var seconds: Double
}

/// Full-ranking evaluation: every item is a candidate except the user's known history;
/// ties count against the held-out item.
public enum Evaluator {
    /// Scores each held-out user from `history` and ranks their held-out items.
    public static func evaluate(
        _ model: any Recommender, history: Dataset, heldOut: HeldOut, options: EvaluationOptions = .init()
    ) -> EvaluationResult {
        let start = Date()
        let itemCount = model.itemCount
        precondition(
            itemCount == history.itemCount,
            "evaluate: model scores \(itemCount) items, the data has \(history.itemCount)")
        let k0 = options.ks[0]
        let popularity = itemPopularity(history)
        let categories = primaryCategories(history)
        var sums: [String: Double] = [:]
        var recommendedCounts = [Int](repeating: 0, count: itemCount)
        var diversitySum = 0.0, noveltySum = 0.0
        let users = heldOut.users.count
        var scores = [Float](repeating: 0, count: options.batchSize * itemCount)
        for batchStart in stride(from: 0, to: users, by: options.batchSize) {
            let rows = min(options.batchSize, users - batchStart)
            let states = (0..<rows).map { UserState(user: heldOut.users[batchStart + $0], in: history) }
            scores.withUnsafeMutableBufferPointer { buffer in
                model.scoreBatch(states, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<(rows * itemCount)]))
            }
            // Rank rows in parallel; each row's figures are combined afterwards in order.
            var results = [RowResult?](repeating: nil, count: rows)
            scores.withUnsafeBufferPointer { all in
                results.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let all = all, out = out
                    parallelRanges(rows, costPerItem: itemCount * 4) { range in
                        var excluded = [Bool](repeating: false, count: itemCount)
                        for row in range {
                            let state = states[row]
                            for i in state.items { excluded[Int(i)] = true }
                            let rowScores = UnsafeBufferPointer(
                                rebasing: all[(row * itemCount)..<((row + 1) * itemCount)])
                            out[row] = excluded.withUnsafeBufferPointer { flags in
                                RowResult(
                                    scores: rowScores, excluded: flags, targets: heldOut.items[batchStart + row],
                                    ks: options.ks, listLength: k0)
                            }
                            for i in state.items { excluded[Int(i)] = false }
                        }
                    }
                }
            }
            for case let result? in results {
                for (name, value) in result.metrics { sums[name, default: 0] += value }
                for item in result.topItems { recommendedCounts[Int(item)] += 1 }
                diversitySum += intraListDiversity(result.topItems, categories: categories)
                noveltySum +=
                    result.topItems.reduce(0.0) { $0 - log2(max(popularity[Int($1)], 1e-12)) }
                    / Double(max(result.topItems.count, 1))
            }
        }
        var metrics = sums.mapValues { $0 / Double(max(users, 1)) }
        metrics["Coverage@\(k0)"] = Double(recommendedCounts.filter { $0 > 0 }.count) / Double(max(itemCount, 1))
        // Diversity needs item categories; without them it is not reported rather than shown as 0.
        if categories.contains(where: { $0 >= 0 }) { metrics["Diversity@\(k0)"] = diversitySum / Double(max(users, 1)) }
        metrics["Novelty@\(k0)"] = noveltySum / Double(max(users, 1))
        metrics["Gini@\(k0)"] = gini(recommendedCounts)
        return EvaluationResult(metrics: metrics, users: users, seconds: Date().timeIntervalSince(start))
    }

    /// The share of users who interacted with each item.
    static func itemPopularity(_ dataset: Dataset) -> [Double] {
        var counts = [Int](repeating: 0, count: dataset.itemCount)
        var lastUser = [Int](repeating: -1, count: dataset.itemCount)
        for u in 0..<dataset.userCount {
            for i in dataset.sequences.items(of: u) where lastUser[Int(i)] != u {
                lastUser[Int(i)] = u
                counts[Int(i)] += 1
            }
        }
        let users = Double(max(dataset.userCount, 1))
        return counts.map { Double($0) / users }
    }

    /// Each item's first category as an index, or -1.
    static func primaryCategories(_ dataset: Dataset) -> [Int32] {
        var names = IDMap()
        return dataset.itemInfo.map { info in info?.categories.first.map { names.intern($0) } ?? -1 }
    }

    /// The share of pairs in a list whose (known) categories differ.
    static func intraListDiversity(_ items: [Int32], categories: [Int32]) -> Double {
        var pairs = 0, different = 0
        for a in 0..<items.count {
            for b in (a + 1)..<max(items.count, a + 1) {
                let ca = categories[Int(items[a])], cb = categories[Int(items[b])]
                guard ca >= 0, cb >= 0 else { continue }
                pairs += 1
                if ca != cb { different += 1 }
            }
        }
        return pairs > 0 ? Double(different) / Double(pairs) : 0
    }

    /// The Gini coefficient of how often each item was recommended (0 = even, 1 = one item).
    static func gini(_ counts: [Int]) -> Double {
        let sorted = counts.sorted()
        let n = Double(sorted.count)
        let total = Double(sorted.reduce(0, +))
        guard n > 0, total > 0 else { return 0 }
        var weighted = 0.0
        for (i, c) in sorted.enumerated() { weighted += Double(i + 1) * Double(c) }
        return (2 * weighted) / (n * total) - (n + 1) / n
    }

    /// Root-mean-square and mean absolute error of rating predictions.
    public static func ratingErrors(predicted: [Double], actual: [Double]) -> (rmse: Double, mae: Double) {
        precondition(
            predicted.count == actual.count, "ratingErrors: \(predicted.count) predictions, \(actual.count) ratings")
        guard !predicted.isEmpty else { return (0, 0) }
        var squared = 0.0, absolute = 0.0
        for (p, a) in zip(predicted, actual) {
            squared += (p - a) * (p - a)
            absolute += abs(p - a)
        }
        let n = Double(predicted.count)
        return ((squared / n).squareRoot(), absolute / n)
    }
}

/// One user's figures.
struct RowResult: Sendable {
    var metrics: [String: Double]
    var topItems: [Int32]

    init(
        scores: UnsafeBufferPointer<Float>, excluded: UnsafeBufferPointer<Bool>, targets: [Int32], ks: [Int],
        listLength: Int
    ) {
        let outcome = RankingOutcome(scores: scores, targets: targets, excluded: excluded)
        var metrics = outcome.fullRankingMetrics
        for k in ks { metrics.merge(outcome.metrics(at: k)) { a, _ in a } }
        self.metrics = metrics
        self.topItems = TopK.select(listLength, from: scores, excluded: excluded)
    }
}

/// Top-K selection.
public enum TopK {
    /// The `k` highest-scoring items not excluded, best first; ties go to the lower index.
    public static func select(_ k: Int, from scores: UnsafeBufferPointer<Float>, excluded: UnsafeBufferPointer<Bool>?)
        -> [Int32]
    {
        guard k > 0 else { return [] }
        // A small sorted buffer: k is tiny next to the catalogue.
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
