import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``BPR``.
public struct BPRConfig: ModelConfig {
    public var factors = 64
    public var learningRate: Float = 0.05
    public var regularization: Float = 0.01
    public var epochs = 50
    public var foldInSteps = 500
    public var seed: UInt64 = 0
    /// What scoring reads: the float item factors or an int8 copy (per-item scales).
    public var quantize = ScoringPrecision.float

    public init() {}

    /// User and item factors with biases, the event pairs grouped by block, and fold-in buffers.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        MemoryEstimate.data(shape) + Double(shape.users + shape.items) * Double(factors + 1) * MemoryEstimate.float
            + Double(shape.events) * 16
    }

    public static let options: [ConfigOption<Self>] = [
        .value("factors", \.factors, in: 1...4096, "Latent dimensions of users and items."),
        .value("lr", \.learningRate, in: 1e-6...10, "SGD learning rate."),
        .value("regularization", \.regularization, in: 0...100, "L2 penalty on the factors and biases."),
        .value("epochs", \.epochs, in: 0...10_000, "Passes over the training events."),
        .value(
            "fold-in-steps", \.foldInSteps, in: 0...100_000, "SGD steps that fit a new user's factors at request time."),
        .value("seed", \.seed, in: 0...UInt64.max, "Random seed."),
        .choice(
            "quantize", \.quantize, "float, or int8: score with an int8 copy of the item factors (per-item scales)."),
    ]
}

/// Bayesian personalised ranking (Rendle et al. 2009) with a matrix-factorisation scorer:
/// x̂ᵤᵢ = xᵤ·yᵢ + bᵢ, trained by SGD on sampled triples (u, i, j) — i an item of u, j a uniform
/// random item u does not have — maximising ln σ(x̂ᵤᵢ − x̂ᵤⱼ) with L2 regularisation.
///
/// **Parallel and deterministic.** Training is stratified (DSGD, Gemulla et al. 2011): each epoch
/// the users and the items are split by a seeded shuffle into `strata` blocks each; in round s
/// user block p trains on its positives in item block (p + s) mod `strata`, with negatives drawn
/// uniformly from that same item block. The blocks of one round share no user and no item, so
/// they run on any number of threads without locks or races, and each block draws from its own
/// generator seeded by (seed, epoch, round, block): the fitted model is the same for every
/// thread count. An epoch draws as many triples as there are (user, item) pairs. Since the item
/// blocks are reshuffled every epoch, every positive meets negatives from the whole catalogue
/// over the epochs; within one epoch its negatives come from 1/`strata` of it.
///
/// **Scoring from a state (fold-in).** A state's user vector is fitted with the item factors
/// fixed: it starts from the trained vector when `state.user` is a trained user (zero for a new
/// user) and takes `foldInSteps` SGD steps on triples (i uniform from the state's items, j uniform
/// outside them), drawn from a generator seeded by `seed` and the state's items, so the same
/// state always gets the same scores and new events count at once. A fixed number of steps
/// (rather than passes over the items) lets a new user with a handful of items move as far from
/// zero as one with hundreds.
public final class BPR: Recommender, ItemFactorScoring {
    public let name = "bpr"
    public let inputs: Set<ModelInput> = [.history]
    /// The options, checked against their ranges.
    public let config: BPRConfig
    public var factors: Int { config.factors }
    public var learningRate: Float { config.learningRate }
    /// The L2 penalty on the user and item factors and item biases.
    public var regularization: Float { config.regularization }
    public var epochs: Int { config.epochs }
    /// SGD steps when folding in a state's user vector.
    public var foldInSteps: Int { config.foldInSteps }
    /// Blocks per side in the stratified schedule (thread-count independent).
    public let strata: Int
    public var seed: UInt64 { config.seed }
    /// [userCount, factors], row-major.
    public private(set) var userFactors: [Float] = []
    /// [itemCount, factors], row-major.
    public private(set) var itemFactors: [Float] = []
    public private(set) var itemBiases: [Float] = []
    public private(set) var itemCount = 0
    /// The item-factor product at the current precision.
    var scorer = ItemFactorScorer()
    public private(set) var userCount = 0
    public private(set) var epochSeconds: [Double] = []

