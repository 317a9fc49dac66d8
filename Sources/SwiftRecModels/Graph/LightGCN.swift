import Foundation
import SwiftRecData
import SwiftRecTensor

/// What ``LightGCN`` minimises.
public enum GraphLoss: String, Codable, Sendable, CaseIterable, OptionChoice {
    /// The paper's BPR on (user, item, sampled negative) triples.
    case bpr
    /// Softmax cross-entropy of each training pair over every item with training events.
    case softmax
}

/// Options of ``LightGCN`` (and of `lightgcn-kg`, the same model with attribute nodes).
public struct LightGCNConfig: ModelConfig {
    public var dim = 64
    /// Propagation layers K; the final vectors average layers 0…K.
    public var layers = 3
    public var epochs = 100
    public var loss = GraphLoss.bpr
    /// Training pairs per step: BPR triples, or (softmax) whole users' pairs, about this many.
    public var batchSize = 2048
    public var learningRate: Float = 1e-3
    /// L2 penalty on the layer-0 vectors of each training pair's nodes (with BPR, the negative's
    /// too), divided by the batch size (the paper's λ).
    public var regularization: Float = 1e-4
    /// Validation rounds without a better NDCG@10 before training stops.
    public var patience = 5
    public var validateEvery = 1
    /// Stop once this many seconds of training have passed (checked after each step).
    public var timeBudget: Double?
    /// Item attributes (categories, brand, year, …) as nodes of the graph: set by the model's
    /// name (`lightgcn-kg`), not an option, as `lstm` sets GRU4Rec's cell.
    public var knowledge = false
    /// The fewest items an attribute value must have to become a node (`lightgcn-kg`).
    public var attributeMinCount = 2
    public var seed: UInt64 = 0

    public init() {}

    /// The graph (CSR, both directions), the layer-0 table with Adam's moments and its gradient,
    /// K + 1 layer tables plus the backward pass's two, and (softmax) a step's logits.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let nodes = Double(shape.users + shape.items) * (knowledge ? 1.1 : 1)
        return MemoryEstimate.data(shape) + Double(shape.events) * 2 * 8 * (knowledge ? 1.5 : 1)
            + nodes * Double(dim) * MemoryEstimate.float * Double(4 + layers + 1 + 2)
            // Softmax: a step's logits and their gradient, one row per user of the step.
            + (loss == .softmax
                ? Double(min(batchSize, shape.users)) * Double(shape.items) * MemoryEstimate.float : 0)
    }

    public static let options: [ConfigOption<Self>] = [
        .value("dim", \.dim, in: 1...4096, "Embedding dimensions."),
        .value("layers", \.layers, in: 0...8, "Propagation layers K (0 is matrix factorisation)."),
        .value("epochs", \.epochs, in: 0...10_000, "The most epochs (passes over the training events)."),
        .choice("loss", \.loss, "bpr (the paper's, sampled negatives) or softmax (each pair over every item)."),
        .value("batch", \.batchSize, in: 1...1_048_576, "Training pairs per optimiser step."),
        .value("lr", \.learningRate, in: 1e-7...10, "Adam learning rate."),
        .value("regularization", \.regularization, in: 0...100, "L2 penalty on each pair's layer-0 vectors."),
        .value("patience", \.patience, in: 0...1000, "Validation rounds without a better NDCG@10 before stopping."),
        .value("validate-every", \.validateEvery, in: 1...1000, "Validate after every this many epochs."),
        .value(
            "time-budget", \.timeBudget, in: 1e-3...1e7, "Stop after this many seconds of training (none: no limit)."),
        .value(
            "attribute-min-count", \.attributeMinCount, in: 1...1_000_000,
            "lightgcn-kg: items an attribute value needs to become a node."),
        .value("seed", \.seed, in: 0...UInt64.max, "Random seed."),
    ]
}

