import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecEvaluation
@testable import SwiftRecModels

/// int8 scoring (`quantize=int8`): close to float, switchable both ways, saved with the model.
@Suite("Quantised scoring")
struct QuantizedScoringTests {
    let clustered = ClusteredData(users: 240, picksPerUser: 7, popularShare: 0.6, seed: 7)

    /// A small model of `name` at `precision`, its training data and the held-out events.
    func fitted(_ name: String, _ precision: ScoringPrecision) throws -> (
        model: any Recommender & PrecisionSwitching, train: Dataset, heldOut: HeldOut
    ) {
        switch name {
        case "bpr":
            var config = BPRConfig()
            (config.factors, config.epochs, config.seed, config.quantize) = (16, 60, 3, precision)
            let model = try BPR(config: config)
            try model.fit(clustered.train, validation: nil, progress: nil)
            return (model, clustered.train, clustered.heldOut)
        case "ials":
            var config = ImplicitALSConfig()
            (config.factors, config.alpha, config.iterations, config.seed) = (16, 4, 10, 3)
            config.quantize = precision
            let model = try ImplicitALS(config: config)
            try model.fit(clustered.train, validation: nil, progress: nil)
            return (model, clustered.train, clustered.heldOut)
        default:
            var config = try SequenceData.sasrec().config
            config.quantize = precision
            let model = try SASRec(config: config)
            try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
            return (model, SequenceData.split.trainWithValidation, SequenceData.split.test)
        }
    }

    func ndcg(_ model: any Recommender, _ train: Dataset, _ heldOut: HeldOut) -> Double {
        Evaluator.evaluate(model, history: train, heldOut: heldOut, options: .init(ks: [10])).metrics["NDCG@10"]!
    }

    func batchScores(_ model: any Recommender, _ states: [UserState]) -> [Float] {
        var scores = [Float](repeating: .nan, count: states.count * model.itemCount)
        scores.withUnsafeMutableBufferPointer { model.scoreBatch(states, into: $0) }
        return scores
    }

    @Test(arguments: ["bpr", "ials", "sasrec"])
    func int8StaysCloseToFloatSwitchesBackAndSaves(_ name: String) throws {
        let (model, train, heldOut) = try fitted(name, .float)
        let states = heldOut.users.prefix(10).map { UserState(user: $0, in: train) } + [UserState(items: [1, 2, 3])]
        let float = batchScores(model, states)
        let floatNDCG = ndcg(model, train, heldOut)
        let floatBytes = model.scoringTableBytes

        model.setScoringPrecision(.int8)
        #expect(model.scoringPrecision == .int8)
        #expect(model.scoringTableBytes * 2 < floatBytes, "\(name): int8 table \(model.scoringTableBytes) B")
        let int8 = batchScores(model, states)
        #expect(int8 != float)
        let n = model.itemCount
        for r in 0..<states.count {
            let row = Array(float[(r * n)..<((r + 1) * n)]), quantized = Array(int8[(r * n)..<((r + 1) * n)])
            let range = row.max()! - row.min()!
            let worst = zip(row, quantized).map { abs($0 - $1) }.max()!
            #expect(worst < 0.03 * range, "\(name): row \(r) moved by \(worst) of a range of \(range)")
            // One state alone scores as it does in a batch.
            let single = model.scores(for: states[r])
            #expect(zip(single, quantized).allSatisfy { abs($0 - $1) <= 1e-4 * range }, "\(name): single vs batch")
        }
        let int8NDCG = ndcg(model, train, heldOut)
        #expect(abs(int8NDCG - floatNDCG) < 0.02, "\(name): NDCG@10 int8 \(int8NDCG) vs float \(floatNDCG)")

        // Back to float: exactly the float scores again.
        model.setScoringPrecision(.float)
        #expect(batchScores(model, states) == float)

        // Configured at int8: fit quantises (same seed, same weights), the manifest keeps it,
        // and a loaded model scores as the fitted one.
        let configured = try fitted(name, .int8).model
        #expect(configured.scoringPrecision == .int8)
        #expect(batchScores(configured, states) == int8)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-q8-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try configured.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect((loaded as? any PrecisionSwitching)?.scoringPrecision == .int8)
        #expect(batchScores(loaded, states) == int8)
    }

    /// A fusion switches the members that have int8 scoring and leaves the others at float; a
    /// fusion with none has no switch.
    @Test func aCascadeScoresItsRetrieverAtInt8() throws {
        let (bpr, train, heldOut) = try fitted("bpr", .float)
        let popularity = try ModelCatalog.make("pop")
        try popularity.fit(train, validation: nil, progress: nil)
        let cascade = try FusionRecommender(
            kind: .cascade, members: [bpr, popularity], weights: [0.5], candidates: 20)
        let switching = try #require(precisionSwitching(of: cascade))
        let states = heldOut.users.prefix(10).map { UserState(user: $0, in: train) }
        let float = batchScores(cascade, states)
        switching.setScoringPrecision(.int8)
        #expect(bpr.scoringPrecision == .int8 && switching.scoringPrecision == .int8)
        #expect(switching.scoringTableBytes == bpr.scoringTableBytes)
        let int8 = batchScores(cascade, states)
        #expect(int8 != float, "the retriever's int8 scores reach the cascade")
        switching.setScoringPrecision(.float)
        #expect(batchScores(cascade, states) == float)
        let countsOnly = try FusionRecommender(kind: .blend, members: [popularity, popularity], weights: [0.5, 0.5])
        #expect(precisionSwitching(of: countsOnly) == nil)
        #expect(precisionSwitching(of: popularity) == nil && precisionSwitching(of: bpr) != nil)
    }

    @Test func aBadPrecisionIsRejectedByName() {
        #expect(throws: ModelError.self) { _ = try ModelCatalog.make("sasrec", options: ["quantize": "int4"]) }
    }
}