    public init(config: BPRConfig = .init(), strata: Int = 8) throws {
        self.config = try config.checked()
        try ParameterCheck.positive(strata, "strata")
        self.strata = strata
    }

    public convenience init(
        factors: Int = 64, learningRate: Float = 0.05, regularization: Float = 0.01, epochs: Int = 50,
        foldInSteps: Int = 500, strata: Int = 8, seed: UInt64 = 0
    ) throws {
        var config = BPRConfig()
        (config.factors, config.learningRate, config.regularization) = (factors, learningRate, regularization)
        (config.epochs, config.foldInSteps, config.seed) = (epochs, foldInSteps, seed)
        try self.init(config: config, strata: strata)
    }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        let f = factors, users = dataset.userCount, items = dataset.itemCount, blocks = strata
        let data = BinaryInteractions(dataset)
        var rng = SeededGenerator(seed: seed)
        var x = (0..<(users * f)).map { _ in (rng.nextUniform() - 0.5) / Float(f) }
        var y = (0..<(items * f)).map { _ in (rng.nextUniform() - 0.5) / Float(f) }
        var bias = [Float](repeating: 0, count: items)
        var userBlock = [Int32](repeating: 0, count: users)
        var itemBlock = [Int32](repeating: 0, count: items)
        // Per epoch: the positives (u, i) of each (user block, item block) cell, and each item
        // block's items, as flat arrays with offsets.
        var cellOffsets = [Int](repeating: 0, count: blocks * blocks + 1)
        var cellPairs = [Int64](repeating: 0, count: data.nonzeros)
        var blockOffsets = [Int](repeating: 0, count: blocks + 1)
        var blockItems = [Int32](repeating: 0, count: items)
        let lr = learningRate, reg = regularization, seed = self.seed
        epochSeconds = []
        for epoch in 0..<epochs {
            let start = Date()
            var shuffle = SeededGenerator(seed: seed ^ (0x9E37_79B9 &* UInt64(epoch + 1)))
            Self.assignBlocks(&userBlock, blocks: blocks, using: &shuffle)
            Self.assignBlocks(&itemBlock, blocks: blocks, using: &shuffle)
            // Bucket the positives by cell and the items by block (counting sorts).
            for c in 0...(blocks * blocks) { cellOffsets[c] = 0 }
            for u in 0..<users {
                let p = Int(userBlock[u]) * blocks
                for k in data.userOffsets[u]..<data.userOffsets[u + 1] {
                    cellOffsets[p + Int(itemBlock[Int(data.items[k])]) + 1] += 1
                }
            }
            for c in 0..<(blocks * blocks) { cellOffsets[c + 1] += cellOffsets[c] }
            var cursor = cellOffsets
            for u in 0..<users {
                let p = Int(userBlock[u]) * blocks
                for k in data.userOffsets[u]..<data.userOffsets[u + 1] {
                    let c = p + Int(itemBlock[Int(data.items[k])])
                    cellPairs[cursor[c]] = Int64(u) << 32 | Int64(data.items[k])
                    cursor[c] += 1
                }
            }
            for b in 0...blocks { blockOffsets[b] = 0 }
            for i in 0..<items { blockOffsets[Int(itemBlock[i]) + 1] += 1 }
            for b in 0..<blocks { blockOffsets[b + 1] += blockOffsets[b] }
            var blockCursor = blockOffsets
            for i in 0..<items {
                let b = Int(itemBlock[i])
                blockItems[blockCursor[b]] = Int32(i)
                blockCursor[b] += 1
            }
            var lossSum = 0.0
            for round in 0..<blocks {
                var roundLoss = [Double](repeating: 0, count: blocks)
                x.withUnsafeMutableBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        bias.withUnsafeMutableBufferPointer { bp in
                            roundLoss.withUnsafeMutableBufferPointer { lp in
                                nonisolated(unsafe) let xs = xp.baseAddress!, ys = yp.baseAddress!, bs = bp.baseAddress!
                                nonisolated(unsafe) let losses = lp.baseAddress!
                                cellPairs.withUnsafeBufferPointer { pairs in
                                    blockItems.withUnsafeBufferPointer { bItems in
                                        data.items.withUnsafeBufferPointer { userItems in
                                            nonisolated(unsafe) let pairs = pairs, bItems = bItems
                                            nonisolated(unsafe) let userItems = userItems
                                            let cells = cellOffsets, itemBlocks = blockOffsets
                                            let offsets = data.userOffsets
                                            parallelRanges(blocks, costPerItem: 1 << 20) { range in
                                                for p in range {
                                                    let q = (p + round) % blocks
                                                    var g = SeededGenerator(
                                                        seed: seed &+ UInt64(epoch) &* 1_000_003 &+ UInt64(round)
                                                            &* 1009
                                                            &+ UInt64(p) &+ 0x5EED)
                                                    let cell = p * blocks + q
                                                    losses[p] = Self.trainCell(
                                                        pairs: pairs.baseAddress! + cells[cell],
                                                        count: cells[cell + 1] - cells[cell],
                                                        negatives: bItems.baseAddress! + itemBlocks[q],
                                                        negativeCount: itemBlocks[q + 1] - itemBlocks[q],
                                                        userOffsets: offsets, userItems: userItems.baseAddress!,
                                                        x: xs, y: ys, bias: bs, factors: f, learningRate: lr,
                                                        regularization: reg, generator: &g)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                lossSum += roundLoss.reduce(0, +)
            }
            epochSeconds.append(Date().timeIntervalSince(start))
            progress?(
                .message(
                    String(
                        format: "bpr: epoch %d/%d, mean −ln σ %.4f, %.3f s", epoch + 1, epochs,
                        lossSum / Double(max(data.nonzeros, 1)), epochSeconds.last!)))
        }
        userFactors = x
        itemFactors = y
        itemBiases = bias
        userCount = users
        itemCount = items
        setScoringPrecision(config.quantize)
    }

    /// Assigns each index a block so that the blocks are as even as possible, at random.
    static func assignBlocks(_ block: inout [Int32], blocks: Int, using g: inout SeededGenerator) {
        for k in 0..<block.count { block[k] = Int32(k % blocks) }
        var k = block.count - 1
        while k > 0 {
            block.swapAt(k, g.nextInt(below: k + 1))
            k -= 1
        }
    }

    /// `count` SGD steps on triples from one cell; returns the summed −ln σ(x̂ᵤᵢ − x̂ᵤⱼ).
    static func trainCell(
        pairs: UnsafePointer<Int64>, count: Int, negatives: UnsafePointer<Int32>, negativeCount: Int,
        userOffsets: [Int], userItems: UnsafePointer<Int32>, x: UnsafeMutablePointer<Float>,
        y: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, factors f: Int, learningRate lr: Float,
        regularization reg: Float, generator g: inout SeededGenerator
    ) -> Double {
        guard count > 0, negativeCount > 0 else { return 0 }
        var loss = 0.0
        userOffsets.withUnsafeBufferPointer { offsets in
            for _ in 0..<count {
                let pair = pairs[g.nextInt(below: count)]
                let u = Int(pair >> 32), i = Int(Int32(truncatingIfNeeded: pair))
                let lo = offsets[u], hi = offsets[u + 1]
                // A negative the user does not have (a few tries; dense users may keep a positive).
                var j = Int(negatives[g.nextInt(below: negativeCount)])
                var tries = 0
                while tries < 8 && contains(userItems + lo, hi - lo, Int32(j)) {
                    j = Int(negatives[g.nextInt(below: negativeCount)])
                    tries += 1
                }
                if j == i { continue }
                loss += step(
                    x: x + u * f, yi: y + i * f, yj: y + j * f, bi: bias + i, bj: bias + j, factors: f,
                    learningRate: lr, regularization: reg, updateItems: true)
            }
        }
        return loss
    }

    /// Whether the ascending `items` (`count` long) hold `item`.
    @inline(__always)
    static func contains(_ items: UnsafePointer<Int32>, _ count: Int, _ item: Int32) -> Bool {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if items[mid] < item { lo = mid + 1 } else { hi = mid }
        }
        return lo < count && items[lo] == item
    }

    /// One SGD step on (u, i, j); returns −ln σ(x̂ᵤᵢ − x̂ᵤⱼ) before the step.
    @inline(__always)
    static func step(
        x: UnsafeMutablePointer<Float>, yi: UnsafeMutablePointer<Float>, yj: UnsafeMutablePointer<Float>,
        bi: UnsafeMutablePointer<Float>, bj: UnsafeMutablePointer<Float>, factors f: Int, learningRate lr: Float,
        regularization reg: Float, updateItems: Bool
    ) -> Double {
        var diff = bi.pointee - bj.pointee
        var k = 0
        let rx = UnsafeMutableRawPointer(x), ri = UnsafeMutableRawPointer(yi), rj = UnsafeMutableRawPointer(yj)
        var acc = SIMD16<Float>()
        while k + 16 <= f {
            let xv = rx.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            let iv = ri.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            let jv = rj.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            acc += xv * (iv - jv)
            k += 16
        }
        diff += acc.sum()
        while k < f {
            diff += x[k] * (yi[k] - yj[k])
            k += 1
        }
        // σ(−diff): the gradient weight; −ln σ(diff) = ln(1 + e^(−diff)).
        let e = Foundation.exp(-diff)
        let weight = e / (1 + e)
        let loss = diff > -30 ? Double(log1p(e)) : Double(-diff)
        let w = SIMD16<Float>(repeating: weight), rate = SIMD16<Float>(repeating: lr)
        let decay = SIMD16<Float>(repeating: reg)
        k = 0
        while k + 16 <= f {
            let xv = rx.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            let iv = ri.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            let jv = rj.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            rx.storeBytes(of: xv + rate * (w * (iv - jv) - decay * xv), toByteOffset: k * 4, as: SIMD16<Float>.self)
            if updateItems {
                ri.storeBytes(of: iv + rate * (w * xv - decay * iv), toByteOffset: k * 4, as: SIMD16<Float>.self)
                rj.storeBytes(of: jv + rate * (-w * xv - decay * jv), toByteOffset: k * 4, as: SIMD16<Float>.self)
            }
            k += 16
        }
        while k < f {
            let xv = x[k], iv = yi[k], jv = yj[k]
            x[k] = xv + lr * (weight * (iv - jv) - reg * xv)
            if updateItems {
                yi[k] = iv + lr * (weight * xv - reg * iv)
                yj[k] = jv + lr * (-weight * xv - reg * jv)
            }
            k += 1
        }
        if updateItems {
            bi.pointee += lr * (weight - reg * bi.pointee)
            bj.pointee += lr * (-weight - reg * bj.pointee)
        }
        return loss
    }

    /// Fits a state's user vector with the item factors fixed (see the type's documentation).
    func userVector(_ state: UserState, into x: UnsafeMutablePointer<Float>) {
        let f = factors, n = itemCount
        if let u = state.user, u >= 0, Int(u) < userCount {
            userFactors.withUnsafeBufferPointer { x.update(from: $0.baseAddress! + Int(u) * f, count: f) }
        } else {
            x.update(repeating: 0, count: f)
        }
        let items = BinaryInteractions.distinct(state.items, itemCount: n).sorted()
        guard !items.isEmpty, items.count < n, foldInSteps > 0 else { return }
        // The seed depends on the state's items (FNV-1a), so one state always folds in the same way.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in items {
            hash = (hash ^ UInt64(UInt32(bitPattern: i))) &* 0x0100_0000_01B3
        }
        var g = SeededGenerator(seed: seed ^ hash)
        let lr = learningRate, reg = regularization
        // Read-only: `step` leaves the items alone when `updateItems` is false.
        itemFactors.withUnsafeBufferPointer { yp in
            itemBiases.withUnsafeBufferPointer { bp in
                items.withUnsafeBufferPointer { ip in
                    let y = UnsafeMutablePointer(mutating: yp.baseAddress!)
                    let b = UnsafeMutablePointer(mutating: bp.baseAddress!), own = ip.baseAddress!
                    for _ in 0..<foldInSteps {
                        let i = Int(own[g.nextInt(below: items.count)])
                        var j = g.nextInt(below: n)
                        while Self.contains(own, items.count, Int32(j)) { j = g.nextInt(below: n) }
                        _ = Self.step(
                            x: x, yi: y + i * f, yj: y + j * f, bi: b + i, bj: b + j, factors: f, learningRate: lr,
                            regularization: reg, updateItems: false)
                    }
                }
            }
        }
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= itemCount, "bpr: score buffer of \(scores.count) for \(itemCount) items")
        let f = factors
        var x = [Float](repeating: 0, count: f)
        x.withUnsafeMutableBufferPointer { userVector(state, into: $0.baseAddress!) }
        scorer.score(
            x, rows: 1, factors: itemFactors, biases: itemBiases, items: itemCount, dimension: f,
            into: scores.baseAddress!)
    }

    /// Folds in the states' vectors in parallel, then one GEMM with the item factors (plus biases).
    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        let rows = states.count, f = factors, n = itemCount
        precondition(scores.count >= rows * n, "bpr: scoreBatch buffer too small")
        guard rows > 0 else { return }
        var u = [Float](repeating: 0, count: rows * f)
        u.withUnsafeMutableBufferPointer { up in
            nonisolated(unsafe) let base = up.baseAddress!
            parallelRanges(rows, costPerItem: f * 8 * max(foldInSteps, 1)) { range in
                for r in range { self.userVector(states[r], into: base + r * f) }
            }
        }
        scorer.score(
            u, rows: rows, factors: itemFactors, biases: itemBiases, items: n, dimension: f, into: scores.baseAddress!)
    }

    public func save(to directory: URL) throws {
        guard itemCount > 0 else { throw ModelError.notFitted(name) }
        try ModelArtifact.write(
            manifest: ModelManifest(
                model: name,
                config: config.values, parameters: ["strata": "\(strata)"], userCount: userCount, itemCount: itemCount
            ),
            tensors: [
                "user_factors": Tensor(shape: [userCount, factors], scalars: userFactors),
                "item_factors": Tensor(shape: [itemCount, factors], scalars: itemFactors),
                "item_biases": Tensor(itemBiases),
            ], to: directory)
    }

    public static func load(from directory: URL) throws -> BPR {
        let (manifest, file) = try ModelArtifact.read(from: directory, expecting: "bpr")
        let model = try BPR(config: manifest.config(BPRConfig.self), strata: manifest.parameter("strata"))
        let users = try file.tensor("user_factors"), items = try file.tensor("item_factors")
        let biases = try file.tensor("item_biases")
        guard users.shape == [manifest.userCount, model.factors], items.shape == [manifest.itemCount, model.factors],
            biases.shape == [manifest.itemCount]
        else {
            throw ModelError.incompatibleArtifact("bpr: tensor shapes do not match the manifest")
        }
        model.userFactors = users.scalars
        model.itemFactors = items.scalars
        model.itemBiases = biases.scalars
        model.userCount = manifest.userCount
        model.itemCount = manifest.itemCount
        model.setScoringPrecision(model.config.quantize)
        return model
    }
}