/// LightGCN (He et al., SIGIR 2020): users and items are nodes of one graph whose edges are the
/// (user, item) pairs; a vector is propagated K times through the symmetric-normalised adjacency
/// Â = D^-½ A D^-½ with no weights or non-linearity (E⁽ᵏ⁺¹⁾ = Â E⁽ᵏ⁾), the final vector is the
/// mean of layers 0…K, and a score is the dot product of a user's and an item's final vectors.
/// Only E⁽⁰⁾ is learned, with the BPR loss on triples (u, i, j) — i one of u's items, j a
/// uniform item with training events that u does not have — plus λ‖E⁽⁰⁾ᵤ,ᵢ,ⱼ‖²/2 per triple,
/// averaged over the batch, by Adam.
///
/// **Softmax loss** (`loss=softmax`, which the issue allows "if it trains better here"): each
/// training pair (u, i) costs −log softmax(sᵤ)ᵢ over every item with training events, plus
/// λ‖E⁽⁰⁾ᵤ,ᵢ‖²/2. A step takes whole users, so each user's logits are computed once for all their
/// pairs: the user's loss is nᵤ·logsumexp(sᵤ) − Σᵢ sᵤᵢ (Mult-VAE's multinomial likelihood),
/// and its gradient nᵤ·softmax(sᵤ) − yᵤ. Three GEMMs per step, no sampling.
///
/// **Sparse and multi-threaded.** Â is kept as CSR over all nodes (never dense). Each step
/// propagates forward (K sparse products), takes the loss on the batch's rows, and propagates
/// the gradient back: since Â is symmetric, ∂L/∂E⁽⁰⁾ = 1/(K+1) Σₖ Âᵏ G, summed by Horner's rule
/// (H ← G + Â H, K times), K more sparse products. The products split rows over threads.
///
/// **Knowledge variant** (`knowledge`, registered as `lightgcn-kg`): each item category and
/// attribute value shared by at least `attribute-min-count` items becomes a node linked to its
/// items, so an item with few or no events is reached through its attributes' vectors, which
/// the other items train. (This is the KG-as-graph reading of the knowledge-aware models, with
/// LightGCN's propagation; no relation-specific weights as in KGAT.)
///
/// **Dynamic users (fold-in).** A user's layer k+1 depends only on their items' layer k, so a
/// state is propagated at request time from its distinct items: e⁽ᵏ⁺¹⁾ᵤ = Σᵢ eᵢ⁽ᵏ⁾/√(|Nᵤ||Nᵢ|)
/// with the trained item layers, starting from the trained e⁽⁰⁾ᵤ (zero for a new user). For a
/// trained user whose state is their training history this is exactly the training graph's
/// vector; a new event counts at once, without retraining.
public final class LightGCN: Recommender, StoppableTraining, ItemVectorProviding {
    public let name: String
    public let inputs: Set<ModelInput>
    public let config: LightGCNConfig
    public let stop = TrainingStop()
    public private(set) var userCount = 0
    public private(set) var itemCount = 0
    /// Users' layer-0 vectors, [userCount, dim].
    public private(set) var userEmbeddings: [Float] = []
    /// Items' vectors at layers 0…K−1 (what a user's fold-in reads), [K][itemCount, dim].
    private(set) var itemLayers: [[Float]] = []
    /// Items' final vectors (the mean of layers 0…K), [itemCount, dim].
    private var itemFinal: [Float] = []
    /// Each item's degree in the training graph (users plus attribute nodes).
    private var itemDegrees: [Float] = []
    public private(set) var epochSeconds: [Double] = []
    public private(set) var validationNDCG: [Double] = []

    public init(config: LightGCNConfig = .init()) throws {
        var checked = try config.checked()
        checked.knowledge = config.knowledge  // not an option (the model's name sets it), so kept by hand
        self.config = checked
        name = config.knowledge ? "lightgcn-kg" : "lightgcn"
        inputs = config.knowledge ? [.history, .features] : [.history]
    }

    public var itemVectors: Tensor? {
        itemFinal.isEmpty ? nil : Tensor(shape: [itemCount, config.dim], scalars: itemFinal)
    }

    // MARK: The graph

    /// The symmetric-normalised adjacency over users (0..<users), items (users..<users+items)
    /// and attribute nodes after them, as CSR; row r's neighbours are
    /// `columns[offsets[r]..<offsets[r+1]]` with `weights` 1/√(dᵣ d꜀).
    struct Graph {
        var offsets: [Int]
        var columns: [Int32]
        var weights: [Float]
        var users: Int
        var items: Int
        var nodeCount: Int { offsets.count - 1 }

        /// The graph of `edges` (undirected, deduplicated) over `nodeCount` nodes.
        init(edges: [(Int32, Int32)], nodeCount: Int, users: Int, items: Int) {
            self.users = users
            self.items = items
            var degree = [Int](repeating: 0, count: nodeCount + 1)
            for (a, b) in edges {
                degree[Int(a) + 1] += 1
                degree[Int(b) + 1] += 1
            }
            for r in 0..<nodeCount { degree[r + 1] += degree[r] }
            offsets = degree
            var cursor = degree
            columns = [Int32](repeating: 0, count: edges.count * 2)
            for (a, b) in edges {
                columns[cursor[Int(a)]] = b
                cursor[Int(a)] += 1
                columns[cursor[Int(b)]] = a
                cursor[Int(b)] += 1
            }
            var weights = [Float](repeating: 0, count: columns.count)
            let offsets = self.offsets
            for r in 0..<nodeCount {
                // Sorted neighbours read memory in order.
                columns[offsets[r]..<offsets[r + 1]].sort()
                let dr = Float(offsets[r + 1] - offsets[r])
                for e in offsets[r]..<offsets[r + 1] {
                    let c = Int(columns[e])
                    weights[e] = 1 / (dr * Float(offsets[c + 1] - offsets[c])).squareRoot()
                }
            }
            self.weights = weights
        }

