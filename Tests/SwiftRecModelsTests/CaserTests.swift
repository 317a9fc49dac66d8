import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecEvaluation
@testable import SwiftRecModels

@Suite("Caser")
struct CaserTests {
    static func caser(epochs: Int = 15) throws -> Caser {
        var config = CaserConfig()
        config.dim = 32
        config.maxLength = 4
        config.horizontalFilters = 8
        config.verticalFilters = 2
        config.dropout = 0.2
        config.trainingLength = 30
        config.training = SequenceData.training(epochs: epochs)
        return try Caser(config: config)
    }

    /// Backpropagation through both convolutions, the max pooling and the fully connected layer
    /// agrees with central differences of Σ z·w, for the input image and every parameter.
    @Test func convolutionsMatchFiniteDifferences() throws {
        var config = CaserConfig()
        (config.dim, config.maxLength, config.horizontalFilters, config.verticalFilters) = (6, 3, 4, 2)
        let network = CaserNetwork(items: 10, config: config)
        network.setTraining(false)
        var g = SeededGenerator(seed: 3)
        let image = Variable(.randomNormal([2, 3, 6], std: 1, generator: &g), requiresGrad: true)
        let weights = Tensor.randomUniform([2, 6], low: -1, high: 1, generator: &g)
        func objective() -> Double {
            let z = withNoGrad { network.encode(image, count: 2).value }
            return zip(z.scalars, weights.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        network.zeroGrad()
        (network.encode(image, count: 2) * Variable(weights)).sum().backward()
        let checked =
            [("image", image)]
            + network.namedParameters().filter { !$0.name.contains("embedding") }
            .map { ($0.name, $0.parameter) }
        for (name, variable) in checked {
            let analytic = try #require(variable.grad, "\(name): no gradient")
            let order = analytic.scalars.indices.sorted { abs(analytic.scalars[$0]) > abs(analytic.scalars[$1]) }
            for i in order.prefix(4) {
                let original = variable.value.scalars[i]
                // Small: a larger step can cross a ReLU or max-pooling kink; the objective is summed in Double.
                let epsilon: Float = 1e-4
                variable.value.withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
                let plus = objective()
                variable.value.withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
                let minus = objective()
                variable.value.withUnsafeMutableBufferPointer { $0[i] = original }
                let numeric = Float((plus - minus) / Double(2 * epsilon))
                let a = analytic.scalars[i]
                #expect(
                    abs(a - numeric) <= 5e-3 + 2e-2 * max(abs(a), abs(numeric)), "\(name)[\(i)]: \(a) vs \(numeric)")
            }
        }
    }

    @Test func beatsPopularityRoundTripsAndRepeats() throws {
        let model = try Self.caser()
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        let ndcg = SequenceData.ndcg(model)
        #expect(ndcg > 2 * SequenceData.popularity + 0.1, "caser \(ndcg) vs popularity \(SequenceData.popularity)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-caser-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(loaded.name == "caser" && SequenceData.sampleScores(loaded) == SequenceData.sampleScores(model))
        let again = try Self.caser()
        try again.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        #expect(SequenceData.sampleScores(again) == SequenceData.sampleScores(model))
        // A new event changes the scores at once; explanations name only history items.
        let state = UserState(items: [3, 4, 5])
        let moved = UserState(items: [3, 4, 5, 40])
        #expect(model.scores(for: state) != model.scores(for: moved))
        let reasons = model.explain([6], for: state, top: 3)[0]
        #expect(!reasons.isEmpty && reasons.allSatisfy { [3, 4, 5].contains($0.item) })
    }

    @Test func badSettingsAreRejectedByName() {
        #expect(throws: ModelError.self) { try ModelCatalog.make("caser", options: ["max-len": "0"]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("caser", options: ["dropout": "1"]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("caser", options: ["horizontal-filters": "x"]) }
    }
}
