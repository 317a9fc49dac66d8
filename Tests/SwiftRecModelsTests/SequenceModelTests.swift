import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecEvaluation
@testable import SwiftRecModels

/// Generated users who mostly take the next item of their current category, switching
/// category now and then: order matters, so sequence models must beat popularity by far.
struct SequenceData {
    static let generated = SyntheticGenerator.generate(
        SyntheticConfig(
            users: 240, categories: 6, itemsPerCategory: 16, eventsPerUser: 18...30, switches: .probability(0.04),
            popularityExponent: 0.5, sequentialProbability: 0.7, seed: 11))
    static let split = Split.leaveOneOut(generated.dataset)

    static func ndcg(_ model: any Recommender) -> Double {
        Evaluator.evaluate(model, history: split.trainWithValidation, heldOut: split.test, options: .init(ks: [10]))
            .metrics["NDCG@10"]!
    }

    static let popularity: Double = {
        let pop = Popularity()
        try! pop.fit(split.train, validation: nil, progress: nil)
        return ndcg(pop)
    }()

    /// Small, quick training settings.
    static func training(epochs: Int = 12) -> SequenceTrainingOptions {
        var t = SequenceTrainingOptions()
        t.epochs = epochs
        t.batchSize = 32
        t.learningRate = 5e-3
        t.patience = 3
        t.seed = 5
        return t
    }

    static func sasrec(loss: SequenceLoss = .ce, epochs: Int = 12) throws -> SASRec {
        var config = SASRecConfig()
        config.dim = 32
        config.blocks = 1
        config.heads = 2
        config.maxLength = 24
        config.dropout = 0.1
        config.loss = loss
        config.negatives = 32
        config.training = training(epochs: epochs)
        return try SASRec(config: config)
    }

    static func recurrent(_ cell: RecurrentCell) throws -> GRU4Rec {
        var config = GRU4RecConfig()
        config.cell = cell
        config.dim = 32
        config.maxLength = 24
        config.dropout = 0.1
        config.training = training(epochs: 15)
        return try GRU4Rec(config: config)
    }

    static func bert4rec() throws -> BERT4Rec {
        var config = BERT4RecConfig()
        config.dim = 32
        config.blocks = 1
        config.heads = 2
        config.maxLength = 24
        config.dropout = 0.1
        config.maskRatio = 0.3
        config.training = training(epochs: 25)
        return try BERT4Rec(config: config)
    }

    /// Scores of a few users and of a new user, for comparing two models.
    static func sampleScores(_ model: any Recommender) -> [Float] {
        let states =
            split.test.users.prefix(5).map { UserState(user: $0, in: split.trainWithValidation) } + [
                UserState(items: [3, 4, 5])
            ]
        var scores = [Float](repeating: 0, count: states.count * model.itemCount)
        scores.withUnsafeMutableBufferPointer { model.scoreBatch(states, into: $0) }
        return scores
    }
}

private func scratchDirectory() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-seq-\(UUID().uuidString)")
}

@Suite("Sequence models")
struct SequenceModelTests {
    @Test func sasrecBeatsPopularityRoundTripsAndRepeats() throws {
        let model = try SequenceData.sasrec()
        let updates = UpdateLog()
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation) { updates.add($0) }
        let ndcg = SequenceData.ndcg(model)
        #expect(ndcg > 2 * SequenceData.popularity + 0.1, "sasrec \(ndcg) vs popularity \(SequenceData.popularity)")
        // Progress: a step report for every batch and an epoch line with the validation score.
        #expect(updates.steps > 0 && updates.messages.contains { $0.contains("valid NDCG@10") })
        #expect(updates.epochs.map(\.epoch) == Array(1...model.epochSeconds.count))
        #expect(updates.epochs.compactMap(\.validationNDCG) == model.validationNDCG)
        #expect(model.epochSeconds.count == model.validationNDCG.count && !model.epochSeconds.isEmpty)

        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(loaded.name == "sasrec" && loaded.itemCount == model.itemCount)
        #expect(SequenceData.sampleScores(loaded) == SequenceData.sampleScores(model))
        let (manifest, _) = try ModelArtifact.read(from: dir)
        #expect(manifest.itemFingerprint == SequenceData.split.train.items.fingerprint)