        func degree(_ node: Int) -> Int { offsets[node + 1] - offsets[node] }

        /// output = Â · input for [nodeCount, dim] tables. Rows are split over threads by their
        /// edge counts (users and items have very different degrees), and each output row is
        /// summed in registers, 64 columns at a time.
        func propagate(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, dim: Int) {
            nonisolated(unsafe) let input = input, output = output
            let rows = nodeCount, edges = columns.count
            let workers = max(1, min(Threading.threadCount, edges * dim / 262_144, rows))
            // Worker w takes the rows whose edges start in the w-th share of all edges.
            var bounds = [Int](repeating: rows, count: workers + 1)
            bounds[0] = 0
            var r = 0
            for w in 1..<workers {
                let target = edges * w / workers
                while r < rows && offsets[r] < target { r += 1 }
                bounds[w] = r
            }
            offsets.withUnsafeBufferPointer { op in
                columns.withUnsafeBufferPointer { cp in
                    weights.withUnsafeBufferPointer { wp in
                        nonisolated(unsafe) let op = op, cp = cp, wp = wp
                        parallelRanges(workers, costPerItem: 1 << 20, threads: workers) { range in
                            for w in range {
                                Self.propagateRows(
                                    bounds[w]..<bounds[w + 1], offsets: op, columns: cp, weights: wp, input: input,
                                    output: output, dim: dim)
                            }
                        }
                    }
                }
            }
        }

        private static func propagateRows(
            _ rows: Range<Int>, offsets: UnsafeBufferPointer<Int>, columns: UnsafeBufferPointer<Int32>,
            weights: UnsafeBufferPointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
            dim: Int
        ) {
            let raw = UnsafeRawPointer(input)
            for r in rows {
                let out = UnsafeMutableRawPointer(output + r * dim)
                let lo = offsets[r], hi = offsets[r + 1]
                var c = 0
                while c + 64 <= dim {
                    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                    for e in lo..<hi {
                        let w = SIMD16<Float>(repeating: weights[e])
                        let row = (Int(columns[e]) * dim + c) * 4
                        a0 += w * raw.loadUnaligned(fromByteOffset: row, as: SIMD16<Float>.self)
                        a1 += w * raw.loadUnaligned(fromByteOffset: row + 64, as: SIMD16<Float>.self)
                        a2 += w * raw.loadUnaligned(fromByteOffset: row + 128, as: SIMD16<Float>.self)
                        a3 += w * raw.loadUnaligned(fromByteOffset: row + 192, as: SIMD16<Float>.self)
                    }
                    out.storeBytes(of: a0, toByteOffset: c * 4, as: SIMD16<Float>.self)
                    out.storeBytes(of: a1, toByteOffset: c * 4 + 64, as: SIMD16<Float>.self)
                    out.storeBytes(of: a2, toByteOffset: c * 4 + 128, as: SIMD16<Float>.self)
                    out.storeBytes(of: a3, toByteOffset: c * 4 + 192, as: SIMD16<Float>.self)
                    c += 64
                }
                while c + 16 <= dim {
                    var a = SIMD16<Float>()
                    for e in lo..<hi {
                        a +=
                            SIMD16<Float>(repeating: weights[e])
                            * raw.loadUnaligned(fromByteOffset: (Int(columns[e]) * dim + c) * 4, as: SIMD16<Float>.self)
                    }
                    out.storeBytes(of: a, toByteOffset: c * 4, as: SIMD16<Float>.self)
                    c += 16
                }
                while c < dim {
                    var a: Float = 0
                    for e in lo..<hi { a += weights[e] * input[Int(columns[e]) * dim + c] }
                    output[r * dim + c] = a
                    c += 1
                }
            }
        }
    }

