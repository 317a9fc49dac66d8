import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecEvaluation
@testable import SwiftRecModels

@Suite("LightGCN")
struct LightGCNTests {
    let checks = CFModelChecks()
    var data: ClusteredData { checks.data }

    @Test func beatsPopularity() throws { try checks.beatsPopularity("lightgcn") }
    @Test func knowledgeVariantBeatsPopularity() throws { try checks.beatsPopularity("lightgcn-kg") }
    @Test func saveLoadKeepsScoresAndBatchMatchesSingle() throws {
        try checks.saveLoadKeepsScoresAndBatchMatchesSingle("lightgcn")
        try checks.saveLoadKeepsScoresAndBatchMatchesSingle("lightgcn-kg")
    }
    @Test func softmaxLossBeatsPopularity() throws { try checks.beatsPopularity("lightgcn-softmax") }
    @Test func scoresFollowTheState() throws { try checks.scoresFollowTheState("lightgcn") }
    @Test func fitIsDeterministic() throws { try checks.fitIsDeterministic("lightgcn") }

    /// A random small graph: `users` users, `items` items, each user linked to a few items.
    private func randomGraph(users: Int, items: Int, seed: UInt64) -> LightGCN.Graph {
        var g = SeededGenerator(seed: seed)
        var edges: [(Int32, Int32)] = []
        for u in 0..<users {
            let picks = Set((0..<3).map { _ in g.nextInt(below: items) })
            for i in picks.sorted() { edges.append((Int32(u), Int32(users + i))) }
        }
        return LightGCN.Graph(edges: edges, nodeCount: users + items, users: users, items: items)
    }

