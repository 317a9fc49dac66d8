import Foundation
import Testing

@testable import SwiftRecTensor

@Suite("Tensor basics")
struct TensorTests {
    @Test func creationAndReshape() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(t[1, 2] == 6)
        #expect(t.reshaped([3, -1]).shape == [3, 2])
        #expect(Tensor.zeros([2, 2]).scalars == [0, 0, 0, 0])
        #expect(Tensor.ones([3]).sum() == 3)
        var g1 = SeededGenerator(seed: 3), g2 = SeededGenerator(seed: 3)
        #expect(
            Tensor.randomNormal([10], generator: &g1).scalars == Tensor.randomNormal([10], generator: &g2).scalars)
        var g = SeededGenerator(seed: 4)
        let normal = Tensor.randomNormal([20_000], mean: 1, std: 2, generator: &g)
        let mean = normal.sum() / 20_000
        let variance = normal.scalars.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20_000
        #expect(abs(mean - 1) < 0.05 && abs(variance.squareRoot() - 2) < 0.05)
    }

    /// The vector kernels behind +, -, *, a bias row and ReLU give each element's own IEEE result
    /// (bits compared), at every length around the vector widths, with NaN, ±0 and ±∞.
    @Test func elementwiseArithmeticIsExactAtEveryLength() {
        var generator = SeededGenerator(seed: 11)
        let specials: [Float] = [.nan, 0, -0.0, .infinity, -.infinity, 1e-40, -3]
        func bits(_ values: [Float]) -> [UInt32] { values.map { $0.isNaN ? 0x7FC0_0000 : $0.bitPattern } }
        for n in [1, 7, 8, 9, 15, 16, 17, 31, 33, 40] {
            var a = Tensor.randomNormal([n], std: 2, generator: &generator).scalars
            var b = Tensor.randomNormal([n], std: 2, generator: &generator).scalars
            for (i, value) in specials.enumerated() where i < n {
                a[i] = value
                b[(i + 3) % n] = value
            }
            let x = Tensor(shape: [n], scalars: a), y = Tensor(shape: [n], scalars: b)
            #expect(bits((x + y).scalars) == bits(zip(a, b).map { $0 + $1 }), "n = \(n)")
            #expect(bits((x - y).scalars) == bits(zip(a, b).map { $0 - $1 }), "n = \(n)")
            #expect(bits((x * y).scalars) == bits(zip(a, b).map { $0 * $1 }), "n = \(n)")
            #expect(bits((x * b[0]).scalars) == bits(a.map { $0 * b[0] }), "n = \(n)")
            #expect(bits((x + b[n - 1]).scalars) == bits(a.map { $0 + b[n - 1] }), "n = \(n)")
            let relu = Variable(x).relu().value.scalars
            #expect(bits(relu) == bits(a.map { $0 > 0 || $0.isNaN ? $0 : 0 }), "n = \(n)")
            let rows = Tensor(shape: [2, n], scalars: a + b) + y
            #expect(bits(rows.scalars) == bits(zip(a + b, b + b).map { $0 + $1 }), "n = \(n)")
            var sum = x
            sum.addInPlace(y)
            #expect(bits(sum.scalars) == bits(zip(a, b).map { $0 + $1 }), "n = \(n)")
        }
    }

    @Test func copyOnWrite() {
        let a = Tensor(shape: [2], scalars: [1, 2])
        var b = a
        b[0] = 9
        #expect(a.scalars == [1, 2] && b.scalars == [9, 2])
    }

    @Test func permuteSliceConcatStack() {
        let t = Tensor(shape: [2, 3, 2], scalars: (0..<12).map(Float.init))
        let p = t.permuted([2, 0, 1])
        #expect(p.shape == [2, 2, 3])
        #expect(p[1, 0, 2] == t[0, 2, 1] && p[0, 1, 1] == t[1, 1, 0])
        #expect(Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]).transposed().scalars == [1, 4, 2, 5, 3, 6])
        let s = t.slice(axis: 1, 1..<3)
        #expect(s.shape == [2, 2, 2] && s.scalars == [2, 3, 4, 5, 8, 9, 10, 11])
        let c = Tensor.concatenate([t.slice(axis: 1, 0..<1), s], axis: 1)
        #expect(c.scalars == t.scalars)
        let st = Tensor.stack([Tensor([1, 2]), Tensor([3, 4])], axis: 1)
        #expect(st.shape == [2, 2] && st.scalars == [1, 3, 2, 4])
    }

    @Test func broadcastingAndReductions() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect((a + Tensor([10, 20, 30])).scalars == [11, 22, 33, 14, 25, 36])
        #expect((a * Tensor(shape: [2, 1], scalars: [2, 3])).scalars == [2, 4, 6, 12, 15, 18])
        #expect(
            (Tensor(shape: [2, 1, 3], scalars: [1, 2, 3, 4, 5, 6]) - Tensor(shape: [2, 1], scalars: [1, 2])).shape == [
                2, 2, 3,
            ])
        #expect(Tensor.broadcastShape([4, 1, 3], [5, 1]) == [4, 5, 3])
        #expect(a.sum(axes: [0]).scalars == [5, 7, 9])
        #expect(a.sum(axes: [1], keepDims: true).shape == [2, 1])
        #expect(a.summed(toShape: [3]).scalars == [5, 7, 9])
        #expect(a.summed(toShape: [2, 1]).scalars == [6, 15])
    }

    @Test func softmaxRowsSumToOne() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 1000, 1000, 1000])
        let y = x.softmaxLastAxis()
        #expect(abs(y[0, 0] + y[0, 1] + y[0, 2] - 1) < 1e-6)
        #expect(abs(y[1, 0] - 1.0 / 3) < 1e-6)
        let l = x.logSoftmaxLastAxis()
        #expect(abs(l[0, 2] - (3 - logf(expf(1) + expf(2) + expf(3)))) < 1e-5)
    }

    @Test func shapeMismatchStopsWithAClearMessage() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))
        }
    }
}

