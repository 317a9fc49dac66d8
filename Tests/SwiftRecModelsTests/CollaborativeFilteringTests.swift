import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecEvaluation
@testable import SwiftRecModels

private func scratchDirectory() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-cf-\(UUID().uuidString)")
}

/// The CF models under test, small enough for the synthetic data.
private func makeModel(_ name: String) throws -> any Recommender {
    switch name {
    case "ease": return try EASE(lambda: 10)
    case "ials": return try ImplicitALS(factors: 16, regularization: 0.1, alpha: 4, iterations: 10, seed: 3)
    case "bpr": return try BPR(factors: 16, learningRate: 0.05, regularization: 0.01, epochs: 60, seed: 3)
    case "lightgcn", "lightgcn-kg":
        var config = LightGCNConfig()
        (config.dim, config.layers, config.epochs, config.batchSize) = (16, 2, 40, 256)
        (config.learningRate, config.seed, config.knowledge) = (0.01, 3, name == "lightgcn-kg")
        return try LightGCN(config: config)
    case "lightgcn-softmax":
        // Not a catalogue name: `lightgcn` with `loss=softmax`.
        var config = LightGCNConfig()
        (config.dim, config.layers, config.epochs, config.batchSize) = (16, 2, 40, 256)
        (config.learningRate, config.seed, config.loss) = (0.01, 3, .softmax)
        return try LightGCN(config: config)
    case "cfgan":
        var config = CFGANConfig()
        (config.generatorLayers, config.discriminatorLayers, config.epochs) = ([32], [16], 100)
        (config.generatorLearningRate, config.discriminatorLearningRate, config.seed) = (3e-3, 3e-3, 3)
        (config.generatorSteps, config.discriminatorSteps, config.generatorLoss) = (2, 1, .nonSaturating)
        return try CFGAN(config: config)
    default: fatalError("unknown model \(name)")
    }
}

/// The checks every CF model passes, run by each model's suite below.
struct CFModelChecks {
    let data = ClusteredData(users: 240, picksPerUser: 7, popularShare: 0.6, seed: 7)

    func ndcg(_ model: any Recommender) -> Double {
        Evaluator.evaluate(model, history: data.train, heldOut: data.heldOut, options: .init(ks: [10])).metrics[
            "NDCG@10"]!
    }

    func beatsPopularity(_ name: String) throws {
        let pop = Popularity()
        try pop.fit(data.train, validation: nil, progress: nil)
        let model = try makeModel(name)
        try model.fit(data.train, validation: nil, progress: nil)
        let (popScore, modelScore) = (ndcg(pop), ndcg(model))
        #expect(modelScore > popScore + 0.2, "\(name): NDCG@10 \(modelScore) vs popularity \(popScore)")
    }

    func saveLoadKeepsScoresAndBatchMatchesSingle(_ name: String) throws {
        let model = try makeModel(name)
        try model.fit(data.train, validation: nil, progress: nil)
        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(loaded.name == name && loaded.itemCount == model.itemCount)
        let states =
            data.heldOut.users.prefix(12).map { UserState(user: $0, in: data.train) } + [
                UserState(items: [data.item(cluster: 1, 0), data.item(cluster: 1, 3)])
            ]
        let n = model.itemCount
        var batch = [Float](repeating: .nan, count: states.count * n)
        batch.withUnsafeMutableBufferPointer { model.scoreBatch(states, into: $0) }
        for (r, state) in states.enumerated() {
            let single = model.scores(for: state)
            #expect(loaded.scores(for: state) == single, "\(name): loaded model scores differ")
            let row = Array(batch[(r * n)..<((r + 1) * n)])
            let worst = zip(row, single).map { abs($0 - $1) }.max()!
            let scale = single.map(abs).max()! + 1e-6
            #expect(worst <= 1e-4 * scale, "\(name): scoreBatch differs from score by \(worst)")
        }
        #expect(throws: ModelError.self) { try makeModel(name).save(to: scratchDirectory()) }
    }

    func scoresFollowTheState(_ name: String) throws {
        let model = try makeModel(name)
        try model.fit(data.train, validation: nil, progress: nil)
        // A cluster-0 user who then takes four items of cluster 2: cluster 2's other items move up.
        let u = data.heldOut.users[0]
        let before = UserState(user: u, in: data.train)
        var after = before
        after.items += (0..<4).map { data.item(cluster: 2, $0) }
        let others = (4..<data.itemsPerCluster).map { Int(data.item(cluster: 2, $0)) }
        func meanRank(_ state: UserState) -> Double {
            let s = model.scores(for: state)
            return others.reduce(0.0) { sum, i in sum + Double(s.filter { $0 > s[i] }.count) } / Double(others.count)
        }
        let (rankBefore, rankAfter) = (meanRank(before), meanRank(after))
        #expect(rankAfter + 5 < rankBefore, "\(name): cluster-2 items' mean rank \(rankBefore) → \(rankAfter)")
        // A new user (no index) with only cluster-2 items: among the cluster items (the popular
        // items aside), cluster 2's rank on top.
        let fresh = UserState(items: (0..<3).map { data.item(cluster: 2, $0) })
        let clusterItems = (0..<data.clusters).flatMap { c in
            (0..<data.itemsPerCluster).map { data.item(cluster: c, $0) }
        }
        let excluded = (0..<model.itemCount).map { !clusterItems.contains(Int32($0)) }
        let top = model.scores(for: fresh).withUnsafeBufferPointer { s in
            excluded.withUnsafeBufferPointer { TopK.select(5, from: s, excluded: $0) }
        }
        let cluster2 = Set((0..<data.itemsPerCluster).map { data.item(cluster: 2, $0) })
        #expect(top.filter { cluster2.contains($0) }.count == 5, "\(name): top-5 \(top)")
    }