    /// The attribute values of `dataset`'s items that become nodes: each category and each
    /// `key=value` attribute shared by at least `minCount` items.
    static func attributeEdges(_ dataset: Dataset, minCount: Int) -> (
        values: [String], edges: [(item: Int32, value: Int32)]
    ) {
        var perItem: [[String]] = Array(repeating: [], count: dataset.itemCount)
        var counts: [String: Int] = [:]
        for i in 0..<dataset.itemCount {
            guard let item = dataset.itemInfo[i] else { continue }
            let values = Set(item.categories.map { "category=\($0)" } + item.attributes.map { "\($0.key)=\($0.value)" })
            perItem[i] = values.sorted()
            for v in perItem[i] { counts[v, default: 0] += 1 }
        }
        let kept = counts.filter { $0.value >= minCount }.keys.sorted()
        let index = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1, Int32($0)) })
        var edges: [(Int32, Int32)] = []
        for (i, values) in perItem.enumerated() {
            for v in values { if let k = index[v] { edges.append((Int32(i), k)) } }
        }
        return (kept, edges)
    }

    /// The training graph of `dataset`, whose user × item matrix is `data` (built once by the
    /// caller, which also samples from it).
    func graph(for dataset: Dataset, data: BinaryInteractions) -> (graph: Graph, attributeNodes: Int) {
        let users = dataset.userCount, items = dataset.itemCount
        var edges: [(Int32, Int32)] = []
        edges.reserveCapacity(data.nonzeros)
        for u in 0..<users {
            for k in data.userOffsets[u]..<data.userOffsets[u + 1] {
                edges.append((Int32(u), Int32(users) + data.items[k]))
            }
        }
        var attributeNodes = 0
        if config.knowledge {
            let (values, attributeEdges) = Self.attributeEdges(dataset, minCount: config.attributeMinCount)
            attributeNodes = values.count
            let base = Int32(users + items)
            for (item, value) in attributeEdges { edges.append((Int32(users) + item, base + value)) }
        }
        return (
            Graph(edges: edges, nodeCount: users + items + attributeNodes, users: users, items: items), attributeNodes
        )
    }

    // MARK: Forward and backward

    /// Layers 0…K of `embeddings` through `graph` (layer 0 is `embeddings` itself) and their mean.
    static func forward(_ embeddings: [Float], graph: Graph, layers: Int, dim: Int) -> (
        layers: [[Float]], final: [Float]
    ) {
        var all = [embeddings]
        var final = embeddings
        for _ in 0..<layers {
            var next = [Float](repeating: 0, count: embeddings.count)
            all.last!.withUnsafeBufferPointer { input in
                next.withUnsafeMutableBufferPointer {
                    graph.propagate(input.baseAddress!, into: $0.baseAddress!, dim: dim)
                }
            }
            VectorKernels.add(next, into: &final, count: final.count)
            all.append(next)
        }
        let scale = 1 / Float(layers + 1)
        for k in final.indices { final[k] *= scale }
        return (all, final)
    }

    /// The batch's mean BPR loss plus its L2 term, and its gradient with respect to the final
    /// vectors (`gradient`, zeroed first; only the triples' rows are non-zero) and to layer 0
    /// (the L2 term, added into `regularizationGradient`).
    static func batchLoss(
        triples: ArraySlice<(user: Int32, positive: Int32, negative: Int32)>, final: UnsafePointer<Float>,
        embeddings: UnsafePointer<Float>, users: Int, dim: Int, regularization: Float,
        gradient: UnsafeMutablePointer<Float>, regularizationGradient: UnsafeMutablePointer<Float>
    ) -> Double {
        let scale = 1 / Float(triples.count)
        var loss = 0.0
        for (u, i, j) in triples {
            let ru = Int(u), ri = users + Int(i), rj = users + Int(j)
            let eu = final + ru * dim, ei = final + ri * dim, ej = final + rj * dim
            let diff = VectorKernels.dot(eu, ei, count: dim) - VectorKernels.dot(eu, ej, count: dim)
            // −ln σ(diff) and its derivative −σ(−diff).
            let e = Foundation.exp(-diff)
            loss += diff > -30 ? Double(log1p(e)) : Double(-diff)
            let g = -(e / (1 + e)) * scale
            for k in 0..<dim {
                let du = ei[k] - ej[k], uk = eu[k]
                gradient[ru * dim + k] += g * du
                gradient[ri * dim + k] += g * uk
                gradient[rj * dim + k] -= g * uk
            }
            func penalise(_ r: Int) {
                let e0 = embeddings + r * dim
                loss += Double(0.5 * regularization * VectorKernels.dot(e0, e0, count: dim))
                VectorKernels.axpy(regularization * scale, e0, regularizationGradient + r * dim, count: dim)
            }
            penalise(ru)
            penalise(ri)
            penalise(rj)
        }
        return loss * Double(scale)
    }

    /// The mean over the pairs of `batchUsers` (all of each user's training items) of
    /// −log softmax(sᵤ)ᵢ over the `eligible` items, plus λ‖E⁽⁰⁾ᵤ,ᵢ‖²/2 per pair; its gradient
    /// with respect to the final vectors goes into `gradient` (added) and the L2 term's into
    /// `regularizationGradient` (added).
    static func softmaxBatchLoss(
        batchUsers: ArraySlice<Int32>, data: BinaryInteractions, eligible: UnsafeBufferPointer<Bool>,
        final: UnsafePointer<Float>, embeddings: UnsafePointer<Float>, users: Int, dim d: Int,
        regularization: Float, gradient: UnsafeMutablePointer<Float>,
        regularizationGradient: UnsafeMutablePointer<Float>
    ) -> Double {
        let b = batchUsers.count, n = eligible.count
        guard b > 0, n > 0 else { return 0 }
        let pairCount = batchUsers.reduce(0) { $0 + data.userOffsets[Int($1) + 1] - data.userOffsets[Int($1)] }
        guard pairCount > 0 else { return 0 }
        let scale = 1 / Float(pairCount)
        let itemTable = final + users * d
        var userRows = [Float](repeating: 0, count: b * d)
        for (r, u) in batchUsers.enumerated() {
            for c in 0..<d { userRows[r * d + c] = final[Int(u) * d + c] }
        }
        var logits = [Float](repeating: 0, count: b * n)
        var loss = 0.0
        userRows.withUnsafeBufferPointer { up in
            logits.withUnsafeMutableBufferPointer { lp in
                let l = lp.baseAddress!
                GEMM.multiply(
                    transA: false, transB: true, m: b, n: n, k: d, a: up.baseAddress!, lda: d, b: itemTable, ldb: d,
                    beta: 0, c: l, ldc: n)
                // Each row becomes its gradient: nᵤ·softmax − the user's items, over the pairs' count.
                for (r, u) in batchUsers.enumerated() {
                    let row = l + r * n
                    let lo = data.userOffsets[Int(u)], hi = data.userOffsets[Int(u) + 1]
                    let positives = Float(hi - lo)
                    var positiveLogits = 0.0
                    for k in lo..<hi { positiveLogits += Double(row[Int(data.items[k])]) }
                    var top = -Float.infinity
                    for j in 0..<n where eligible[j] { top = max(top, row[j]) }
                    var sum: Float = 0
                    for j in 0..<n {
                        if eligible[j] {
                            row[j] = Foundation.exp(row[j] - top)
                            sum += row[j]
                        } else {
                            row[j] = 0
                        }
                    }
                    let logSum = top + Foundation.log(sum)
                    let weight = positives * scale / sum
                    for j in 0..<n { row[j] *= weight }
                    for k in lo..<hi { row[Int(data.items[k])] -= scale }
                    loss += Double(positives) * Double(logSum) - positiveLogits
                }
                // ∂L/∂(user rows) = G·I, scattered; ∂L/∂(item rows) += Gᵀ·U, in place.
                var userGradient = [Float](repeating: 0, count: b * d)
                userGradient.withUnsafeMutableBufferPointer { gp in
                    GEMM.multiply(
                        transA: false, transB: false, m: b, n: d, k: n, a: l, lda: n, b: itemTable, ldb: d, beta: 0,
                        c: gp.baseAddress!, ldc: d)
                    for (r, u) in batchUsers.enumerated() {
                        VectorKernels.add(gp.baseAddress! + r * d, into: gradient + Int(u) * d, count: d)
                    }
                }
                GEMM.multiply(
                    transA: true, transB: false, m: n, n: d, k: b, a: l, lda: n, b: up.baseAddress!, ldb: d, beta: 1,
                    c: gradient + users * d, ldc: d)
            }
        }
        for u in batchUsers {
            let lo = data.userOffsets[Int(u)], hi = data.userOffsets[Int(u) + 1]
            func penalise(_ r: Int, times: Int) {
                let e0 = embeddings + r * d
                loss += Double(0.5 * regularization * Float(times) * VectorKernels.dot(e0, e0, count: d))
                VectorKernels.axpy(
                    regularization * scale * Float(times), e0, regularizationGradient + r * d, count: d)
            }
            penalise(Int(u), times: hi - lo)
            for k in lo..<hi { penalise(users + Int(data.items[k]), times: 1) }
        }
        return loss * Double(scale)
    }

    /// Consecutive runs of `order` (users) holding at least `size` training pairs each (the last
    /// may hold fewer), with their pair counts.
    static func userBatches(_ order: [Int32], data: BinaryInteractions, size: Int) -> [(
        range: Range<Int>, pairs: Int
    )] {
        var batches: [(range: Range<Int>, pairs: Int)] = []
        var start = 0, pairs = 0
        for (k, u) in order.enumerated() {
            pairs += data.userOffsets[Int(u) + 1] - data.userOffsets[Int(u)]
            if pairs >= size {
                batches.append((start..<(k + 1), pairs))
                (start, pairs) = (k + 1, 0)
            }
        }
        if start < order.count { batches.append((start..<order.count, pairs)) }
        return batches
    }

    /// ∂L/∂E⁽⁰⁾ from `gradient` = ∂L/∂E_final: 1/(K+1) Σₖ Âᵏ G by Horner's rule (Â is symmetric).
    static func backward(_ gradient: [Float], graph: Graph, layers: Int, dim: Int) -> [Float] {
        var h = gradient
        var next = [Float](repeating: 0, count: gradient.count)
        for _ in 0..<layers {
            h.withUnsafeBufferPointer { input in
                next.withUnsafeMutableBufferPointer {
                    graph.propagate(input.baseAddress!, into: $0.baseAddress!, dim: dim)
                }
            }
            VectorKernels.add(gradient, into: &next, count: next.count)
            swap(&h, &next)
        }
        let scale = 1 / Float(layers + 1)
        for k in h.indices { h[k] *= scale }
        return h
    }

    // MARK: Training

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        let d = config.dim, users = dataset.userCount, items = dataset.itemCount
        let data = BinaryInteractions(dataset)
        let (graph, attributeNodes) = graph(for: dataset, data: data)
        let nodes = graph.nodeCount
        if config.knowledge {
            progress?(.message("\(name): \(attributeNodes) attribute nodes, \(graph.columns.count / 2) edges"))
        }
        var rng = SeededGenerator(seed: config.seed)
        // Xavier-uniform over the table, as the reference implementation initialises it.
        let bound = (6 / Float(nodes + d)).squareRoot()
        let table = Variable(
            Tensor(shape: [nodes, d], scalars: (0..<(nodes * d)).map { _ in (rng.nextUniform() * 2 - 1) * bound }),
            requiresGrad: true)
        let optimizer = Adam(parameters: [table], learningRate: config.learningRate)
        var pairs: [(user: Int32, item: Int32)] = []
        pairs.reserveCapacity(data.nonzeros)
        for u in 0..<users {
            for k in data.userOffsets[u]..<data.userOffsets[u + 1] { pairs.append((Int32(u), data.items[k])) }
        }
        // Negatives come from the items with training events: an item without any would only
        // ever be a negative and learn to rank last, which is what the attribute nodes of the
        // knowledge variant are there to prevent.
        var hasEvents = [Bool](repeating: false, count: items)
        for (_, item) in pairs { hasEvents[Int(item)] = true }
        let negativeCandidates = (0..<items).filter { hasEvents[$0] }.map(Int32.init)
        var trainingUsers = (0..<users).filter { data.userOffsets[$0 + 1] > data.userOffsets[$0] }.map(Int32.init)
        userCount = users
        itemCount = items
        epochSeconds = []
        validationNDCG = []
        let validating = validation.map { !$0.isEmpty } ?? false
        var stopping = EarlyStopping<[Float]>(patience: config.patience)
        var gradient = [Float](repeating: 0, count: nodes * d)
        var regularizationGradient = [Float](repeating: 0, count: nodes * d)
        let start = ProcessClock.now()
        var stoppedBy = "epochs"
        epochs: for epoch in 1...max(config.epochs, 1) where config.epochs > 0 && !pairs.isEmpty {
            let epochStart = ProcessClock.now()
            // BPR steps over shuffled pairs; softmax steps over shuffled users, whole.
            let batches: [(range: Range<Int>, pairs: Int)]
            switch config.loss {
            case .bpr:
                pairs.shuffle(using: &rng)
                batches = stride(from: 0, to: pairs.count, by: config.batchSize).map {
                    ($0..<min(pairs.count, $0 + config.batchSize), min(config.batchSize, pairs.count - $0))
                }
            case .softmax:
                trainingUsers.shuffle(using: &rng)
                batches = Self.userBatches(trainingUsers, data: data, size: config.batchSize)
            }
            var lossSum = 0.0, pairsDone = 0
            var outOfTime = false
            for (step, batch) in batches.enumerated() {
                let embeddings = table.value.scalars
                let (_, final) = Self.forward(embeddings, graph: graph, layers: config.layers, dim: d)
                for k in gradient.indices { gradient[k] = 0 }
                for k in regularizationGradient.indices { regularizationGradient[k] = 0 }
                let loss: Double
                switch config.loss {
                case .bpr:
                    let triples = pairs[batch.range].map {
                        (
                            user: $0.user, positive: $0.item,
                            negative: Self.negative(
                                for: Int($0.user), data: data, candidates: negativeCandidates, using: &rng)
                        )
                    }
                    loss = Self.batchLoss(
                        triples: triples[...], final: final, embeddings: embeddings, users: users, dim: d,
                        regularization: config.regularization, gradient: &gradient,
                        regularizationGradient: &regularizationGradient)
                case .softmax:
                    loss = hasEvents.withUnsafeBufferPointer { eligible in
                        Self.softmaxBatchLoss(
                            batchUsers: trainingUsers[batch.range], data: data, eligible: eligible, final: final,
                            embeddings: embeddings, users: users, dim: d, regularization: config.regularization,
                            gradient: &gradient, regularizationGradient: &regularizationGradient)
                    }
                }
                var total = Self.backward(gradient, graph: graph, layers: config.layers, dim: d)
                VectorKernels.add(regularizationGradient, into: &total, count: total.count)
                table.grad = Tensor(shape: [nodes, d], scalars: total)
                optimizer.step()
                lossSum += loss * Double(batch.pairs)
                pairsDone += batch.pairs
                let now = ProcessClock.now()
                let budgetLeft = config.timeBudget.map { $0 - (now - start) }
                progress?(
                    .step(
                        TrainingStatus(
                            model: name, epoch: epoch, epochs: config.epochs, step: step + 1, steps: batches.count,
                            loss: lossSum / Double(max(pairsDone, 1)),
                            itemsPerSecond: Double(pairsDone) / max(now - epochStart, 1e-9),
                            epochElapsed: now - epochStart, budgetLeft: budgetLeft)))
                if let budgetLeft, budgetLeft <= 0 {
                    outOfTime = true
                    stoppedBy = "time budget"
                    break
                }
                if stop.isRequested {
                    outOfTime = true
                    stoppedBy = "a stop request"
                    break
                }
            }
            epochSeconds.append(ProcessClock.now() - epochStart)
            var validated: Double?, isBest = false
            if validating, let validation, epoch % config.validateEvery == 0 || outOfTime {
                install(table.value.scalars, graph: graph)
                let ndcg = ValidationRanking.ndcg(self, dataset: dataset, heldOut: validation)
                validated = ndcg
                validationNDCG.append(ndcg)
                isBest = stopping.record(ndcg, epoch: epoch) { table.value.scalars }
            }
            EarlyStopping<[Float]>.reportEpoch(
                progress, model: name, epoch: epoch, loss: lossSum / Double(pairs.count), seconds: epochSeconds.last!,
                validated: validated, isBest: isBest)
            if outOfTime { break epochs }
            if validating && stopping.shouldStop {
                stoppedBy = "early stopping"
                break epochs
            }
        }
        install(stopping.bestWeights ?? table.value.scalars, graph: graph)
        if stopping.bestWeights != nil {
            progress?(
                .message(
                    String(
                        format: "%@: stopped by %@; keeping epoch %d (valid NDCG@10 %.4f)", name, stoppedBy,
                        stopping.bestEpoch, stopping.best)))
        }
    }

    /// A uniform item among `candidates` that `u` does not have (a few tries; a user with nearly
    /// every item may keep one).
    static func negative(
        for u: Int, data: BinaryInteractions, candidates: [Int32], using rng: inout SeededGenerator
    ) -> Int32 {
        var j = candidates[rng.nextInt(below: candidates.count)]
        var tries = 0
        data.items.withUnsafeBufferPointer { own in
            let lo = data.userOffsets[u], hi = data.userOffsets[u + 1]
            while tries < 16 && BPR.contains(own.baseAddress! + lo, hi - lo, j) {
                j = candidates[rng.nextInt(below: candidates.count)]
                tries += 1
            }
        }
        return j
    }

    /// Keeps what scoring needs from a layer-0 table: users' layer 0, items' layers 0…K−1,
    /// their final vectors and degrees.
    private func install(_ embeddings: [Float], graph: Graph) {
        let d = config.dim, users = graph.users, items = graph.items
        let (layers, final) = Self.forward(embeddings, graph: graph, layers: config.layers, dim: d)
        userEmbeddings = Array(embeddings[0..<(users * d)])
        itemLayers = layers.prefix(config.layers).map { Array($0[(users * d)..<((users + items) * d)]) }
        itemFinal = Array(final[(users * d)..<((users + items) * d)])
        itemDegrees = (0..<items).map { Float(graph.degree(users + $0)) }
    }

    // MARK: Scoring

    /// A state's final user vector, folded in from its distinct items (see the type's documentation).
    func userVector(_ state: UserState, into out: UnsafeMutablePointer<Float>) {
        let d = config.dim, layers = config.layers
        var layer = [Float](repeating: 0, count: d)
        if let u = state.user, u >= 0, Int(u) < userCount {
            let row = Int(u) * d
            for c in 0..<d { layer[c] = userEmbeddings[row + c] }
        }
        out.update(from: layer, count: d)
        // Without items, layers 1…K of a node without edges are zero: only layer 0 counts.
        let items = BinaryInteractions.distinct(state.items, itemCount: itemCount)
        if !items.isEmpty {
            let userNorm = 1 / Float(items.count).squareRoot()
            for k in 0..<layers {
                for c in 0..<d { layer[c] = 0 }
                itemLayers[k].withUnsafeBufferPointer { table in
                    layer.withUnsafeMutableBufferPointer { l in
                        for i in items {
                            let w = userNorm / max(itemDegrees[Int(i)], 1).squareRoot()
                            VectorKernels.axpy(w, table.baseAddress! + Int(i) * d, l.baseAddress!, count: d)
                        }
                    }
                }
                VectorKernels.add(layer, into: out, count: d)
            }
        }
        let scale = 1 / Float(layers + 1)
        for c in 0..<d { out[c] *= scale }
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        scoreBatch([state], into: scores)
    }

    /// Folds in each state's vector, then one GEMM with the items' final vectors.
    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        let rows = states.count, d = config.dim, n = itemCount
        precondition(scores.count >= rows * n, "\(name): scoreBatch buffer too small")
        guard rows > 0 else { return }
        var vectors = [Float](repeating: 0, count: rows * d)
        vectors.withUnsafeMutableBufferPointer { vp in
            nonisolated(unsafe) let base = vp.baseAddress!
            parallelRanges(rows, costPerItem: d * 64 * max(config.layers, 1)) { range in
                for r in range { self.userVector(states[r], into: base + r * d) }
            }
        }
        vectors.withUnsafeBufferPointer { a in
            itemFinal.withUnsafeBufferPointer { b in
                GEMM.multiply(
                    transA: false, transB: true, m: rows, n: n, k: d, a: a.baseAddress!, lda: d, b: b.baseAddress!,
                    ldb: d, beta: 0, c: scores.baseAddress!, ldc: n)
            }
        }
    }

    // MARK: Saving

    public func save(to directory: URL) throws {
        guard itemCount > 0 else { throw ModelError.notFitted(name) }
        let d = config.dim
        var tensors: [String: Tensor] = [
            "user_embeddings": Tensor(shape: [userCount, d], scalars: userEmbeddings),
            "item_final": Tensor(shape: [itemCount, d], scalars: itemFinal),
            "item_degrees": Tensor(itemDegrees),
        ]
        for (k, layer) in itemLayers.enumerated() {
            tensors["item_layer_\(k)"] = Tensor(shape: [itemCount, d], scalars: layer)
        }
        try ModelArtifact.write(
            manifest: ModelManifest(
                model: name, config: config.values, userCount: userCount, itemCount: itemCount,
                metrics: ["epochs": Double(epochSeconds.count)]),
            tensors: tensors, to: directory)
    }

    public static func load(from directory: URL) throws -> LightGCN {
        let (manifest, file) = try ModelArtifact.read(from: directory)
        guard manifest.model == "lightgcn" || manifest.model == "lightgcn-kg" else {
            throw ModelError.incompatibleArtifact("expected a lightgcn model, found '\(manifest.model)'")
        }
        var config = try manifest.config(LightGCNConfig.self)
        config.knowledge = manifest.model == "lightgcn-kg"
        let model = try LightGCN(config: config)
        let d = model.config.dim, users = manifest.userCount, items = manifest.itemCount
        let userTable = try file.tensor("user_embeddings"), final = try file.tensor("item_final")
        let degrees = try file.tensor("item_degrees")
        let layers = try (0..<model.config.layers).map { try file.tensor("item_layer_\($0)") }
        guard userTable.shape == [users, d], final.shape == [items, d], degrees.shape == [items],
            layers.allSatisfy({ $0.shape == [items, d] })
        else { throw ModelError.incompatibleArtifact("\(model.name): tensor shapes do not match the manifest") }
        model.userEmbeddings = userTable.scalars
        model.itemFinal = final.scalars
        model.itemDegrees = degrees.scalars
        model.itemLayers = layers.map(\.scalars)
        model.userCount = users
        model.itemCount = items
        return model
    }
}
