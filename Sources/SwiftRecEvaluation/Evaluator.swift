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
    /// With a grouping, the same figures over each group's users, by group number.
    public var groups: [EvaluationResult] = []
}

/// Full-ranking evaluation: every item is a candidate except the user's known history;
/// ties count against the held-out item.
public enum Evaluator {
    /// Scores each held-out user from `history` and ranks their held-out items.
    ///
    /// With `group` (a group number in `0..<groupCount` for each held-out case), the result also
    /// holds the figures of each group, from the same single scoring pass.
    public static func evaluate(
        _ model: any Recommender, history: Dataset, heldOut: HeldOut, options: EvaluationOptions = .init(),
        group: [Int]? = nil, groupCount: Int = 0
    ) -> EvaluationResult {
        let start = Date()
        let itemCount = model.itemCount
        precondition(
            itemCount == history.itemCount,
            "evaluate: model scores \(itemCount) items, the data has \(history.itemCount)")
        precondition(
            group.map { $0.count == heldOut.users.count && $0.allSatisfy { (0..<groupCount).contains($0) } } ?? true,
            "evaluate: a group in 0..<\(groupCount) is needed for each of the \(heldOut.users.count) cases")
        let k0 = options.ks[0]
        let popularity = itemPopularity(history)
        let categories = primaryCategories(history)
        var total = Accumulator(itemCount: itemCount)
        var parts = [Accumulator](repeating: Accumulator(itemCount: itemCount), count: group == nil ? 0 : groupCount)
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
            for (row, result) in results.enumerated() {
                guard let result else { continue }
                let novelty =
                    result.topItems.reduce(0.0) { $0 - log2(max(popularity[Int($1)], 1e-12)) }
                    / Double(max(result.topItems.count, 1))
                let diversity = intraListDiversity(result.topItems, categories: categories)
                total.add(result, novelty: novelty, diversity: diversity)
                if let group { parts[group[batchStart + row]].add(result, novelty: novelty, diversity: diversity) }
            }
        }
        let hasCategories = categories.contains { $0 >= 0 }
        let seconds = Date().timeIntervalSince(start)
        var result = total.result(k: k0, hasCategories: hasCategories, seconds: seconds)
        result.groups = parts.map { $0.result(k: k0, hasCategories: hasCategories, seconds: seconds) }
        return result
    }

    /// Sums over users, turned into means at the end.
    private struct Accumulator {
        var sums: [String: Double] = [:]
        var recommendedCounts: [Int]
        var diversity = 0.0, novelty = 0.0
        var users = 0

        init(itemCount: Int) { recommendedCounts = [Int](repeating: 0, count: itemCount) }

        mutating func add(_ row: RowResult, novelty: Double, diversity: Double) {
            for (name, value) in row.metrics { sums[name, default: 0] += value }
            for item in row.topItems { recommendedCounts[Int(item)] += 1 }
            self.diversity += diversity
            self.novelty += novelty
            users += 1
        }

        func result(k: Int, hasCategories: Bool, seconds: Double) -> EvaluationResult {
            let n = Double(max(users, 1))
            var metrics = sums.mapValues { $0 / n }
            metrics["Coverage@\(k)"] =
                Double(recommendedCounts.filter { $0 > 0 }.count) / Double(max(recommendedCounts.count, 1))
            // Diversity needs item categories; without them it is not reported rather than shown as 0.
            if hasCategories { metrics["Diversity@\(k)"] = diversity / n }
            metrics["Novelty@\(k)"] = novelty / n
            metrics["Gini@\(k)"] = Evaluator.gini(recommendedCounts)
            return EvaluationResult(metrics: metrics, users: users, seconds: seconds)
        }
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
