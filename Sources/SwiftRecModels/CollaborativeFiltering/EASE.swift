import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``EASE``.
public struct EASEConfig: ModelConfig {
    public var lambda: Float = 500

    public init() {}

    /// The Gram matrix, its inverse and the weights: three `items × items` float matrices.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        MemoryEstimate.data(shape) + 3 * Double(shape.items) * Double(shape.items) * MemoryEstimate.float
    }

    public static let options: [ConfigOption<Self>] = [
        .value("lambda", \.lambda, in: 1e-3...1e9, "The L2 penalty added to the Gram matrix's diagonal.")
    ]
}

/// EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a linear item-to-item
/// model with a closed-form solution.
///
/// With X the binary user × item matrix of the training data (each user's distinct items),
/// G = XᵀX + λI, P = G⁻¹ and B = −P / diag(P) (column j divided by −P[j][j]) with a zero
/// diagonal. A user with binary item vector x scores x·B, so the scores follow the items in
/// the `UserState` (including events newer than the fit) and new users are served from their
/// first item.
///
/// The fit counts G sparsely, in parallel over item rows, and inverts it with a blocked
/// Cholesky factorisation in Float32 whose diagonal blocks are factored and inverted in Double;
/// all the O(n³) work runs in GEMM calls. λ defaults to 500, a good value for MovieLens-1M-sized
/// data (a few thousand items, ~1M events); larger catalogues or denser data usually want more.
public final class EASE: Recommender {
    public let name = "ease"
    public let inputs: Set<ModelInput> = [.history]
    /// The options, checked against their ranges.
    public let config: EASEConfig
    /// The L2 penalty λ added to the Gram matrix's diagonal.
    public var lambda: Float { config.lambda }
    /// The item-to-item weights B, row-major [itemCount, itemCount], zero diagonal.
    public private(set) var weights: [Float] = []
    public private(set) var itemCount = 0

    public init(config: EASEConfig = .init()) throws { self.config = try config.checked() }

    public convenience init(lambda: Float) throws {
        var config = EASEConfig()
        config.lambda = lambda
        try self.init(config: config)
    }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        let n = dataset.itemCount
        guard n > 0 else { throw ModelError.invalidParameter(name: "dataset", reason: "has no items") }
        let start = Date()
        let interactions = BinaryInteractions(dataset)
        var g = [Float](repeating: 0, count: n * n)
        g.withUnsafeMutableBufferPointer { interactions.accumulateGram(into: $0.baseAddress!, lambda: lambda) }
        let gramSeconds = Date().timeIntervalSince(start)
        try g.withUnsafeMutableBufferPointer { try DenseSPD.invert($0.baseAddress!, n: n) }
        // B[i][j] = −P[i][j] / P[j][j], zero diagonal.
        g.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            var scale = [Float](repeating: 0, count: n)
            for j in 0..<n { scale[j] = -1 / base[j * n + j] }
            scale.withUnsafeBufferPointer { s in
                nonisolated(unsafe) let base = base, s = s
                parallelRanges(n, costPerItem: n) { rows in
                    for i in rows {
                        let row = base + i * n
                        for j in 0..<n { row[j] *= s[j] }
                        row[i] = 0
                    }
                }
            }
        }
        weights = g
        itemCount = n
        progress?(
            .message(
                String(
                    format: "ease: %d items, λ = %g, Gram %.2f s, inverse %.2f s", n, Double(lambda), gramSeconds,
                    Date().timeIntervalSince(start) - gramSeconds)))
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= itemCount, "ease: score buffer of \(scores.count) for \(itemCount) items")
        let n = itemCount
        let items = BinaryInteractions.distinct(state.items, itemCount: n)
        let out = scores.baseAddress!
        out.initialize(repeating: 0, count: n)
        weights.withUnsafeBufferPointer { w in
            for i in items { VectorKernels.add(w.baseAddress! + Int(i) * n, into: out, count: n) }
        }
    }

    /// One GEMM: the [users × items] binary matrix of the states times B.
    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        let n = itemCount, rows = states.count
        precondition(scores.count >= rows * n, "ease: scoreBatch buffer too small")
        guard rows > 0 else { return }
        var x = [Float](repeating: 0, count: rows * n)
        for (r, state) in states.enumerated() {
            for i in state.items where i >= 0 && Int(i) < n { x[r * n + Int(i)] = 1 }
        }
        x.withUnsafeBufferPointer { a in
            weights.withUnsafeBufferPointer { b in
                GEMM.multiply(
                    transA: false, transB: false, m: rows, n: n, k: n, a: a.baseAddress!, lda: n, b: b.baseAddress!,
                    ldb: n, c: scores.baseAddress!, ldc: n)
            }
        }
    }

    public func save(to directory: URL) throws {
        guard itemCount > 0 else { throw ModelError.notFitted(name) }
        try ModelArtifact.write(
            manifest: ModelManifest(model: name, config: config.values, itemCount: itemCount),
            tensors: ["weights": Tensor(shape: [itemCount, itemCount], scalars: weights)], to: directory)
    }

    public static func load(from directory: URL) throws -> EASE {
        let (manifest, file) = try ModelArtifact.read(from: directory, expecting: "ease")
        let model = try EASE(config: manifest.config(EASEConfig.self))
        let weights = try file.tensor("weights")
        let n = manifest.itemCount
        guard weights.shape == [n, n] else {
            throw ModelError.incompatibleArtifact("ease: weights have shape \(weights.shape), expected [\(n), \(n)]")
        }
        model.weights = weights.scalars
        model.itemCount = n
        return model
    }
}

