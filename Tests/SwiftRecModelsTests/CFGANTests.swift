import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecModels

@Suite("CFGAN")
struct CFGANTests {
    let checks = CFModelChecks()
    var data: ClusteredData { checks.data }

    @Test func beatsPopularity() throws { try checks.beatsPopularity("cfgan") }
    @Test func saveLoadKeepsScoresAndBatchMatchesSingle() throws {
        try checks.saveLoadKeepsScoresAndBatchMatchesSingle("cfgan")
    }
    @Test func scoresFollowTheState() throws { try checks.scoresFollowTheState("cfgan") }
    @Test func fitIsDeterministic() throws { try checks.fitIsDeterministic("cfgan") }

    /// Training's first layers by input give the dense networks' outputs: G on the
    /// conditions, D on the real [c; c] and on [c; r].
    @Test func sparseFirstLayersEqualTheDenseNetworks() throws {
        var rng = SeededGenerator(seed: 4)
        let n = 9
        let g = CFGAN.network([n, 6, n], generator: &rng)
        let d = CFGAN.network([2 * n, 5, 1], generator: &rng)
        let first = SparseFirstLayers(generator: g, discriminator: d)
        let rows = BinaryRows([[0, 4, 8], [2], [1, 3, 5, 7]], width: n)
        let c = rows.dense()
        func close(_ a: Tensor, _ b: Tensor) -> Bool {
            a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) < 1e-5 }
        }
        withNoGrad {
            #expect(close(first.generate(rows).value, g(Variable(c)).value))
            #expect(
                close(
                    first.discriminate(rows, generated: nil).value,
                    d(Variable(Tensor.concatenate([c, c], axis: 1))).value))
            let r = Tensor.randomUniform([3, n], low: 0, high: 1, generator: &rng)
            let dense = d(Variable(Tensor.concatenate([c, r], axis: 1))).value
            #expect(close(first.discriminate(rows, generated: Variable(r)).value, dense))
            #expect(close(first.discriminate(rows, generated: Variable(r), constantWeights: true).value, dense))
        }
        // A step changes the weight by input; writing it back makes the MLP compute the same.
        let moved = first.generatorFirst.value
        first.generatorFirst.value = Tensor(shape: moved.shape, scalars: moved.scalars.map { $0 * 1.5 + 0.01 })
        first.writeGeneratorWeight()
        #expect(withNoGrad { close(first.generate(rows).value, g(Variable(c)).value) })
    }

    /// A generator step computes no gradient for D (its first weight included) and a
    /// discriminator step none for G.
    @Test func eachStepTrainsOnlyItsNetwork() throws {
        let model = try CFGAN(config: CFGANConfig())
        let train = BinaryInteractions(data.train)
        var rng = SeededGenerator(seed: 6)
        let g = CFGAN.network([train.itemCount, 8, train.itemCount], generator: &rng)
        let d = CFGAN.network([2 * train.itemCount, 4, 1], generator: &rng)
        let layers = SparseFirstLayers(generator: g, discriminator: d)
        _ = model.generatorStep([0, 1, 2], data: train, layers: layers, rng: &rng)
        #expect(layers.generatorParameters.allSatisfy { $0.grad != nil })
        #expect(layers.discriminatorParameters.allSatisfy { $0.grad == nil })
        layers.zeroGeneratorGrad()
        _ = model.discriminatorStep([0, 1, 2], data: train, layers: layers, rng: &rng)
        #expect(layers.discriminatorParameters.allSatisfy { $0.grad != nil })
        #expect(layers.generatorParameters.allSatisfy { $0.grad == nil })
    }

    /// Serving sums the first layer from the state's items; training runs the dense network on
    /// the condition vector. Both give the same logits, for one and for two hidden layers.
    @Test func sparseScoringEqualsTheDenseGenerator() throws {
        for layers in [[20], [20, 12]] {
            var config = CFGANConfig()
            (config.generatorLayers, config.discriminatorLayers, config.epochs, config.seed) = (layers, [8], 2, 9)
            let model = try CFGAN(config: config)
            try model.fit(data.train, validation: nil, progress: nil)
            let state = UserState(user: data.heldOut.users[3], in: data.train)
            var condition = Tensor.zeros([1, model.itemCount])
            condition.withUnsafeMutableBufferPointer { c in for i in state.items { c[Int(i)] = 1 } }
            let dense = withNoGrad { model.generator!(Variable(condition)).value.scalars }
            let served = model.scores(for: state)
            let worst = zip(dense, served).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-4, "\(layers): served logits differ from the dense generator by \(worst)")
        }
    }

    @Test func masksKeepThePurchasesAndSampleTheRatioOfTheRest() {
        var rng = SeededGenerator(seed: 11)
        let n = 2000
        var condition = Tensor.zeros([2, n])
        condition.withUnsafeMutableBufferPointer { c in
            for i in stride(from: 0, to: n, by: 10) { c[i] = 1 }
            c[n + 5] = 1
        }
        let partial = CFGAN.sampledMask(condition, ratio: 0.3, keepingPositives: true, rng: &rng)
        let zero = CFGAN.sampledMask(condition, ratio: 0.3, keepingPositives: false, rng: &rng)
        let (c, p, z) = (condition.scalars, partial.scalars, zero.scalars)
        let positives = c.indices.filter { c[$0] == 1 }, unseen = c.indices.filter { c[$0] == 0 }
        #expect(positives.allSatisfy { p[$0] == 1 }, "partial masking shows D every purchase (e_u)")
        #expect(positives.allSatisfy { z[$0] == 0 }, "zero reconstruction never pushes a purchase to 0")
        for mask in [p, z] {
            let share = Double(unseen.filter { mask[$0] == 1 }.count) / Double(unseen.count)
            #expect(abs(share - 0.3) < 0.03, "sampled share of unseen items \(share)")
        }
        let all = CFGAN.sampledMask(condition, ratio: 1, keepingPositives: false, rng: &rng).scalars
        #expect(all == c.map { 1 - $0 })
    }

    /// An explanation's shares are the exact falls of the target's score when each history
    /// item is taken out of the condition vector.
    @Test func explanationsAreExactOcclusion() throws {
        var config = CFGANConfig()
        (config.generatorLayers, config.discriminatorLayers, config.epochs, config.seed) = ([24, 12], [8], 8, 5)
        (config.generatorLearningRate, config.discriminatorLearningRate) = (3e-3, 3e-3)
        let model = try CFGAN(config: config)
        try model.fit(data.train, validation: nil, progress: nil)
        let state = UserState(items: [data.item(cluster: 1, 0), data.item(cluster: 1, 2), data.item(cluster: 3, 1)])
        let scores = model.scores(for: state)
        let target = Int32(
            scores.indices.filter { !state.items.contains(Int32($0)) }.max { scores[$0] < scores[$1] }!)
        let drops = state.items.map { removed in
            scores[Int(target)] - model.scores(for: UserState(items: state.items.filter { $0 != removed }))[Int(target)]
        }
        let total = drops.reduce(0) { $0 + abs($1) }
        let explained = model.explain(target, for: state, top: 3)
        let expected = zip(state.items, drops).filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }
        #expect(explained.map(\.item) == expected.map(\.0))
        for (attribution, (_, drop)) in zip(explained, expected) {
            #expect(abs(attribution.weight - drop / total) < 1e-3, "share \(attribution.weight) vs \(drop / total)")
        }
        #expect(model.explain(target, for: UserState(items: []), top: 3).isEmpty)
    }

    @Test func badOptionsAreRejectedByName() {
        #expect(throws: ModelError.self) { try ModelCatalog.make("cfgan", options: ["zr-ratio": 1.5]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("cfgan", options: ["generator-layers": .array([])]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("cfgan", options: ["generator-loss": "wasserstein"]) }
        #expect(throws: ModelError.self) { try CFGAN.load(from: URL(fileURLWithPath: "/nonexistent-cfgan")) }
    }
}