    /// ∂L/∂E⁽⁰⁾ by the backward pass for `loss` (its value, ∂L/∂E_final and the L2 term's
    /// gradient) at `embeddings`, checked against central differences of the loss at the
    /// elements `selected` picks (by index and analytic value); returns it and how many were checked.
    private func checkedGradient(
        _ embeddings: [Float], graph: LightGCN.Graph, layers: Int, dim: Int,
        where selected: (Int, Float) -> Bool = { _, _ in true },
        loss: ([Float]) -> (Double, gradient: [Float], regularizationGradient: [Float])
    ) -> (analytic: [Float], checked: Int) {
        let (_, finalGradient, regularizationGradient) = loss(embeddings)
        var analytic = LightGCN.backward(finalGradient, graph: graph, layers: layers, dim: dim)
        for k in analytic.indices { analytic[k] += regularizationGradient[k] }
        var checked = 0
        for k in analytic.indices where selected(k, analytic[k]) {
            let h: Float = 1e-2
            var plus = embeddings, minus = embeddings
            plus[k] += h
            minus[k] -= h
            let numeric = (loss(plus).0 - loss(minus).0) / Double(2 * h)
            #expect(
                abs(numeric - Double(analytic[k])) <= 2e-3 + 2e-2 * abs(numeric),
                "element \(k): analytic \(analytic[k]), numeric \(numeric)")
            checked += 1
        }
        return (analytic, checked)
    }

    /// The sparse propagation's backward pass (with the BPR loss and its L2 term) against
    /// central differences of the loss, in double precision over float computations.
    @Test func propagationGradientMatchesFiniteDifferences() throws {
        let (users, items, dim, layers) = (7, 9, 4, 3)
        let graph = randomGraph(users: users, items: items, seed: 5)
        var g = SeededGenerator(seed: 9)
        let embeddings = (0..<((users + items) * dim)).map { _ in g.nextUniform() - 0.5 }
        let triples: [(user: Int32, positive: Int32, negative: Int32)] = [(0, 1, 2), (3, 4, 0), (6, 8, 5), (2, 7, 3)]
        let regularization: Float = 0.1
        func loss(_ e: [Float]) -> (Double, gradient: [Float], regularizationGradient: [Float]) {
            let (_, final) = LightGCN.forward(e, graph: graph, layers: layers, dim: dim)
            var gradient = [Float](repeating: 0, count: e.count)
            var regularizationGradient = [Float](repeating: 0, count: e.count)
            let value = LightGCN.batchLoss(
                triples: triples[...], final: final, embeddings: e, users: users, dim: dim,
                regularization: regularization, gradient: &gradient, regularizationGradient: &regularizationGradient)
            return (value, gradient, regularizationGradient)
        }
        let (analytic, checked) = checkedGradient(
            embeddings, graph: graph, layers: layers, dim: dim, where: { k, g in k % 3 == 0 || abs(g) > 0.01 },
            loss: loss)
        #expect(checked > analytic.count / 3)
        // The gradient reaches nodes the batch does not touch, through the graph.
        let touched = Set(triples.flatMap { [Int($0.user), users + Int($0.positive), users + Int($0.negative)] })
        let reached = (0..<(users + items)).filter { r in
            !touched.contains(r) && (0..<dim).contains { analytic[r * dim + $0] != 0 }
        }
        #expect(!reached.isEmpty)
    }

    /// The softmax loss through the propagation against central differences, and its value
    /// at zero vectors: every logit is 0, so each pair costs log(items with events).
    @Test func softmaxGradientMatchesFiniteDifferences() throws {
        let (users, items, dim, layers) = (6, 8, 4, 2)
        var g = SeededGenerator(seed: 11)
        var log = InteractionLog()
        var edges: [(Int32, Int32)] = []
        for u in 0..<users {
            // The last item never has events, so it is outside every softmax.
            for i in Set((0..<3).map { _ in g.nextInt(below: items - 1) }).sorted() {
                log.append(user: Int32(u), item: Int32(i), timestamp: Int64(log.count), value: 1, type: .click)
                edges.append((Int32(u), Int32(users + i)))
            }
        }
        let dataset = Dataset(
            users: IDMap((0..<users).map { "u\($0)" }), items: IDMap((0..<items).map { "i\($0)" }), log: log)
        let data = BinaryInteractions(dataset)
        let graph = LightGCN.Graph(edges: edges, nodeCount: users + items, users: users, items: items)
        let eligible = (0..<items).map { i in edges.contains { Int($0.1) == users + i } }
        #expect(!eligible[items - 1] && eligible.filter { $0 }.count >= 3)
        let batchUsers: [Int32] = [1, 4, 2]
        let regularization: Float = 0.1
        func loss(_ e: [Float]) -> (Double, gradient: [Float], regularizationGradient: [Float]) {
            let (_, final) = LightGCN.forward(e, graph: graph, layers: layers, dim: dim)
            var gradient = [Float](repeating: 0, count: e.count)
            var regularizationGradient = [Float](repeating: 0, count: e.count)
            let value = eligible.withUnsafeBufferPointer {
                LightGCN.softmaxBatchLoss(
                    batchUsers: batchUsers[...], data: data, eligible: $0, final: final, embeddings: e, users: users,
                    dim: dim, regularization: regularization, gradient: &gradient,
                    regularizationGradient: &regularizationGradient)
            }
            return (value, gradient, regularizationGradient)
        }
        let atZero = loss([Float](repeating: 0, count: (users + items) * dim)).0
        #expect(abs(atZero - Foundation.log(Double(eligible.filter { $0 }.count))) < 1e-5)
        let embeddings = (0..<((users + items) * dim)).map { _ in g.nextUniform() - 0.5 }
        let (analytic, checked) = checkedGradient(embeddings, graph: graph, layers: layers, dim: dim, loss: loss)
        #expect(checked == analytic.count)
        // The item outside every softmax gets no gradient; items the batch's users lack do.
        #expect((0..<dim).allSatisfy { analytic[(users + items - 1) * dim + $0] == 0 })
        #expect(analytic.contains { abs($0) > 1e-3 })
    }

    /// Propagation against a dense Â built from the definition, on every thread count.
    @Test func sparsePropagationEqualsTheDenseNormalisedAdjacency() {
        let (users, items, dim) = (30, 20, 5)
        let graph = randomGraph(users: users, items: items, seed: 2)
        let n = users + items
        var dense = [Double](repeating: 0, count: n * n)
        var degree = [Double](repeating: 0, count: n)
        for r in 0..<n {
            for e in graph.offsets[r]..<graph.offsets[r + 1] {
                dense[r * n + Int(graph.columns[e])] = 1
                degree[r] += 1
            }
        }
        var g = SeededGenerator(seed: 4)
        let input = (0..<(n * dim)).map { _ in g.nextUniform() }
        for threads in [1, 2] {
            var output = [Float](repeating: .nan, count: n * dim)
            Threading.withThreadCount(threads) {
                output.withUnsafeMutableBufferPointer { graph.propagate(input, into: $0.baseAddress!, dim: dim) }
            }
            var worst = 0.0
            for r in 0..<n {
                for c in 0..<dim {
                    var s = 0.0
                    for k in 0..<n where dense[r * n + k] != 0 {
                        s += Double(input[k * dim + c]) / (degree[r] * degree[k]).squareRoot()
                    }
                    worst = max(worst, abs(s - Double(output[r * dim + c])))
                }
            }
            #expect(worst < 1e-5, "\(threads) threads: largest difference \(worst)")
        }
    }

    /// A trained user whose state is their training history gets exactly the graph's vector:
    /// the fold-in is the propagation restricted to the user's row.
    @Test func foldInOfATrainingHistoryIsTheGraphsUserVector() throws {
        var config = LightGCNConfig()
        (config.dim, config.layers, config.epochs, config.batchSize, config.learningRate) = (8, 3, 3, 128, 0.01)
        let model = try LightGCN(config: config)
        try model.fit(data.train, validation: nil, progress: nil)
        // The model keeps users' layer 0 and items' layers; rebuild the whole graph's final vectors.
        let (graph, _) = model.graph(for: data.train, data: BinaryInteractions(data.train))
        let table = model.userEmbeddings + model.itemLayers[0]
        let (_, final) = LightGCN.forward(table, graph: graph, layers: 3, dim: 8)
        for u in [0, 17, 101] {
            var folded = [Float](repeating: 0, count: 8)
            folded.withUnsafeMutableBufferPointer {
                model.userVector(UserState(user: Int32(u), in: data.train), into: $0.baseAddress!)
            }
            let expected = Array(final[(u * 8)..<((u + 1) * 8)])
            let worst = zip(folded, expected).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-5, "user \(u): fold-in differs from the graph by \(worst)")
        }
    }

    /// Items without events but with a category other items share: the knowledge variant reaches
    /// them through the category's node, so a cluster's users rank their cluster's cold items
    /// above the other clusters' cold items; plain LightGCN cannot tell them apart by much.
    @Test func knowledgeVariantRanksColdItemsByTheirAttributes() throws {
        var builder = DatasetBuilder()
        let base = data.train
        for i in 0..<base.itemCount { if let item = base.itemInfo[i] { builder.add(item) } }
        for e in 0..<base.eventCount {
            builder.add(
                Event(
                    user: base.users.id(at: base.log.users[e]), item: base.items.id(at: base.log.items[e]),
                    timestamp: base.log.timestamps[e]))
        }
        for c in 0..<data.clusters {
            for k in 0..<3 { builder.add(Item(id: "cold-\(c)-\(k)", categories: ["c\(c)"])) }
        }
        let dataset = builder.build()
        func coldHitRate(_ name: String) throws -> Double {
            let model = try ModelCatalog.make(
                name,
                options: ["dim": 16, "layers": 2, "epochs": 40, "batch": 256, "lr": 0.01, "seed": 3])
            try model.fit(dataset, validation: nil, progress: nil)
            var hits = 0, cases = 0
            for u in 0..<dataset.userCount {
                let cluster = Int(dataset.users.id(at: Int32(u)).dropFirst())! % data.clusters
                let scores = model.scores(for: UserState(user: Int32(u), in: dataset))
                let cold = (0..<data.clusters).flatMap { c in
                    (0..<3).map { (c, Int(dataset.items.index(of: "cold-\(c)-\($0)")!)) }
                }
                let best = cold.max { scores[$0.1] < scores[$1.1] }!
                hits += best.0 == cluster ? 1 : 0
                cases += 1
            }
            return Double(hits) / Double(cases)
        }
        let knowledge = try coldHitRate("lightgcn-kg"), plain = try coldHitRate("lightgcn")
        #expect(knowledge > 0.9, "lightgcn-kg: the best cold item is the user's cluster's for \(knowledge)")
        #expect(knowledge > plain + 0.3, "lightgcn-kg \(knowledge) vs lightgcn \(plain)")
    }

    @Test func badOptionsAreRejectedByName() {
        #expect(throws: ModelError.self) { try ModelCatalog.make("lightgcn", options: ["layers": 9]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("lightgcn", options: ["lr": 0]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("lightgcn", options: ["loss": "hinge"]) }
        #expect(throws: ModelError.self) { try LightGCN.load(from: URL(fileURLWithPath: "/nonexistent-lightgcn")) }
    }
}