// MARK: - Shared by the collaborative-filtering models (EASE, ImplicitALS, BPR)

/// The user × item matrix of a dataset: each user's distinct items (ascending) with how many
/// events the user had on each, as CSR by user and, on request, by item.
struct BinaryInteractions: Sendable {
    let userCount: Int
    let itemCount: Int
    /// User u's items are `items[userOffsets[u]..<userOffsets[u + 1]]`, ascending.
    let userOffsets: [Int]
    let items: [Int32]
    /// The number of events behind each entry of `items` (≥ 1).
    let counts: [Float]

    init(_ dataset: Dataset) {
        let n = dataset.itemCount
        var offsets = [0]
        offsets.reserveCapacity(dataset.userCount + 1)
        var items: [Int32] = [], counts: [Float] = []
        items.reserveCapacity(dataset.eventCount)
        counts.reserveCapacity(dataset.eventCount)
        var slot = [Int](repeating: -1, count: n)
        var pairs: [(Int32, Float)] = []
        for u in 0..<dataset.userCount {
            let start = items.count
            for i in dataset.sequences.items(of: u) where i >= 0 && Int(i) < n {
                if slot[Int(i)] >= start {
                    counts[slot[Int(i)]] += 1
                } else {
                    slot[Int(i)] = items.count
                    items.append(i)
                    counts.append(1)
                }
            }
            pairs.removeAll(keepingCapacity: true)
            for k in start..<items.count { pairs.append((items[k], counts[k])) }
            pairs.sort { $0.0 < $1.0 }
            for (k, pair) in pairs.enumerated() {
                items[start + k] = pair.0
                counts[start + k] = pair.1
            }
            offsets.append(items.count)
        }
        self.init(userOffsets: offsets, items: items, counts: counts, itemCount: n)
    }

    init(userOffsets: [Int], items: [Int32], counts: [Float]? = nil, itemCount: Int) {
        self.userCount = userOffsets.count - 1
        self.itemCount = itemCount
        self.userOffsets = userOffsets
        self.items = items
        self.counts = counts ?? [Float](repeating: 1, count: items.count)
    }

    var nonzeros: Int { items.count }

    /// The transpose: item i's users are `users[offsets[i]..<offsets[i + 1]]` (ascending), with
    /// their counts.
    func byItem() -> (offsets: [Int], users: [Int32], counts: [Float]) {
        var offsets = [Int](repeating: 0, count: itemCount + 1)
        for i in items { offsets[Int(i) + 1] += 1 }
        for i in 0..<itemCount { offsets[i + 1] += offsets[i] }
        var cursor = offsets
        var users = [Int32](repeating: 0, count: items.count)
        var itemCounts = [Float](repeating: 0, count: items.count)
        for u in 0..<userCount {
            for k in userOffsets[u]..<userOffsets[u + 1] {
                let i = Int(items[k])
                users[cursor[i]] = Int32(u)
                itemCounts[cursor[i]] = counts[k]
                cursor[i] += 1
            }
        }
        return (offsets, users, itemCounts)
    }