        // A large batch is scored in groups of similar history lengths: each user's scores are
        // those of scoring the user alone (up to rounding), whatever the others in the batch,
        // and exactly for a user without events.
        let states =
            SequenceData.split.test.users.prefix(13).map {
                UserState(user: $0, in: SequenceData.split.trainWithValidation)
            }
            + [
                UserState(items: [3, 4, 5]), UserState(items: []),
                UserState(items: Array(0..<40).map { Int32($0 % 20) }),
            ]
        #expect(Set(states.map { min($0.items.count, 24) }).count > 3, "histories of several lengths")
        var batch = [Float](repeating: 0, count: states.count * model.itemCount)
        batch.withUnsafeMutableBufferPointer { model.scoreBatch(states, into: $0) }
        for (k, state) in states.enumerated() {
            let alone = model.scores(for: state), grouped = batch[(k * model.itemCount)..<((k + 1) * model.itemCount)]
            let worst = zip(grouped, alone).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4 * max(1, alone.map(abs).max() ?? 0), "user \(k): \(worst)")
            if state.items.isEmpty { #expect(Array(grouped) == alone) }
        }

        // Same seed, same data: the same model.
        let again = try SequenceData.sasrec()
        try again.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        #expect(SequenceData.sampleScores(again) == SequenceData.sampleScores(model))
    }

    @Test func sasrecFollowsTheNewestEventsWithoutRetraining() throws {
        let model = try SequenceData.sasrec()
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        let data = SequenceData.generated
        let per = data.config.itemsPerCategory
        for category in [1, 4] {
            // A user whose history is in category 0 clicks three items of `category`.
            let old = (0..<6).map { Int32($0) }
            let fresh = (0..<3).map { Int32(category * per + 5 + $0) }
            let scores = model.scores(for: UserState(items: old + fresh))
            let seen = Set(old + fresh)
            let top = TopK.select(10, from: scores, excluding: seen)
            let share = top.filter { data.itemCategory[Int($0)] == category }.count
            #expect(share >= 6, "only \(share) of the top 10 in category \(category)")
            // The next item in the category's order ranks first.
            #expect(top.first == Int32(category * per + 8))
        }
    }

    @Test func explanationsPointAtTheHistoryThatDroveTheItem() throws {
        let model = try SequenceData.sasrec()
        try model.fit(SequenceData.split.train, validation: nil, progress: nil)
        let per = Int32(SequenceData.generated.config.itemsPerCategory)
        // Two items of category 0, then two of category 2: the recommended category-2 item is
        // explained mostly by the category-2 items.
        let state = UserState(items: [0, 1, 2 * per + 3, 2 * per + 4])
        model.network!.zeroGrad()
        let explanation = model.explain(2 * per + 5, for: state, top: 3)
        #expect(!explanation.isEmpty && explanation.count <= 3)
        #expect(explanation.allSatisfy { state.items.contains($0.item) && $0.weight > 0 && $0.weight <= 1 })
        #expect(explanation[0].item == 2 * per + 4 || explanation[0].item == 2 * per + 3)
        #expect(zip(explanation, explanation.dropFirst()).allSatisfy { $0.weight >= $1.weight })
        #expect(model.explain(-1, for: state, top: 3).isEmpty)
        // Explaining never writes gradients into the shared model.
        #expect(model.network!.parameters.allSatisfy { $0.grad == nil })
        // Several items at once: the same answers as one at a time.
        let items: [Int32] = [2 * per + 5, 7, -1, 2 * per + 6]
        let batched = model.explain(items, for: state, top: 3)
        #expect(batched.count == 4 && batched[2].isEmpty)
        for (item, together) in zip(items, batched) {
            let alone = model.explain(item, for: state, top: 3)
            #expect(together.map(\.item) == alone.map(\.item))
            #expect(zip(together, alone).allSatisfy { abs($0.weight - $1.weight) < 1e-3 })
        }
        // The one-pass attention method names the same driving history.
        let fast = model.explain([2 * per + 5, -1], for: state, top: 3, method: .attention)
        #expect(fast.count == 2 && fast[1].isEmpty)
        #expect(fast[0].first?.item == 2 * per + 4 || fast[0].first?.item == 2 * per + 3, "\(fast[0])")
        #expect(fast[0].allSatisfy { state.items.contains($0.item) && $0.weight > 0 && $0.weight <= 1 })
        // After scoring the same history the explanation reuses that forward pass: same answer.
        _ = model.scores(for: state)
        #expect(model.explain([2 * per + 5, -1], for: state, top: 3, method: .attention) == fast)
        #expect(model.network!.parameters.allSatisfy { $0.grad == nil })
    }

    @Test func attentionAttributionsDecomposeTheLastBlock() throws {
        // Without the last block's feed-forward output and attention bias, the score is exactly
        // the positions' shares plus the final norm's bias term: the decomposition is complete.
        let model = try SequenceData.sasrec()
        try model.fit(SequenceData.split.train, validation: nil, progress: nil)
        let network = model.network!
        let last = network.blocks[network.blocks.count - 1]
        for parameter in [
            last.feedForward.layers[1].weight, last.feedForward.layers[1].bias!, last.attention.output.bias!,
        ] {
            parameter.value = .zeros(parameter.shape)
        }
        let history: [Int32] = [3, 4, 5, 6, 30]
        let targets: [Int32] = [7, 40, 61]
        let shares = try #require(network.attentionAttributions(of: targets, after: history[...]))
        #expect(shares.count == 3 && shares.allSatisfy { $0.count == history.count })
        let scores = model.scores(for: UserState(items: history))
        let beta = network.finalNorm.bias.value.scalars
        let (table, offset) = network.outputTable
        let dim = network.config.dim
        for (target, share) in zip(targets, shares) {
            let row = table.scalars[(offset + Int(target) * dim)..<(offset + Int(target + 1) * dim)]
            let biasTerm = zip(row, beta).reduce(0) { $0 + $1.0 * $1.1 }
            let total = share.reduce(0, +) + biasTerm
            #expect(
                abs(total - scores[Int(target)]) < 1e-3 * max(1, abs(scores[Int(target)])),
                "\(total) vs \(scores[Int(target)])")
        }
        #expect(shares[0] != shares[1])
    }

    @Test(arguments: [SequenceLoss.sampled, .bce])
    func sasrecOtherLossesLearn(_ loss: SequenceLoss) throws {
        let model = try SequenceData.sasrec(loss: loss, epochs: 15)
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        let ndcg = SequenceData.ndcg(model)
        #expect(ndcg > 2 * SequenceData.popularity, "sasrec \(loss) \(ndcg) vs popularity \(SequenceData.popularity)")
    }

    @Test(arguments: [RecurrentCell.gru, .lstm])
    func recurrentModelsBeatPopularityAndRoundTrip(_ cell: RecurrentCell) throws {
        let model = try SequenceData.recurrent(cell)
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        let ndcg = SequenceData.ndcg(model)
        #expect(ndcg > 2 * SequenceData.popularity + 0.1, "\(model.name) \(ndcg) vs \(SequenceData.popularity)")
        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(loaded.name == (cell == .gru ? "gru4rec" : "lstm"))
        #expect(SequenceData.sampleScores(loaded) == SequenceData.sampleScores(model))
        #expect(!model.explain(5, for: UserState(items: [1, 2, 3]), top: 2).isEmpty)
    }

    @Test func bert4recBeatsPopularityAndRoundTrips() throws {
        let model = try SequenceData.bert4rec()
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        let ndcg = SequenceData.ndcg(model)
        #expect(ndcg > 2 * SequenceData.popularity, "bert4rec \(ndcg) vs popularity \(SequenceData.popularity)")
        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(SequenceData.sampleScores(loaded) == SequenceData.sampleScores(model))
        let explanation = model.explain(5, for: UserState(items: [1, 2, 3]), top: 5)
        #expect(!explanation.isEmpty && explanation.allSatisfy { [1, 2, 3].contains($0.item) })
    }

    @Test func lengthBucketsTrainAsWell() throws {
        var config = try SequenceData.sasrec().config
        config.training.lengthBuckets = true
        let model = try SASRec(config: config)
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        let ndcg = SequenceData.ndcg(model)
        #expect(ndcg > 2 * SequenceData.popularity + 0.1, "bucketed sasrec \(ndcg) vs \(SequenceData.popularity)")
        // Saved options from before a key existed still load, with its default.
        let old = try JSONDecoder().decode(SequenceTrainingOptions.self, from: Data(#"{"epochs": 7}"#.utf8))
        #expect(old.epochs == 7 && old.lengthBuckets == false && old.batchSize == 128)
    }

    @Test func aSeparateOutputLayerTrainsAndRoundTrips() throws {
        var config = try SequenceData.sasrec().config
        config.sharedOutput = false
        let model = try SASRec(config: config)
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        #expect(model.network?.stateDict()["output_embedding.weight"]?.shape == [model.itemCount, 32])
        let ndcg = SequenceData.ndcg(model)
        #expect(ndcg > 2 * SequenceData.popularity, "untied sasrec \(ndcg) vs \(SequenceData.popularity)")
        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(SequenceData.sampleScores(loaded) == SequenceData.sampleScores(model))
        let (manifest, _) = try ModelArtifact.read(from: dir)
        #expect(manifest.metrics["best_epoch"].map { $0 >= 1 } == true && manifest.metrics["valid_NDCG@10"] != nil)
    }

    @Test func timeBudgetAndPatienceStopTraining() throws {
        var options = SequenceData.training(epochs: 50)
        options.timeBudget = 1e-6
        var config = SASRecConfig()
        config.dim = 16
        config.maxLength = 10
        config.training = options
        let model = try SASRec(config: config)
        try model.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        #expect(model.epochSeconds.count == 1)

        // A learning rate too small to improve: patience 0 stops after the second round.
        config.training.timeBudget = nil
        config.training.learningRate = 1e-12
        config.training.patience = 0
        let stalled = try SASRec(config: config)
        try stalled.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        #expect(stalled.epochSeconds.count < 50)
    }

    @Test func badSettingsAreRejectedByName() {
        #expect(throws: ModelError.invalidParameter(name: "heads", reason: "dim 64 is not divisible by 3 heads")) {
            try ModelCatalog.make("sasrec", options: ["heads": "3"])
        }
        #expect(throws: ModelError.self) { try ModelCatalog.make("sasrec", options: ["loss": "hinge"]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("bert4rec", options: ["mask-ratio": "1.5"]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("gru4rec", options: ["dropout": "nan"]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("lstm", options: ["time-budget": "-3"]) }
        #expect(ModelCatalog.entry("sasrec")?.optionKeys.contains("loss") == true)
    }
}

