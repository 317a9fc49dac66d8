import Foundation
import Testing

@testable import SwiftRecData
@testable import SwiftRecEvaluation

@Suite("Ranking metrics against hand-computed rankings")
struct MetricsTests {
    @Test func singleTargetRankAndMetrics() {
        // Item 4 is the target; items 0 and 2 are history. Candidates by score: 3 (0.9), 4 (0.8), 1 (0.1), 5 (0.0).
        let outcome = RankingOutcome(scores: [5, 0.1, 7, 0.9, 0.8, 0], targets: [4], excluded: [0, 2])
        #expect(outcome.targetRanks == [1] && outcome.candidateCount == 4)
        let m = outcome.metrics(at: 2)
        #expect(m["HR@2"] == 1 && m["Recall@2"] == 1 && m["Precision@2"] == 0.5)
        #expect(abs(m["NDCG@2"]! - 1 / log2(3.0)) < 1e-12)
        #expect(m["MRR@2"] == 0.5 && m["MAP@2"] == 0.5)
        #expect(abs(m["F1@2"]! - 2 * 0.5 / 1.5) < 1e-12)
        #expect(outcome.metrics(at: 1)["HR@1"] == 0 && outcome.metrics(at: 1)["NDCG@1"] == 0)
        let full = outcome.fullRankingMetrics
        #expect(full["MRR"] == 0.5 && abs(full["AUC"]! - 2.0 / 3) < 1e-12)
    }

    @Test func tiesCountAgainstTheTarget() {
        let allEqual = RankingOutcome(scores: [1, 1, 1, 1], targets: [2], excluded: [])
        #expect(allEqual.targetRanks == [3])
        #expect(allEqual.metrics(at: 3)["HR@3"] == 0)
        #expect(allEqual.fullRankingMetrics["AUC"] == 0)
        let nan = RankingOutcome(scores: [.nan, 0.5, 0.2], targets: [1], excluded: [])
        #expect(nan.targetRanks == [1])
    }

    @Test func kLargerThanTheListAndSeveralTargets() {
        // Targets 1 and 3; ranking 1 (rank 0), 0 (1), 3 (2), 2 (3).
        let outcome = RankingOutcome(scores: [0.8, 0.9, 0.1, 0.5], targets: [1, 3], excluded: [])
        #expect(outcome.targetRanks == [0, 2])
        let m = outcome.metrics(at: 10)
        #expect(m["HR@10"] == 1 && m["Recall@10"] == 1 && m["Precision@10"] == 0.2)
        let dcg = 1 + 1 / log2(4.0), ideal = 1 + 1 / log2(3.0)
        #expect(abs(m["NDCG@10"]! - dcg / ideal) < 1e-12)
        #expect(abs(m["MAP@10"]! - (1 + 2.0 / 3) / 2) < 1e-12)
        #expect(abs(outcome.fullRankingMetrics["AUC"]! - (1 + 0.5) / 2) < 1e-12)
    }

    @Test func topKSkipsExcludedAndBreaksTiesByIndex() {
        let scores: [Float] = [0.5, 0.9, 0.5, 0.7, 0.9]
        let excluded = [false, true, false, false, false]
        let top = scores.withUnsafeBufferPointer { s in
            excluded.withUnsafeBufferPointer { e in TopK.select(3, from: s, excluded: e) }
        }
        #expect(top == [4, 3, 0])
    }

    /// Every k gives a full sort's first k by score, ties to the lower index, with excluded items
    /// and NaN left out; scores drawn from few values, so ties are common.
    @Test(arguments: [1, 10, 32, 33, 200, 1_500, 3_000])
    func topKEqualsAFullSortForEveryK(k: Int) {
        var generator = SplitMix64(seed: UInt64(k))
        let n = 2_000
        let scores: [Float] = (0..<n).map { _ in
            let draw = generator.next() % 50
            // The best score is zero, of either sign (0 · −0.25 is −0; 17 gives +0): the two
            // tie (−0 == +0), as a sort of floats has them.
            return draw == 0 ? .nan : draw == 17 ? 0 : Float(draw % 17) * -0.25
        }
        let excluded = (0..<n).map { _ in generator.next() % 7 == 0 }
        #expect(selected(k, scores, excluded) == fullSortPrefix(k, scores, excluded))
    }

    /// The same with scores of many distinct values, a long run of −∞ (the items outside a
    /// candidate set) and ±∞, for k up to past the number of candidates.
    @Test(arguments: [1, 7, 200, 1_000, 3_500, 4_000, 5_000])
    func topKEqualsAFullSortWithDistinctScoresAndInfinities(k: Int) {
        var generator = SplitMix64(seed: 1_000 + UInt64(k))
        let n = 4_000
        var scores: [Float] = (0..<n).map { _ in Float(generator.next() % 1_000_000) / 1_000 - 500 }
        for i in 1_000..<3_000 { scores[i] = -.infinity }
        scores[17] = .infinity
        scores[3_999] = .infinity
        scores[5] = .nan
        let excluded = (0..<n).map { _ in generator.next() % 11 == 0 }
        #expect(selected(k, scores, excluded) == fullSortPrefix(k, scores, excluded))
    }