@Suite("GEMM")
struct GEMMTests {
    /// Row-major reference in Double.
    static func reference(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: [Float], _ lda: Int,
        _ b: [Float], _ ldb: Int, _ beta: Float, _ c: [Float], _ ldc: Int
    ) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                out[i * ldc + j] = Float(Double(alpha) * s + (beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])))
            }
        }
        return out
    }

    @Test(arguments: GEMM.availableBackends)
    func matchesReferenceOnOddShapes(backend: GEMMBackend) {
        var g = SeededGenerator(seed: 11)
        let sizes = [(1, 1, 1), (7, 5, 3), (17, 33, 2), (13, 100, 19), (64, 9, 70), (130, 70, 40)]
        for (m, n, k) in sizes {
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                for beta: Float in [0, 1, 0.3] {
                    for threads in [1, 2] {
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                        let a = (0..<((transA ? k : m) * lda)).map { _ in g.nextUniform() * 2 - 1 }
                        let b = (0..<((transB ? n : k) * ldb)).map { _ in g.nextUniform() * 2 - 1 }
                        var c = (0..<(m * ldc)).map { _ in beta == 0 ? Float.nan : g.nextUniform() }
                        let expected = Self.reference(transA, transB, m, n, k, 0.5, a, lda, b, ldb, beta, c, ldc)
                        c.withUnsafeMutableBufferPointer { cp in
                            GEMM.multiply(
                                transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b,
                                ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc, backend: backend, threads: threads)
                        }
                        var worst: Float = 0
                        for i in 0..<m {
                            for j in 0..<n { worst = max(worst, abs(c[i * ldc + j] - expected[i * ldc + j])) }
                        }
                        #expect(
                            worst < 1e-4,
                            "\(backend) \(m)x\(n)x\(k) tA=\(transA) tB=\(transB) beta=\(beta) t=\(threads): \(worst)")
                    }
                }
            }
        }
    }

    /// Products with at most four rows and B read in place (a one-output layer's weight
    /// gradient) take the few-row path on AVX2 CPUs, split over threads by columns. It keeps the
    /// packed path's K slices and arithmetic, so its rows are those of a larger product to the
    /// last bit there (and within rounding on other kernels).
    @Test(arguments: [1, 2, 4])
    func fewRowProductsEqualTheRowsOfALargerOne(rows: Int) {
        var g = SeededGenerator(seed: 13)
        // Wide enough (one row × 803 × 700 ≥ 2¹⁹ multiply-adds) that two threads split the columns.
        let n = 803, k = 700, tall = 7
        for transA in [false, true] {
            for beta: Float in [0, 1] {
                let a = (0..<(tall * k)).map { _ in g.nextUniform() * 2 - 1 }
                let b = (0..<(k * n)).map { _ in g.nextUniform() * 2 - 1 }
                let start = (0..<(tall * n)).map { _ in g.nextUniform() }
                // A's first `rows` rows of op(A): row-major [tall, k], or [k, tall] when transposed.
                let aFew =
                    transA ? (0..<k).flatMap { r in a[(r * tall)..<(r * tall + rows)] } : Array(a[0..<(rows * k)])
                func product(_ m: Int, _ a: [Float], threads: Int) -> [Float] {
                    var c = Array(start[0..<(m * n)])
                    c.withUnsafeMutableBufferPointer { cp in
                        GEMM.multiply(
                            transA: transA, transB: false, m: m, n: n, k: k, a: a, lda: transA ? m : k, b: b, ldb: n,
                            beta: beta, c: cp.baseAddress!, ldc: n, backend: .native, threads: threads)
                    }
                    return c
                }
                let full = Array(product(tall, a, threads: 1)[0..<(rows * n)])
                for threads in [1, 2] {
                    let few = product(rows, aFew, threads: threads)
                    if GEMM.nativeISA == "avx2+fma" {
                        #expect(few == full, "rows \(rows) tA=\(transA) beta=\(beta) threads \(threads)")
                    } else {
                        let worst = zip(few, full).map { abs($0 - $1) }.max()!
                        #expect(worst < 1e-4, "rows \(rows) tA=\(transA) beta=\(beta): \(worst)")
                    }
                }
            }
        }
    }

    @Test func batchedMatmulMatchesLoop() {
        var g = SeededGenerator(seed: 12)
        let a = Tensor.randomUniform([3, 4, 5], generator: &g), b = Tensor.randomUniform([3, 5, 2], generator: &g)
        let c = Tensor.batchedMatmul(a, b)
        for i in 0..<3 {
            let single = Tensor.matmul(
                a.slice(axis: 0, i..<(i + 1)).reshaped([4, 5]), b.slice(axis: 0, i..<(i + 1)).reshaped([5, 2]))
            #expect(c.slice(axis: 0, i..<(i + 1)).reshaped([4, 2]).maxAbsDifference(single) < 1e-6)
        }
    }
}

