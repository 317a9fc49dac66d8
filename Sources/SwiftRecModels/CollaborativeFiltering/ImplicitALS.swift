import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``ImplicitALS``.
public struct ImplicitALSConfig: ModelConfig {
    public var factors = 64
    public var regularization: Float = 0.1
    public var alpha: Float = 1
    public var iterations = 15
    public var cgSteps = 3
    public var seed: UInt64 = 0
    /// What scoring reads: the float item factors or an int8 copy (per-item scales).
    public var quantize = ScoringPrecision.float

    public init() {}

    /// Both factor matrices, the confidence-weighted CSR in both directions, and a
    /// `factors × factors` Gram matrix and CG buffers per thread.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let f = Double(factors)
        return MemoryEstimate.data(shape) + Double(shape.users + shape.items) * f * MemoryEstimate.float * 2
            + Double(shape.events) * 16 + Double(ProcessInfo.processInfo.activeProcessorCount) * (f * f + 8 * f)
            * MemoryEstimate.float
    }

    public static let options: [ConfigOption<Self>] = [
        .value("factors", \.factors, in: 1...4096, "Latent dimensions of users and items."),
        .value("regularization", \.regularization, in: 0...1e6, "λ, the L2 penalty on both factor matrices."),
        .value("alpha", \.alpha, in: 0...1e6, "α in the confidence 1 + α·r."),
        .value("iterations", \.iterations, in: 0...1000, "Alternating rounds (users, then items)."),
        .value("cg-steps", \.cgSteps, in: 1...100, "Conjugate-gradient steps per row and round."),
        .value("seed", \.seed, in: 0...UInt64.max, "Random seed."),
        .choice(
            "quantize", \.quantize, "float, or int8: score with an int8 copy of the item factors (per-item scales)."),
    ]
}

/// Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren & Volinsky
/// 2008), solved with the conjugate-gradient method (Takács, Pilászy & Tikk 2011) as in the
/// `implicit` package.
///
/// Every (user, item) pair has preference p = 1 if the user had the item and 0 otherwise, with
/// confidence c = 1 + α·r (r = the user's events on the item; 1 for unseen pairs). The model
/// minimises Σ c·(p − xᵤ·yᵢ)² + λ(Σ‖xᵤ‖² + Σ‖yᵢ‖²). Each iteration solves all users with the
/// items fixed, then all items with the users fixed; each row takes `cgSteps` conjugate-gradient
/// steps on (YᵀY + λI + Yᵀ(Cᵤ − I)Y) x = YᵀCᵤp, warm-started from its previous value, in
/// parallel over rows.
///
/// Note on α: `implicit` uses c = alpha·r, so this model's α is `implicit`'s alpha − 1.
///
/// Scoring: a user's factors are solved exactly (Cholesky, in Double) from the items in the
/// `UserState`, with YᵀY precomputed at fit, so the newest events and new users are served
/// without retraining. The trained user factors are kept (and saved) but scoring does not use
/// them.
public final class ImplicitALS: Recommender, ItemFactorScoring {
    public let name = "ials"
    public let inputs: Set<ModelInput> = [.history]
    /// The options, checked against their ranges.
    public let config: ImplicitALSConfig
    public var factors: Int { config.factors }
    /// λ, the L2 penalty on both factor matrices.
    public var regularization: Float { config.regularization }
    /// α in the confidence 1 + α·r.
    public var alpha: Float { config.alpha }
    public var iterations: Int { config.iterations }
    /// Conjugate-gradient steps per row and iteration.
    public var cgSteps: Int { config.cgSteps }
    public var seed: UInt64 { config.seed }
    /// [userCount, factors], row-major.
    public private(set) var userFactors: [Float] = []
    /// [itemCount, factors], row-major.
    public private(set) var itemFactors: [Float] = []
    /// YᵀY + λI of the item factors, [factors, factors].
    private var itemGram: [Float] = []
    public private(set) var itemCount = 0
    /// The item-factor product at the current precision.
    var scorer = ItemFactorScorer()
    public private(set) var userCount = 0
    public private(set) var epochSeconds: [Double] = []