    /// Writes the lower triangle (with the diagonal) of XᵀX + λI into the n × n row-major `g`
    /// (zero-filled by the caller), in parallel over item rows: each thread owns a range of rows.
    func accumulateGram(into g: UnsafeMutablePointer<Float>, lambda: Float) {
        let n = itemCount
        nonisolated(unsafe) let g = g
        items.withUnsafeBufferPointer { itemsBuffer in
            userOffsets.withUnsafeBufferPointer { offsetsBuffer in
                nonisolated(unsafe) let all = itemsBuffer.baseAddress!, offsets = offsetsBuffer
                let users = userCount
                // Row i costs the number of pairs (i, j ≤ i) it receives; split the rows into
                // contiguous ranges of equal cost, one per thread.
                var cost = [Int](repeating: 0, count: n)
                for u in 0..<users {
                    for a in offsets[u]..<offsets[u + 1] { cost[Int(all[a])] += a - offsets[u] + 1 }
                }
                let threads = Threading.threadCount
                let total = max(cost.reduce(0, +), 1)
                var bounds = [Int32](repeating: Int32(n), count: threads + 1)
                bounds[0] = 0
                var running = 0, part = 1
                for i in 0..<n where part < threads {
                    running += cost[i]
                    while part < threads && running * threads >= total * part {
                        bounds[part] = Int32(i + 1)
                        part += 1
                    }
                }
                let cuts = bounds
                parallelRanges(threads, costPerItem: 1 << 20, threads: threads) { parts in
                    for part in parts {
                        let lo = cuts[part], hi = cuts[part + 1]
                        for u in 0..<users {
                            let start = offsets[u], end = offsets[u + 1]
                            var a = start
                            while a < end && all[a] < lo { a += 1 }
                            while a < end && all[a] < hi {
                                let row = g + Int(all[a]) * n
                                for b in start...a { row[Int(all[b])] += 1 }
                                a += 1
                            }
                        }
                        var i = Int(lo)
                        while i < Int(hi) {
                            g[i * n + i] += lambda
                            i += 1
                        }
                    }
                }
            }
        }
    }

    /// A state's distinct items that the model knows, in first-seen order.
    static func distinct(_ items: [Int32], itemCount: Int) -> [Int32] {
        var seen = Set<Int32>()
        return items.filter { $0 >= 0 && Int($0) < itemCount && seen.insert($0).inserted }
    }
}

/// Small dense vector kernels on raw pointers (SIMD16 with a scalar tail).
///
/// They multiply and add separately: `addingProduct` (fused multiply-add) becomes a libm
/// `fmaf` call per lane when the package is built for baseline x86-64, as SwiftPM does.
enum VectorKernels {
    /// y += x
    @inline(__always)
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        var k = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        while k + 16 <= n {
            let v = rx.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            let w = ry.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            ry.storeBytes(of: v + w, toByteOffset: k * 4, as: SIMD16<Float>.self)
            k += 16
        }
        while k < n {
            y[k] += x[k]
            k += 1
        }
    }

    /// y += a·x
    @inline(__always)
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        var k = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        let va = SIMD16<Float>(repeating: a)
        while k + 16 <= n {
            let v = rx.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            let w = ry.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            ry.storeBytes(of: w + va * v, toByteOffset: k * 4, as: SIMD16<Float>.self)
            k += 16
        }
        while k < n {
            y[k] += a * x[k]
            k += 1
        }
    }

    /// x·y
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) -> Float {
        var k = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        var acc = SIMD16<Float>()
        while k + 16 <= n {
            let v = rx.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            let w = ry.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            acc += v * w
            k += 16
        }
        var sum = acc.sum()
        while k < n {
            sum += x[k] * y[k]
            k += 1
        }
        return sum
    }
}