@Suite("Dropout")
struct DropoutTests {
    @Test func dropsTheRightShareAndRescalesTheRest() {
        let x = Variable(Tensor.ones([200_000]))
        var g1 = SeededGenerator(seed: 8), g2 = SeededGenerator(seed: 8)
        let y = x.dropout(0.3, training: true, generator: &g1).value
        let kept = y.scalars.filter { $0 != 0 }
        #expect(abs(Double(kept.count) / 200_000 - 0.7) < 0.005)
        #expect(kept.allSatisfy { abs($0 - 1 / 0.7) < 1e-6 })
        #expect(x.dropout(0.3, training: true, generator: &g2).value.scalars == y.scalars)
        #expect(x.dropout(0.3, training: false, generator: &g2).value.scalars == x.value.scalars)
    }

    /// The mask is the documented draw: chunks of 65,536 elements, each with its own generator
    /// seeded from one draw of the caller's, four 16-bit numbers per 64-bit draw, low bits
    /// first. Seeded figures stay what they were when the kernel changes.
    @Test(arguments: [5, 64, 65_539, 131_075])
    func maskFollowsTheDrawRule(count: Int) {
        var inputs = SeededGenerator(seed: 3)
        let x = Variable(Tensor.randomNormal([count], generator: &inputs), requiresGrad: true)
        var generator = SeededGenerator(seed: 11), reference = SeededGenerator(seed: 11)
        let y = x.dropout(0.2, training: true, generator: &generator)
        y.sum().backward()
        let base = reference.next()
        var mask = [Float](repeating: 0, count: count)
        for chunkStart in stride(from: 0, to: count, by: 65_536) {
            var local = SeededGenerator(seed: base &+ UInt64(chunkStart / 65_536) &* 0x9E37_79B9_7F4A_7C15)
            var r: UInt64 = 0
            for i in chunkStart..<min(count, chunkStart + 65_536) {
                if (i - chunkStart) % 4 == 0 { r = local.next() }
                mask[i] = (r & 0xFFFF) >= 13_107 ? 1 / (1 - Float(0.2)) : 0
                r >>= 16
            }
        }
        let xs = x.value.scalars
        #expect(y.value.scalars == (0..<count).map { xs[$0] * mask[$0] })
        #expect(x.grad!.scalars == mask)
    }
}

