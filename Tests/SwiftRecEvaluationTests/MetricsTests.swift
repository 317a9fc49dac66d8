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