/// Dense symmetric positive-definite linear algebra: a blocked Cholesky factorisation and
/// inverse whose O(n³) work runs in GEMM calls, and a small Double solver.
enum DenseSPD {
    /// Errors of the factorisation.
    struct NotPositiveDefinite: Error, CustomStringConvertible {
        let pivot: Int
        var description: String { "matrix is not positive definite (pivot \(pivot))" }
    }

    static let blockSize = 128

    /// Replaces the symmetric positive-definite n × n row-major matrix `a` (only its lower
    /// triangle is read) by its full symmetric inverse.
    ///
    /// A = LLᵀ (blocked, right-looking), then W = L⁻¹ (blocked), then A⁻¹ = WᵀW. Diagonal
    /// blocks are factored and inverted in Double; panels and trailing updates are GEMMs.
    static func invert(_ a: UnsafeMutablePointer<Float>, n: Int) throws {
        try choleskyLower(a, n: n)
        // W = L⁻¹, lower triangular, in its own buffer.
        let w = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { w.deallocate() }
        w.initialize(repeating: 0, count: n * n)
        invertLower(a, into: w, n: n)
        // A⁻¹ = WᵀW: block row [r0, r1) of the upper triangle is W[r0..<n, r0..<r1]ᵀ · W[r0..<n, r0..<n]
        // (W[k][j] = 0 for k < j, so rows above r0 add nothing).
        let nb = blockSize
        for r0 in stride(from: 0, to: n, by: nb) {
            let r1 = min(r0 + nb, n)
            GEMM.multiply(
                transA: true, transB: false, m: r1 - r0, n: n - r0, k: n - r0, a: w + r0 * n + r0, lda: n,
                b: w + r0 * n + r0, ldb: n, c: a + r0 * n + r0, ldc: n)
        }
        // Mirror the upper triangle into the lower one.
        nonisolated(unsafe) let a = a
        parallelRanges(n, costPerItem: n) { rows in
            for i in rows { for j in 0..<i { a[i * n + j] = a[j * n + i] } }
        }
    }

    /// In-place blocked Cholesky: the lower triangle of `a` becomes L with A = LLᵀ (the strict
    /// upper triangle is left as it was).
    static func choleskyLower(_ a: UnsafeMutablePointer<Float>, n: Int) throws {
        let nb = blockSize
        let block = UnsafeMutablePointer<Double>.allocate(capacity: nb * nb)
        defer { block.deallocate() }
        let inverse = UnsafeMutablePointer<Float>.allocate(capacity: nb * nb)
        defer { inverse.deallocate() }
        let panel = UnsafeMutablePointer<Float>.allocate(capacity: max(n * nb, 1))
        defer { panel.deallocate() }
        for k0 in stride(from: 0, to: n, by: nb) {
            let k1 = min(k0 + nb, n), kb = k1 - k0
            // 1. The diagonal block, in Double: L11 and L11⁻¹.
            for i in 0..<kb { for j in 0...i { block[i * kb + j] = Double(a[(k0 + i) * n + k0 + j]) } }
            if let bad = factorDouble(block, n: kb) { throw NotPositiveDefinite(pivot: k0 + bad) }
            for i in 0..<kb { for j in 0...i { a[(k0 + i) * n + k0 + j] = Float(block[i * kb + j]) } }
            guard k1 < n else { break }
            invertLowerDouble(block, n: kb)
            for i in 0..<kb {
                for j in 0..<kb { inverse[i * kb + j] = j <= i ? Float(block[i * kb + j]) : 0 }
            }
            // 2. The panel below: L21 = A21 · L11⁻ᵀ.
            let rows = n - k1
            GEMM.multiply(
                transA: false, transB: true, m: rows, n: kb, k: kb, a: a + k1 * n + k0, lda: n, b: inverse, ldb: kb,
                c: panel, ldc: kb)
            for r in 0..<rows { (a + (k1 + r) * n + k0).update(from: panel + r * kb, count: kb) }
            // 3. The trailing lower triangle: A22 −= L21 · L21ᵀ, by row chunks up to their diagonal.
            let chunk = 4 * nb
            for r0 in stride(from: k1, to: n, by: chunk) {
                let r1 = min(r0 + chunk, n)
                GEMM.multiply(
                    transA: false, transB: true, m: r1 - r0, n: r1 - k1, k: kb, alpha: -1, a: a + r0 * n + k0, lda: n,
                    b: a + k1 * n + k0, ldb: n, beta: 1, c: a + r0 * n + k1, ldc: n)
            }
        }
    }