extension DropoutTests {
    /// The fused ReLU-then-dropout draws the mask `dropout` draws and gives the values and
    /// gradients of the two calls in a row.
    @Test(arguments: [5, 64, 65_539])
    func reluDropoutIsReLUThenDropout(count: Int) {
        var inputs = SeededGenerator(seed: 4)
        let values = Tensor.randomNormal([count], generator: &inputs)
        let upstream = Variable(Tensor.randomNormal([count], generator: &inputs))
        let fused = Variable(values, requiresGrad: true), separate = Variable(values, requiresGrad: true)
        var g1 = SeededGenerator(seed: 21), g2 = SeededGenerator(seed: 21)
        let y1 = fused.reluDropout(0.25, training: true, generator: &g1)
        let y2 = separate.relu().dropout(0.25, training: true, generator: &g2)
        #expect(y1.value.scalars == y2.value.scalars)
        if count >= 64 { #expect(y1.value.scalars.contains(0) && y1.value.scalars.contains { $0 > 0 }) }
        (y1 * upstream).sum().backward()
        (y2 * upstream).sum().backward()
        #expect(fused.grad!.scalars == separate.grad!.scalars)
        #expect(g1.next() == g2.next())
        let evaluated = fused.reluDropout(0.25, training: false, generator: &g1)
        #expect(evaluated.value.scalars == values.scalars.map { max($0, 0) })
    }
}

@Suite("Elementwise kernels against scalar references")
struct ElementwiseKernelTests {
    /// Lookups copy rows; the backward pass adds each position's gradient into its row in
    /// position order (repeats accumulate, the padding row gets nothing), split over threads
    /// by table rows: the same bits on one thread and on two.
    @Test(arguments: [(16, 9), (5, 3_000)])
    func embeddingScatterAddsInPositionOrder(dim: Int, rows: Int) {
        var g = SeededGenerator(seed: 31)
        let table = Tensor.randomNormal([rows, dim], generator: &g)
        let indices = (0..<4_100).map { _ in Int32(g.next() % UInt64(rows)) }
        let upstream = Tensor.randomNormal([indices.count, dim], generator: &g)
        var expected = [Float](repeating: 0, count: rows * dim)
        for (i, index) in indices.enumerated() where index != 2 {
            for j in 0..<dim { expected[Int(index) * dim + j] += upstream.scalars[i * dim + j] }
        }
        for threads in [1, 2] {
            let grad = Threading.withThreadCount(threads) {
                let leaf = Variable(table, requiresGrad: true)
                let out = leaf.embeddingLookup(indices, paddingIndex: 2)
                #expect(out.value.scalars == indices.flatMap { table.scalars[(Int($0) * dim)..<(Int($0) * dim + dim)] })
                (out * Variable(upstream)).sum().backward()
                return leaf.grad!.scalars
            }
            #expect(grad == expected, "threads \(threads)")
        }
    }