    /// The pass over all scores gives the same list on each code path (portable, AVX2, AVX-512;
    /// a path this CPU lacks runs its best), with NaN, ties, excluded items or none, and a
    /// catalogue that is not a multiple of 16 or 8.
    @Test(arguments: [Int32(0), 1, 2])
    func topKPassIsTheSameOnEveryCodePath(path: Int32) throws {
        var generator = SplitMix64(seed: 99)
        let n = 3_883
        let scores: [Float] = (0..<n).map { _ in
            let draw = generator.next() % 200
            return draw == 0 ? .nan : Float(draw % 97) * 0.5 - 20
        }
        let excluded = (0..<n).map { _ in generator.next() % 13 == 0 }
        let none = [Bool](repeating: false, count: n)
        for k in [1, 10, 200] {
            let withExcluded = try #require(
                scores.withUnsafeBufferPointer { s in
                    excluded.withUnsafeBufferPointer { e in
                        TopK.selectAboveSampledThreshold(k, from: s, excluded: e, path: path)
                    }
                })
            #expect(withExcluded == fullSortPrefix(k, scores, excluded), "k \(k)")
            let withoutExcluded = try #require(
                scores.withUnsafeBufferPointer {
                    TopK.selectAboveSampledThreshold(k, from: $0, excluded: nil, path: path)
                })
            #expect(withoutExcluded == fullSortPrefix(k, scores, none), "k \(k)")
        }
    }

    /// The sort and the selection of keys behind it, against the standard library's sort, on
    /// runs with many equal keys and on sorted and reversed input.
    @Test func keySortAndSelectionMatchTheStandardSort() {
        var generator = SplitMix64(seed: 5)
        for count in [1, 2, 17, 100, 1_000] {
            for pattern in 0..<4 {
                var keys: [UInt64] = (0..<count).map { _ in generator.next() % (pattern == 0 ? 5 : 1_000_000) }
                if pattern == 2 { keys.sort() }
                if pattern == 3 { keys.sort(by: >) }
                let sorted = keys.sorted()
                var all = keys
                all.withUnsafeMutableBufferPointer { TopK.sortKeys($0) }
                #expect(all == sorted, "count \(count), pattern \(pattern)")
                let rank = Int(generator.next() % UInt64(count))
                var placed = keys
                placed.withUnsafeMutableBufferPointer { TopK.placeInOrder(rank, in: $0) }
                #expect(placed[rank] == sorted[rank], "count \(count), pattern \(pattern), rank \(rank)")
                #expect(
                    placed[..<rank].allSatisfy { $0 <= sorted[rank] }
                        && placed[rank...].allSatisfy { $0 >= sorted[rank] })
            }
        }
    }

    /// When the evenly spaced sample is unlike the rest (it alone scores high), too few items
    /// pass its threshold and the selection falls back to the sorted buffer, with the same answer.
    @Test func topKIsExactWhenTheSampleMisleads() {
        let n = 4_000
        var scores = [Float](repeating: 0, count: n)
        for j in 0..<512 { scores[j * n / 512] = 1_000 + Float(j) }
        for i in stride(from: 1, to: n, by: 3) where scores[i] == 0 { scores[i] = Float(i % 7) }
        let none = [Bool](repeating: false, count: n)
        #expect(selected(200, scores, none) == fullSortPrefix(200, scores, none))
        #expect(
            scores.withUnsafeBufferPointer { TopK.selectAboveSampledThreshold(200, from: $0, excluded: nil) } == nil)
    }

    /// `TopK.select`'s answer.
    private func selected(_ k: Int, _ scores: [Float], _ excluded: [Bool]) -> [Int32] {
        scores.withUnsafeBufferPointer { s in
            excluded.withUnsafeBufferPointer { e in TopK.select(k, from: s, excluded: e) }
        }
    }

    /// The first k of a full sort by score, ties to the lower index, excluded items and NaN left
    /// out: what `TopK.select` must return.
    private func fullSortPrefix(_ k: Int, _ scores: [Float], _ excluded: [Bool]) -> [Int32] {
        (0..<scores.count).filter { !excluded[$0] && !scores[$0].isNaN }
            .sorted { (scores[$0], -$0) > (scores[$1], -$1) }.prefix(k).map { Int32($0) }
    }

    @Test func beyondAccuracyHelpers() {
        #expect(Evaluator.gini([5, 5, 5, 5]) == 0)
        #expect(abs(Evaluator.gini([0, 0, 0, 12]) - 0.75) < 1e-12)
        #expect(Evaluator.intraListDiversity([0, 1, 2], categories: [0, 0, 1]) == 2.0 / 3)
        let errors = Evaluator.ratingErrors(predicted: [3, 4, 5], actual: [4, 4, 3])
        #expect(abs(errors.rmse - (5.0 / 3).squareRoot()) < 1e-12 && errors.mae == 1)
    }
}