    /// W = L⁻¹ for the lower triangle of `l` (blocked): W_ii = L_ii⁻¹ and
    /// W[i, 0..<i] = −W_ii · (L[i, 0..<i] · W[0..<i, 0..<i]). `w` must be zero-filled.
    static func invertLower(_ l: UnsafeMutablePointer<Float>, into w: UnsafeMutablePointer<Float>, n: Int) {
        let nb = blockSize
        let block = UnsafeMutablePointer<Double>.allocate(capacity: nb * nb)
        defer { block.deallocate() }
        let temp = UnsafeMutablePointer<Float>.allocate(capacity: max(n * nb, 1))
        defer { temp.deallocate() }
        for i0 in stride(from: 0, to: n, by: nb) {
            let i1 = min(i0 + nb, n), ib = i1 - i0
            for i in 0..<ib { for j in 0...i { block[i * ib + j] = Double(l[(i0 + i) * n + i0 + j]) } }
            invertLowerDouble(block, n: ib)
            for i in 0..<ib { for j in 0...i { w[(i0 + i) * n + i0 + j] = Float(block[i * ib + j]) } }
            guard i0 > 0 else { continue }
            GEMM.multiply(
                transA: false, transB: false, m: ib, n: i0, k: i0, a: l + i0 * n, lda: n, b: w, ldb: n, c: temp,
                ldc: i0)
            GEMM.multiply(
                transA: false, transB: false, m: ib, n: i0, k: ib, alpha: -1, a: w + i0 * n + i0, lda: n, b: temp,
                ldb: i0, c: w + i0 * n, ldc: n)
        }
    }

    /// Unblocked Cholesky of the lower triangle of the n × n row-major `a`, in place. Returns
    /// the first non-positive pivot, or nil on success.
    static func factorDouble(_ a: UnsafeMutablePointer<Double>, n: Int, lda: Int? = nil) -> Int? {
        let lda = lda ?? n
        for j in 0..<n {
            var d = a[j * lda + j]
            for k in 0..<j { d -= a[j * lda + k] * a[j * lda + k] }
            guard d > 0, d.isFinite else { return j }
            let pivot = d.squareRoot()
            a[j * lda + j] = pivot
            let inv = 1 / pivot
            for i in (j + 1)..<max(n, j + 1) {
                var s = a[i * lda + j]
                for k in 0..<j { s -= a[i * lda + k] * a[j * lda + k] }
                a[i * lda + j] = s * inv
            }
        }
        return nil
    }

    /// Inverts the lower-triangular n × n row-major `l` in place (lower triangle only).
    static func invertLowerDouble(_ l: UnsafeMutablePointer<Double>, n: Int) {
        for j in 0..<n {
            l[j * n + j] = 1 / l[j * n + j]
            // Column j below the diagonal: W[i][j] = −(Σ_{k=j}^{i−1} L[i][k] W[k][j]) / L[i][i].
            for i in (j + 1)..<max(n, j + 1) {
                var s = 0.0
                for k in j..<i { s += l[i * n + k] * l[k * n + j] }
                l[i * n + j] = -s / l[i * n + i]
            }
        }
    }

    /// Solves the small SPD system A x = b (A n × n row-major, both Double) by Cholesky, in
    /// place: `a` is overwritten by its factor and `b` by x. Returns false when A is not
    /// positive definite.
    static func solveDouble(_ a: UnsafeMutablePointer<Double>, _ b: UnsafeMutablePointer<Double>, n: Int) -> Bool {
        if factorDouble(a, n: n) != nil { return false }
        for i in 0..<n {  // L y = b
            var s = b[i]
            for k in 0..<i { s -= a[i * n + k] * b[k] }
            b[i] = s / a[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {  // Lᵀ x = y
            var s = b[i]
            for k in (i + 1)..<max(n, i + 1) { s -= a[k * n + i] * b[k] }
            b[i] = s / a[i * n + i]
        }
        return true
    }
}