    /// GELU and its derivative against Double's erf, over a grid that crosses every branch
    /// (both signs, the clamp, the vector tail) and with a NaN and infinities.
    @Test func geluMatchesErfInDouble() {
        let grid = stride(from: -12.0, through: 12.0, by: 0.0137).map { Float($0) }
        let x = Variable(Tensor(grid + [0, -0.0, .infinity, -.infinity]), requiresGrad: true)
        let y = x.gelu()
        y.sum().backward()
        let out = y.value.scalars, grad = x.grad!.scalars
        for (i, v) in grid.enumerated() {
            let d = Double(v)
            let cdf = 0.5 * (1 + erf(d / 2.0.squareRoot())), density = exp(-d * d / 2) / (2 * Double.pi).squareRoot()
            #expect(abs(Double(out[i]) - d * cdf) <= 4e-7 * max(1, abs(d)), "gelu(\(v)) = \(out[i])")
            #expect(abs(Double(grad[i]) - (cdf + d * density)) <= 1e-6 * max(1, abs(d)), "gelu'(\(v)) = \(grad[i])")
        }
        let n = grid.count
        #expect(out[n] == 0 && out[n + 2] == .infinity && out[n + 3] == 0)
    }

    /// Sigmoid and tanh against Double over a grid that crosses tanh's two branches and exp's
    /// clamp, with the vector tail, NaN and infinities.
    @Test func sigmoidAndTanhMatchDouble() {
        let grid = stride(from: -105.0, through: 105.0, by: 0.0371).map { Float($0) }
        let x = Variable(Tensor(grid + [0, -0.0, .infinity, -.infinity, .nan]))
        let sigmoid = x.sigmoid().value.scalars, tanh = x.tanh().value.scalars
        for (i, v) in grid.enumerated() {
            let expected = 1 / (1 + Foundation.exp(-Double(v)))
            // Below −87 the true value is under Float's smallest normal (exp's input is clamped there).
            let tolerance = v < -87 ? 1e-37 : 2e-7 * expected
            #expect(abs(Double(sigmoid[i]) - expected) <= tolerance, "sigmoid(\(v)) = \(sigmoid[i])")
            #expect(abs(Double(tanh[i]) - Foundation.tanh(Double(v))) <= 2e-7, "tanh(\(v)) = \(tanh[i])")
        }
        let n = grid.count
        #expect(sigmoid[n] == 0.5 && sigmoid[n + 2] == 1 && sigmoid[n + 3] == 0 && sigmoid[n + 4].isNaN)
        #expect(tanh[n + 1].sign == .minus && tanh[n + 2] == 1 && tanh[n + 3] == -1 && tanh[n + 4].isNaN)
    }

    /// The fused pair kernel on every code path this CPU has equals the unit computed pair by
    /// pair in Double, with sigmoids and with PReLU, for widths with and without a tail of the
    /// vector length, history blocks and candidate blocks (AVX-512's lanes) with a tail, and no
    /// hidden layer at all.
    @Test(arguments: [
        ([80, 40, 1], 16, 50, 40), ([23, 9, 1], 5, 37, 6), ([17, 1], 3, 70, 33), ([1], 4, 3, 17),
        ([40, 33, 7, 1], 8, 33, 16), ([36, 1], 16, 50, 1),
    ])
    func pairMLPMatchesAPairByPairReference(widths: [Int], dim: Int, history: Int, candidates: Int) {
        let (h, c, hp, cp, block, layers, slopes) = pairInputs(
            widths: widths, dim: dim, history: history, candidates: candidates)
        for usesPReLU in [false, true] {
            let expected = pairReference(
                h: h, c: c, hp: hp, cp: cp, block: block, dim: dim, layers: layers, slopes: usesPReLU ? slopes : nil)
            for path in VectorPath.allCases where path.isAvailable {
                let out = PairMLP.outputs(
                    history: h, candidates: c, historyPart: hp, candidatePart: cp, productBlock: block,
                    productColumn: 2 * dim, layers: layers, slopes: usesPReLU ? slopes : nil, path: path)
                #expect(out.shape == [candidates, history])
                let largest = zip(out.scalars, expected).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
                #expect(largest < 1e-5, "\(path), PReLU \(usesPReLU): largest difference \(largest)")
            }
        }
    }