    func fitIsDeterministic(_ name: String) throws {
        let a = try makeModel(name), b = try makeModel(name)
        try a.fit(data.train, validation: nil, progress: nil)
        try b.fit(data.train, validation: nil, progress: nil)
        let state = UserState(user: data.heldOut.users[5], in: data.train)
        #expect(a.scores(for: state) == b.scores(for: state), "\(name)")
    }
}

@Suite("EASE")
struct EASETests {
    let checks = CFModelChecks()
    var data: ClusteredData { checks.data }

    @Test func beatsPopularity() throws { try checks.beatsPopularity("ease") }
    @Test func saveLoadKeepsScoresAndBatchMatchesSingle() throws {
        try checks.saveLoadKeepsScoresAndBatchMatchesSingle("ease")
    }
    @Test func scoresFollowTheState() throws { try checks.scoresFollowTheState("ease") }

    /// 3 users × 3 items: X = [[1,1,0],[0,1,1],[1,1,1]], λ = 1, so G = XᵀX + I =
    /// [[3,2,1],[2,4,2],[1,2,3]]; its inverse by the adjugate is [[8,−4,0],[−4,8,−4],[0,−4,8]] / 16,
    /// so B = −P / diag(P) = [[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]].
    @Test func easeMatchesAHandCheckedCase() throws {
        var builder = DatasetBuilder()
        for (u, items) in [["a", "b"], ["b", "c"], ["a", "b", "c", "a"]].enumerated() {
            for (t, i) in items.enumerated() { builder.add(Event(user: "u\(u)", item: i, timestamp: Int64(t))) }
        }
        let d = builder.build()
        let model = try EASE(lambda: 1)
        try model.fit(d, validation: nil, progress: nil)
        let (a, b, c) = (Int(d.items.index(of: "a")!), Int(d.items.index(of: "b")!), Int(d.items.index(of: "c")!))
        let expected: [[Float]] = [[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]]
        let order = [a, b, c]
        for r in 0..<3 {
            #expect(model.weights[order[r] * 3 + order[r]] == 0, "diagonal of B must be zero")
            for s in 0..<3 {
                #expect(abs(model.weights[order[r] * 3 + order[s]] - expected[r][s]) < 1e-5)
            }
        }
        // Scores are x·B: a state holding only "a" scores column sums of row a.
        let scores = model.scores(for: UserState(items: [Int32(a)]))
        #expect(abs(scores[b] - 0.5) < 1e-5 && abs(scores[c]) < 1e-5)
        #expect(throws: ModelError.self) { try EASE(lambda: 0) }
    }

    @Test func easeHasAZeroDiagonalAndSolvesTheRegression() throws {
        let model = try EASE(lambda: 10)
        try model.fit(data.train, validation: nil, progress: nil)
        let n = model.itemCount
        for i in 0..<n { #expect(model.weights[i * n + i] == 0) }
        // B minimises ‖X − XB‖² + λ‖B‖² subject to diag(B) = 0, so (G + λI)B = G + λI − diag(μ)
        // for some μ: off the diagonal, (G + λI)·B equals G.
        let x = BinaryInteractions(data.train)
        var g = [Double](repeating: 0, count: n * n)
        for u in 0..<x.userCount {
            let items = x.items[x.userOffsets[u]..<x.userOffsets[u + 1]]
            for i in items { for j in items { g[Int(i) * n + Int(j)] += 1 } }
        }
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<n where j != i {
                var s = 10 * Double(model.weights[i * n + j])
                for k in 0..<n { s += g[i * n + k] * Double(model.weights[k * n + j]) }
                worst = max(worst, abs(s - g[i * n + j]))
            }
        }
        #expect(worst < 1e-3, "largest residual \(worst)")
    }