    public init(config: ImplicitALSConfig = .init()) throws { self.config = try config.checked() }

    public convenience init(
        factors: Int = 64, regularization: Float = 0.1, alpha: Float = 1, iterations: Int = 15, cgSteps: Int = 3,
        seed: UInt64 = 0
    ) throws {
        var config = ImplicitALSConfig()
        (config.factors, config.regularization, config.alpha) = (factors, regularization, alpha)
        (config.iterations, config.cgSteps, config.seed) = (iterations, cgSteps, seed)
        try self.init(config: config)
    }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        let f = factors, users = dataset.userCount, items = dataset.itemCount
        let byUser = BinaryInteractions(dataset)
        let byItem = byUser.byItem()
        // Confidences 1 + α·r per nonzero, in both orientations.
        let alpha = self.alpha
        let userConfidence = byUser.counts.map { 1 + alpha * $0 }
        let itemConfidence = byItem.counts.map { 1 + alpha * $0 }
        var rng = SeededGenerator(seed: seed)
        var x = (0..<(users * f)).map { _ in rng.nextUniform() * 0.01 }
        var y = (0..<(items * f)).map { _ in rng.nextUniform() * 0.01 }
        epochSeconds = []
        for iteration in 0..<iterations {
            let start = Date()
            Self.solveSide(
                target: &x, fixed: y, offsets: byUser.userOffsets, columns: byUser.items, confidences: userConfidence,
                factors: f, regularization: regularization, steps: cgSteps)
            Self.solveSide(
                target: &y, fixed: x, offsets: byItem.offsets, columns: byItem.users, confidences: itemConfidence,
                factors: f, regularization: regularization, steps: cgSteps)
            epochSeconds.append(Date().timeIntervalSince(start))
            progress?(
                .message(String(format: "ials: iteration %d/%d, %.3f s", iteration + 1, iterations, epochSeconds.last!))
            )
        }
        userFactors = x
        itemFactors = y
        userCount = users
        itemCount = items
        itemGram = Self.gram(y, rows: items, factors: f, regularization: regularization)
        setScoringPrecision(config.quantize)
    }

    /// YᵀY + λI for the row-major [rows, f] factors Y.
    static func gram(_ y: [Float], rows: Int, factors f: Int, regularization: Float) -> [Float] {
        var g = [Float](repeating: 0, count: f * f)
        guard rows > 0 else {
            for d in 0..<f { g[d * f + d] = regularization }
            return g
        }
        y.withUnsafeBufferPointer { yp in
            g.withUnsafeMutableBufferPointer { gp in
                GEMM.multiply(
                    transA: true, transB: false, m: f, n: f, k: rows, a: yp.baseAddress!, lda: f, b: yp.baseAddress!,
                    ldb: f, c: gp.baseAddress!, ldc: f)
            }
        }
        for d in 0..<f { g[d * f + d] += regularization }
        return g
    }

    /// One half-iteration: every row of `target` takes `steps` CG steps against `fixed`.
    static func solveSide(
        target: inout [Float], fixed: [Float], offsets: [Int], columns: [Int32], confidences: [Float],
        factors f: Int, regularization: Float, steps: Int
    ) {
        let rows = offsets.count - 1
        let fixedRows = fixed.count / f
        let gram = gram(fixed, rows: fixedRows, factors: f, regularization: regularization)
        // Contiguous row ranges of equal work (f² per row and 2f per nonzero, per CG step), one per
        // thread: item rows differ a lot in their number of users.
        let threads = min(Threading.threadCount, max(rows, 1))
        var bounds = [Int](repeating: rows, count: threads + 1)
        bounds[0] = 0
        let perRow = f * f, perNonzero = 2 * f
        let total = rows * perRow + columns.count * perNonzero
        var part = 1
        for row in 0..<rows where part < threads {
            let done = (row + 1) * perRow + offsets[row + 1] * perNonzero
            while part < threads && done * threads >= total * part {
                bounds[part] = row + 1
                part += 1
            }
        }
        let cuts = bounds
        target.withUnsafeMutableBufferPointer { xp in
            nonisolated(unsafe) let x = xp.baseAddress!
            fixed.withUnsafeBufferPointer { yp in
                gram.withUnsafeBufferPointer { gp in
                    offsets.withUnsafeBufferPointer { op in
                        columns.withUnsafeBufferPointer { cp in
                            confidences.withUnsafeBufferPointer { wp in
                                nonisolated(unsafe) let y = yp.baseAddress!, g = gp.baseAddress!, o = op, c = cp, w = wp
                                let work = (total / threads) * (steps + 1)
                                parallelRanges(threads, costPerItem: work, threads: threads) { parts in
                                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * f)
                                    defer { scratch.deallocate() }
                                    for part in parts {
                                        for row in cuts[part]..<cuts[part + 1] {
                                            let lo = o[row], hi = o[row + 1]
                                            conjugateGradientRow(
                                                x: x + row * f, gram: g, fixed: y, columns: c.baseAddress! + lo,
                                                confidences: w.baseAddress! + lo, count: hi - lo, factors: f,
                                                steps: steps, scratch: scratch)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `steps` conjugate-gradient steps on (G + Σ (cₖ − 1) yₖyₖᵀ) x = Σ cₖ yₖ, from the current
    /// `x`, where G = YᵀY + λI and the sums run over the row's `count` nonzeros (column
    /// `columns[k]` of `fixed`, confidence `confidences[k]`). `scratch` holds 3·f floats.
    @inline(__always)
    static func conjugateGradientRow(
        x: UnsafeMutablePointer<Float>, gram: UnsafePointer<Float>, fixed: UnsafePointer<Float>,
        columns: UnsafePointer<Int32>, confidences: UnsafePointer<Float>, count: Int, factors f: Int, steps: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let r = scratch, p = scratch + f, ap = scratch + 2 * f
        // r = b − A x = Σ (cₖ − (cₖ − 1) yₖ·x) yₖ − G x
        for d in 0..<f { r[d] = -VectorKernels.dot(gram + d * f, x, count: f) }
        for k in 0..<count {
            let yk = fixed + Int(columns[k]) * f
            let c = confidences[k]
            VectorKernels.axpy(c - (c - 1) * VectorKernels.dot(yk, x, count: f), yk, r, count: f)
        }
        p.update(from: r, count: f)
        var rsOld = VectorKernels.dot(r, r, count: f)
        if rsOld < 1e-20 { return }
        for _ in 0..<steps {
            // A p = G p + Σ (cₖ − 1)(yₖ·p) yₖ
            for d in 0..<f { ap[d] = VectorKernels.dot(gram + d * f, p, count: f) }
            for k in 0..<count {
                let yk = fixed + Int(columns[k]) * f
                VectorKernels.axpy((confidences[k] - 1) * VectorKernels.dot(yk, p, count: f), yk, ap, count: f)
            }
            let pAp = VectorKernels.dot(p, ap, count: f)
            guard pAp > 0 else { return }
            let step = rsOld / pAp
            VectorKernels.axpy(step, p, x, count: f)
            VectorKernels.axpy(-step, ap, r, count: f)
            let rsNew = VectorKernels.dot(r, r, count: f)
            if rsNew < 1e-20 { return }
            let beta = rsNew / rsOld
            for d in 0..<f { p[d] = r[d] + beta * p[d] }
            rsOld = rsNew
        }
    }

    /// The exact solution of (G + Σ (cₖ − 1) yₖyₖᵀ) x = Σ cₖ yₖ (Cholesky in Double); x = 0 when
    /// the system is singular (λ = 0 and too few items).
    static func exactRow(
        x: UnsafeMutablePointer<Float>, gram: UnsafePointer<Float>, fixed: UnsafePointer<Float>,
        columns: UnsafePointer<Int32>, confidences: UnsafePointer<Float>, count: Int, factors f: Int
    ) {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: f * f + f)
        defer { a.deallocate() }
        let b = a + f * f
        a.update(from: gram, count: f * f)
        b.initialize(repeating: 0, count: f)
        for k in 0..<count {
            let yk = fixed + Int(columns[k]) * f
            let c = confidences[k]
            VectorKernels.axpy(c, yk, b, count: f)
            if c != 1 { for d in 0..<f { VectorKernels.axpy((c - 1) * yk[d], yk, a + d * f, count: f) } }
        }
        let ad = UnsafeMutablePointer<Double>.allocate(capacity: f * f + f)
        defer { ad.deallocate() }
        for k in 0..<(f * f + f) { ad[k] = Double(a[k]) }
        if DenseSPD.solveDouble(ad, ad + f * f, n: f) {
            for d in 0..<f { x[d] = Float(ad[f * f + d]) }
        } else {
            x.update(repeating: 0, count: f)
        }
    }

    /// The factors of a state: its distinct known items with confidence 1 + α·(events on it).
    func userVector(_ state: UserState, into x: UnsafeMutablePointer<Float>) {
        let n = itemCount
        guard n > 0 else {
            x.update(repeating: 0, count: factors)
            return
        }
        var columns: [Int32] = [], confidences: [Float] = []
        var slot = [Int32: Int]()
        for i in state.items where i >= 0 && Int(i) < n {
            if let k = slot[i] {
                confidences[k] += alpha
            } else {
                slot[i] = columns.count
                columns.append(i)
                confidences.append(1 + alpha)
            }
        }
        itemFactors.withUnsafeBufferPointer { y in
            itemGram.withUnsafeBufferPointer { g in
                Self.exactRow(
                    x: x, gram: g.baseAddress!, fixed: y.baseAddress!, columns: columns, confidences: confidences,
                    count: columns.count, factors: factors)
            }
        }
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= itemCount, "als: score buffer of \(scores.count) for \(itemCount) items")
        let f = factors
        var x = [Float](repeating: 0, count: f)
        x.withUnsafeMutableBufferPointer { userVector(state, into: $0.baseAddress!) }
        scorer.score(
            x, rows: 1, factors: itemFactors, biases: nil, items: itemCount, dimension: f, into: scores.baseAddress!)
    }

    /// Solves the states' factors in parallel, then one GEMM with the item factors.
    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        let rows = states.count, f = factors
        precondition(scores.count >= rows * itemCount, "als: scoreBatch buffer too small")
        guard rows > 0 else { return }
        var u = [Float](repeating: 0, count: rows * f)
        u.withUnsafeMutableBufferPointer { up in
            nonisolated(unsafe) let base = up.baseAddress!
            parallelRanges(rows, costPerItem: f * f * 64) { range in
                for r in range { self.userVector(states[r], into: base + r * f) }
            }
        }
        scorer.score(
            u, rows: rows, factors: itemFactors, biases: nil, items: itemCount, dimension: f, into: scores.baseAddress!)
    }

    public func save(to directory: URL) throws {
        guard itemCount > 0 else { throw ModelError.notFitted(name) }
        try ModelArtifact.write(
            manifest: ModelManifest(
                model: name,
                config: config.values, userCount: userCount, itemCount: itemCount),
            tensors: [
                "user_factors": Tensor(shape: [userCount, factors], scalars: userFactors),
                "item_factors": Tensor(shape: [itemCount, factors], scalars: itemFactors),
            ], to: directory)
    }

    public static func load(from directory: URL) throws -> ImplicitALS {
        let (manifest, file) = try ModelArtifact.read(from: directory, expecting: "ials")
        let model = try ImplicitALS(config: manifest.config(ImplicitALSConfig.self))
        let users = try file.tensor("user_factors"), items = try file.tensor("item_factors")
        guard users.shape == [manifest.userCount, model.factors], items.shape == [manifest.itemCount, model.factors]
        else {
            throw ModelError.incompatibleArtifact(
                "als: factor shapes \(users.shape) and \(items.shape) do not match the manifest")
        }
        model.userFactors = users.scalars
        model.itemFactors = items.scalars
        model.userCount = manifest.userCount
        model.itemCount = manifest.itemCount
        model.setScoringPrecision(model.config.quantize)
        model.itemGram = gram(
            model.itemFactors, rows: model.itemCount, factors: model.factors, regularization: model.regularization)
        return model
    }
}