    /// At int8 the pair kernel's product part is exactly the int8 product of its quantised
    /// operands (each row of W_p scaled by a history item, and each candidate, rounded to
    /// nearest-even at 127 / its largest magnitude), the rest as at float; and no output of these
    /// random units lies more than a tenth from the float unit's. Same shapes as the float test.
    @Test(arguments: [
        ([80, 40, 1], 16, 50, 40), ([23, 9, 1], 5, 37, 6), ([17, 1], 3, 70, 33), ([1], 4, 3, 17),
        ([40, 33, 7, 1], 8, 33, 16), ([36, 1], 16, 50, 1), ([36, 1], 64, 50, 200),
    ])
    func pairMLPAtInt8IsTheQuantisedProduct(widths: [Int], dim: Int, history: Int, candidates: Int) {
        let (h, c, hp, cp, block, layers, slopes) = pairInputs(
            widths: widths, dim: dim, history: history, candidates: candidates)
        // Symmetric per-row quantisation as the int8 product takes it, in Float as it does.
        func quantised(_ row: [Float]) -> (values: [Int], scale: Double) {
            let largest = row.map { abs($0) }.max() ?? 0
            guard largest > 0 else { return (Array(repeating: 0, count: row.count), 0) }
            let inverse: Float = 127 / largest
            return (
                row.map { Int(min(127, max(-127, ($0 * inverse).rounded(.toNearestOrEven)))) }, Double(largest / 127)
            )
        }
        let hs = h.scalars, bs = block.scalars
        let candidateRows = (0..<candidates).map { quantised(Array(c.scalars[($0 * dim)..<(($0 + 1) * dim)])) }
        let productRows = (0..<history).map { l in
            (0..<widths[0]).map { o in quantised((0..<dim).map { bs[o * 4 * dim + 2 * dim + $0] * hs[l * dim + $0] }) }
        }
        func product(_ k: Int, _ l: Int, _ o: Int) -> Double {
            let a = productRows[l][o], b = candidateRows[k]
            let sum = zip(a.values, b.values).reduce(0) { $0 + $1.0 * $1.1 }
            return Double(sum) * a.scale * b.scale
        }
        for usesPReLU in [false, true] {
            let slopesUsed = usesPReLU ? slopes : nil
            let exact = pairReference(
                h: h, c: c, hp: hp, cp: cp, block: block, dim: dim, layers: layers, slopes: slopesUsed, product: product
            )
            let float = pairReference(
                h: h, c: c, hp: hp, cp: cp, block: block, dim: dim, layers: layers, slopes: slopesUsed)
            for path in VectorPath.allCases where path.isAvailable {
                for int8Path in QuantizedKernelPath.allCases where int8Path.isAvailable {
                    let out = PairMLP.outputs(
                        history: h, candidates: c, historyPart: hp, candidatePart: cp, productBlock: block,
                        productColumn: 2 * dim, layers: layers, slopes: slopesUsed, precision: .int8, path: path,
                        int8Path: int8Path)
                    #expect(out.shape == [candidates, history])
                    let context = "\(path), \(int8Path), PReLU \(usesPReLU)"
                    let largest = zip(out.scalars, exact).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
                    #expect(largest < 1e-4, "\(context): largest difference \(largest)")
                    let fromFloat = zip(out.scalars, float).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
                    #expect(fromFloat > 0 && fromFloat < 0.1, "\(context): \(fromFloat) from float")
                }
            }
        }
    }