/// Collects training updates from any thread.
final class UpdateLog: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var messages: [String] = []
    private(set) var steps = 0
    private(set) var epochs: [EpochSummary] = []

    func add(_ update: TrainingUpdate) {
        lock.lock()
        defer { lock.unlock() }
        switch update {
        case .message(let m): messages.append(m)
        case .step: steps += 1
        case .epoch(let summary): epochs.append(summary)
        }
    }
}

@Suite("SASRec inference path")
struct SASRecInferenceTests {
    @Test func lastPositionPathEqualsTheFullForward() {
        var config = SASRecConfig()
        config.dim = 16
        config.blocks = 2
        config.heads = 2
        config.maxLength = 12
        let network = SASRecNetwork(items: 30, config: config)
        network.setTraining(false)
        let histories: [ArraySlice<Int32>] = [
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [4, 9], [29], [7, 7, 3, 0, 1],
        ]
        withNoGrad {
            let fast = network.lastHidden(histories).scalars
            let length = 12
            let rows = SASRecNetwork.paddedRows(histories, length: length)
            let full = network.hidden(
                itemVectors: network.itemEmbedding(rows, shape: [histories.count, length]), rows: rows,
                batch: histories.count, length: length
            ).value.scalars
            for b in 0..<histories.count {
                for j in 0..<16 {
                    let reference = full[((b + 1) * length - 1) * 16 + j]
                    #expect(abs(fast[b * 16 + j] - reference) <= 1e-4 * max(1, abs(reference)), "row \(b) col \(j)")
                }
            }
        }
    }
}