    /// The blocked inverse across several blocks (n = 300 with 128-wide blocks) against A·A⁻¹ = I.
    @Test func blockedInverseOfASymmetricPositiveDefiniteMatrix() throws {
        let n = 300
        var g = SeededGenerator(seed: 11)
        let m = (0..<(n * n)).map { _ in g.nextNormal() }
        var a = [Float](repeating: 0, count: n * n)
        var exact = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += Double(m[i * n + k]) * Double(m[j * n + k]) }
                exact[i * n + j] = s / Double(n) + (i == j ? 0.5 : 0)
                a[i * n + j] = Float(exact[i * n + j])
            }
        }
        try a.withUnsafeMutableBufferPointer { try DenseSPD.invert($0.baseAddress!, n: n) }
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += exact[i * n + k] * Double(a[k * n + j]) }
                worst = max(worst, abs(s - (i == j ? 1 : 0)))
            }
            #expect(a[i * n + (n - 1 - i)] == a[(n - 1 - i) * n + i], "inverse must be symmetric")
        }
        #expect(worst < 2e-3, "‖A·A⁻¹ − I‖max = \(worst)")
        var bad: [Float] = [1, 2, 2, 1]
        #expect(throws: DenseSPD.NotPositiveDefinite.self) {
            try bad.withUnsafeMutableBufferPointer { try DenseSPD.invert($0.baseAddress!, n: 2) }
        }
    }

    @Test func badParametersAreClearErrors() {
        #expect(throws: ModelError.self) { try EASE(lambda: -1) }
        #expect(throws: ModelError.self) { try EASE.load(from: scratchDirectory()) }
    }
}

@Suite("Implicit ALS")
struct ImplicitALSTests {
    let checks = CFModelChecks()

    @Test func beatsPopularity() throws { try checks.beatsPopularity("ials") }
    @Test func saveLoadKeepsScoresAndBatchMatchesSingle() throws {
        try checks.saveLoadKeepsScoresAndBatchMatchesSingle("ials")
    }
    @Test func scoresFollowTheState() throws { try checks.scoresFollowTheState("ials") }
    @Test func fitIsDeterministic() throws { try checks.fitIsDeterministic("ials") }

    /// Conjugate gradient with as many steps as unknowns reaches the exact (Cholesky) solution.
    @Test func conjugateGradientMatchesADirectSolve() {
        let f = 6, rows = 9
        var g = SeededGenerator(seed: 5)
        let y = (0..<(rows * f)).map { _ in g.nextNormal() }
        let gram = ImplicitALS.gram(y, rows: rows, factors: f, regularization: 0.3)
        let columns: [Int32] = [0, 2, 3, 7]
        let confidences: [Float] = [2, 5, 1, 3.5]
        var direct = [Float](repeating: 0, count: f)
        var iterative = [Float](repeating: 0.01, count: f)
        var scratch = [Float](repeating: 0, count: 3 * f)
        ImplicitALS.exactRow(
            x: &direct, gram: gram, fixed: y, columns: columns, confidences: confidences, count: 4, factors: f)
        ImplicitALS.conjugateGradientRow(
            x: &iterative, gram: gram, fixed: y, columns: columns, confidences: confidences, count: 4, factors: f,
            steps: f, scratch: &scratch)
        for d in 0..<f {
            #expect(abs(direct[d] - iterative[d]) < 1e-4, "component \(d): \(direct[d]) vs \(iterative[d])")
        }
        // And the direct solution satisfies the normal equations.
        var a = gram, b = [Float](repeating: 0, count: f)
        for (k, i) in columns.enumerated() {
            let c = confidences[k]
            for r in 0..<f {
                b[r] += c * y[Int(i) * f + r]
                for s in 0..<f { a[r * f + s] += (c - 1) * y[Int(i) * f + r] * y[Int(i) * f + s] }
            }
        }
        for r in 0..<f {
            let lhs = (0..<f).reduce(Float(0)) { $0 + a[r * f + $1] * direct[$1] }
            #expect(abs(lhs - b[r]) < 1e-3)
        }
    }

    @Test func badParametersAreClearErrors() {
        #expect(throws: ModelError.self) { try ImplicitALS(factors: 0) }
        #expect(throws: ModelError.self) { try ImplicitALS(alpha: -1) }
        #expect(throws: ModelError.self) { try ImplicitALS(cgSteps: 0) }
    }
}

@Suite("BPR")
struct BPRTests {
    let checks = CFModelChecks()

    @Test func beatsPopularity() throws { try checks.beatsPopularity("bpr") }
    @Test func saveLoadKeepsScoresAndBatchMatchesSingle() throws {
        try checks.saveLoadKeepsScoresAndBatchMatchesSingle("bpr")
    }
    @Test func scoresFollowTheState() throws { try checks.scoresFollowTheState("bpr") }
    @Test func fitIsDeterministic() throws { try checks.fitIsDeterministic("bpr") }

    @Test func badParametersAreClearErrors() {
        #expect(throws: ModelError.self) { try BPR(learningRate: 0) }
        #expect(throws: ModelError.self) { try BPR(strata: 0) }
        #expect(throws: ModelError.self) { try BPR.load(from: scratchDirectory()) }
    }
}