    /// Random inputs of the pair kernel: history and candidates, their parts of the first layer,
    /// W_p in columns 2·dim..<3·dim of a wider block (as DIN's first layer holds it), the layers
    /// after the first and PReLU slopes of either sign, one per unit of each activation.
    func pairInputs(widths: [Int], dim: Int, history: Int, candidates: Int) -> (
        h: Tensor, c: Tensor, hp: Tensor, cp: Tensor, block: Tensor, layers: [Linear], slopes: [Tensor]
    ) {
        var g = SeededGenerator(seed: UInt64(widths[0] * 100 + dim))
        let h = Tensor.randomNormal([history, dim], generator: &g),
            c = Tensor.randomNormal([candidates, dim], generator: &g)
        let hp = Tensor.randomNormal([history, widths[0]], generator: &g)
        let cp = Tensor.randomNormal([candidates, widths[0]], generator: &g)
        let block = Tensor.randomNormal([widths[0], 4 * dim], std: 0.5, generator: &g)
        let layers = zip(widths, widths.dropFirst()).map { Linear($0, $1, generator: &g) }
        let slopes = widths.dropLast().map { Tensor.randomNormal([$0], std: 0.5, generator: &g) }
        return (h, c, hp, cp, block, layers, slopes)
    }

    /// DIN's activation unit for every (candidate, history item) pair in Double: sigmoids, or
    /// PReLU with `slopes`.
    /// `product(k, l, o)`, when given, stands for unit o's product part W_p·(h_l ⊙ c_k).
    func pairReference(
        h: Tensor, c: Tensor, hp: Tensor, cp: Tensor, block: Tensor, dim: Int, layers: [Linear], slopes: [Tensor]?,
        product: ((Int, Int, Int) -> Double)? = nil
    ) -> [Double] {
        let history = h.shape[0], candidates = c.shape[0], first = hp.shape[1]
        // Each tensor's numbers read once: a debug build copies them on every `scalars`.
        let hs = h.scalars, cs = c.scalars, hps = hp.scalars, cps = cp.scalars, bs = block.scalars
        let slopeValues = slopes?.map(\.scalars)
        let weights = layers.map { ($0.weight.value.scalars, $0.bias!.value.scalars) }
        func activation(_ v: Double, layer: Int, unit: Int) -> Double {
            guard let slopeValues else { return 1 / (1 + Foundation.exp(-v)) }
            return v > 0 ? v : Double(slopeValues[layer][unit]) * v
        }
        var expected: [Double] = []
        for k in 0..<candidates {
            for l in 0..<history {
                var x: [Double] = []
                for o in 0..<first {
                    var sum = Double(hps[l * first + o]) + Double(cps[k * first + o])
                    if let product {
                        sum += product(k, l, o)
                    } else {
                        for j in 0..<dim {
                            let product = Double(hs[l * dim + j]) * Double(cs[k * dim + j])
                            sum += Double(bs[o * 4 * dim + 2 * dim + j]) * product
                        }
                    }
                    x.append(sum)
                }
                for (index, (w, b)) in weights.enumerated() {
                    let width = x.count
                    var next: [Double] = []
                    for o in 0..<b.count {
                        var sum = Double(b[o])
                        for i in 0..<width { sum += Double(w[o * width + i]) * activation(x[i], layer: index, unit: i) }
                        next.append(sum)
                    }
                    x = next
                }
                expected.append(x[0])
            }
        }
        return expected
    }

