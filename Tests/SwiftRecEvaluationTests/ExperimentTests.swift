import Foundation
import SwiftRecData
import SwiftRecModels
import Testing

@testable import SwiftRecEvaluation

@Suite("The experiment runner: one fit, one split, one evaluation")
struct ExperimentTests {
    static let dataset = SyntheticGenerator.generate(
        SyntheticConfig(
            users: 200, categories: 5, itemsPerCategory: 12, eventsPerUser: 12...24, switches: .probability(0.05),
            popularityExponent: 0.6, sequentialProbability: 0.5, seed: 23)
    ).dataset

    @Test func coldAndWarmFiguresComeFromTheSameScoringPassAsTheirSeparateEvaluations() throws {
        let experiment = Experiment(dataset: Self.dataset, cutoffs: [10], coldItemFraction: 0.2)
        let cold = try #require(experiment.coldItems)
        let model = try ItemKNN()
        let report = try experiment.run(model)
        let (split, options) = (experiment.split, EvaluationOptions(ks: [10]))
        for (wanted, figures, users) in [
            (true, report.testCold, report.testColdUsers), (false, report.testWarm, report.testWarmUsers),
        ] {
            var part = HeldOut()
            for (user, items) in zip(split.test.users, split.test.items) where cold[Int(items[0])] == wanted {
                part.users.append(user)
                part.items.append(items)
            }
            let alone = Evaluator.evaluate(model, history: split.trainWithValidation, heldOut: part, options: options)
            #expect(users == part.users.count)
            for metric in ["HR@10", "NDCG@10", "MRR", "AUC", "Coverage@10", "Gini@10"] {
                #expect(figures?[metric] == alone.metrics[metric], "\(metric), cold \(wanted)")
            }
        }
        #expect((report.testColdUsers ?? 0) > 0 && (report.testWarmUsers ?? 0) > 0)
        #expect(report.testColdUsers! + report.testWarmUsers! == report.testUsers)
        let whole = Evaluator.evaluate(model, history: split.trainWithValidation, heldOut: split.test, options: options)
        #expect(report.test == whole.metrics)
    }

    @Test func theReportEncodesUnderTheCommandLineKeysAndDecodesBack() throws {
        let report = try Experiment(dataset: Self.dataset, cutoffs: [10, 20]).run(Popularity())
        #expect(report.valid["NDCG@10"] != nil && report.test["HR@20"] != nil && report.testCold == nil)
        let data = try JSONEncoder().encode(ExperimentReport(models: ["pop": report], protocol: "leave-one-out"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let pop = try #require((object["models"] as? [String: Any])?["pop"] as? [String: Any])
        for key in ["valid", "test", "fit_seconds", "epoch_seconds", "test_eval_seconds", "test_users"] {
            #expect(pop[key] != nil, "\(key)")
        }
        #expect(pop["test_cold"] == nil)
        let decoded = try JSONDecoder().decode(ExperimentReport.self, from: data)
        #expect(decoded.models["pop"] == report)
        #expect(report.headline()["test_NDCG@10"] == report.test["NDCG@10"])
    }

    @Test func theSharedSingleTargetRankAgreesWithTheFullRankingOutcome() {
        var generator = SplitMix64(seed: 5)
        for _ in 0..<50 {
            let n = 40
            // Coarse scores so that ties occur.
            let scores = (0..<n).map { _ in Float(generator.next() % 8) }
            let excluded = (0..<n).map { _ in generator.next() % 4 == 0 }
            let target = Int(generator.next() % UInt64(n))
            var flags = excluded
            flags[target] = false
            let full = scores.withUnsafeBufferPointer { s in
                flags.withUnsafeBufferPointer { RankingOutcome(scores: s, targets: [Int32(target)], excluded: $0) }
            }
            let rank = scores.withUnsafeBufferPointer { s in
                excluded.withUnsafeBufferPointer { RankingOutcome.rank(of: target, scores: s, excluded: $0) }
            }
            let capped = scores.withUnsafeBufferPointer { s in
                excluded.withUnsafeBufferPointer { RankingOutcome.rank(of: target, scores: s, excluded: $0, limit: 10) }
            }
            #expect(rank == full.targetRanks[0])
            #expect(capped == min(rank, 10))
            #expect(RankingOutcome.ndcg(rank: capped, k: 10) == (full.metrics(at: 10)["NDCG@10"] ?? -1))
        }
    }
}