    /// Layer norm's vector statistics against a Double reference, for widths with and without
    /// a tail of the vector length, and values far from zero (mean 50).
    @Test(arguments: [1, 7, 16, 64, 70])
    func layerNormMatchesADoubleReference(width: Int) {
        var g = SeededGenerator(seed: UInt64(width))
        let rows = 5
        let x = Tensor.randomNormal([rows, width], mean: 50, std: 3, generator: &g)
        let gamma = Tensor.randomNormal([width], generator: &g), beta = Tensor.randomNormal([width], generator: &g)
        let y = Variable(x).layerNorm(gamma: Variable(gamma), beta: Variable(beta)).value.scalars
        for r in 0..<rows {
            let row = (0..<width).map { Double(x.scalars[r * width + $0]) }
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
            for j in 0..<width {
                let expected =
                    (row[j] - mean) / (variance + 1e-5).squareRoot() * Double(gamma.scalars[j])
                    + Double(beta.scalars[j])
                #expect(abs(Double(y[r * width + j]) - expected) < 1e-3, "row \(r) column \(j) of \(width)")
            }
        }
    }

    @Test(arguments: [1, 8, 13, 1_027])
    func reluPassesGradientsWherePositive(count: Int) {
        var g = SeededGenerator(seed: 5)
        var values = Tensor.randomNormal([count], generator: &g).scalars
        values[0] = 0
        if count > 9 { values[9] = .nan }
        let x = Variable(Tensor(values), requiresGrad: true)
        let upstream = Tensor.randomNormal([count], generator: &g)
        (x.relu() * Variable(upstream)).sum().backward()
        let expected = (0..<count).map { values[$0] > 0 ? upstream.scalars[$0] : 0 }
        #expect(x.grad!.scalars == expected)
    }

    @Test(arguments: [
        ([2, 1, 3], [2, 4, 3]), ([3, 1], [3, 5]), ([1, 4], [3, 4]), ([2, 1, 1], [2, 3, 4]), ([1, 2, 1], [3, 2, 2]),
    ])
    func expandedRepeatsSizeOneDimensions(shape: [Int], target: [Int]) {
        var g = SeededGenerator(seed: 7)
        let small = Tensor.randomNormal(shape, generator: &g)
        // Broadcasting against zeros is the slow general path: the reference.
        let reference = Tensor.zip(Tensor.zeros(target), small) { _, v in v }
        #expect(small.expanded(to: target).shape == target)
        #expect(small.expanded(to: target).scalars == reference.scalars)
    }

    @Test(arguments: [([3_000, 40], 0), ([600, 203], 0), ([64, 50, 37], 1), ([3, 9, 130], 1), ([7, 3], 1)])
    func sumsAddInRowOrderOnAnyThreadCount(shape: [Int], axis: Int) {
        var g = SeededGenerator(seed: 9)
        let t = Tensor.randomNormal(shape, generator: &g)
        let outer = shape[..<axis].reduce(1, *), mid = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var expected = [Float](repeating: 0, count: outer * inner)
        let xs = t.scalars
        for o in 0..<outer {
            for m in 0..<mid {
                for i in 0..<inner { expected[o * inner + i] += xs[(o * mid + m) * inner + i] }
            }
        }
        #expect(Threading.withThreadCount(1) { t.sum(axes: [axis]).scalars } == expected)
        #expect(Threading.withThreadCount(2) { t.sum(axes: [axis]).scalars } == expected)
    }
}

@Suite("Frozen parameters")
struct FrozenParameterTests {
    @Test func gradientsReachInputsButNotParameters() {
        var g = SeededGenerator(seed: 4)
        let layer = Linear(3, 2, generator: &g)
        let x = Variable(Tensor.randomNormal([4, 3], generator: &g), requiresGrad: true)
        withFrozenParameters { layer(x).sum().backward() }
        #expect(x.grad != nil && layer.weight.grad == nil && layer.bias?.grad == nil)
        // Outside, the same computation trains the layer; the input gradient is the same.
        let first = x.grad!.scalars
        x.zeroGrad()
        layer(x).sum().backward()
        #expect(layer.weight.grad != nil && x.grad!.scalars == first)
        // Frozen, a computation of parameters alone keeps no graph.
        let constant = withFrozenParameters { layer.weight * 2 }
        #expect(!constant.requiresGrad)
    }
}
