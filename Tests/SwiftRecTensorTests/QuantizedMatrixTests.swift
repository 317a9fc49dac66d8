import Foundation
import Testing

@testable import SwiftRecTensor

/// The int8 product kernels and what models build on them.
struct QuantizedMatrixTests {
    /// Seeded values in [-range, range).
    func values(_ count: Int, range: Float = 2, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float.random(in: -range..<range, using: &g) }
    }

    /// Per-row int8 values and scale as the kernel computes them (round to nearest, ties to even).
    func quantizeRow(_ row: ArraySlice<Float>) -> (values: [Int], scale: Float) {
        let largest = row.map { abs($0) }.max() ?? 0
        let inverse = largest > 0 ? 127 / largest : 0
        return (row.map { Int(($0 * inverse).rounded(.toNearestOrEven)) }, largest / 127)
    }

    /// `x` ([rows, columns]) times `matrix` transposed plus `bias`, on one thread and `path`.
    func product(_ matrix: QuantizedMatrix, _ x: [Float], rows: Int, bias: [Float], path: QuantizedKernelPath)
        -> [Float]
    {
        var out = [Float](repeating: .nan, count: rows * matrix.rows)
        x.withUnsafeBufferPointer { x in
            bias.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    matrix.multiply(
                        x.baseAddress!, count: rows, xStride: matrix.columns, bias: b.baseAddress,
                        into: o.baseAddress!, outStride: matrix.rows, parallel: false, path: path)
                }
            }
        }
        return out
    }

    @Test(arguments: QuantizedKernelPath.allCases)
    func everyPathEqualsTheScalarReference(_ path: QuantizedKernelPath) throws {
        guard path.isAvailable else {
            // Not an error: each CPU runs the paths it has; portable runs everywhere.
            print("int8 path \(path) is not available on this CPU; checked on CPUs that have it")
            #expect(path != .portable)
            return
        }
        // Shapes with partial panels (n % 16), padded columns (k % 4), row tails (m % 4), and
        // blocks of four panels followed by single ones (n = 200: 13 panels), each row count.
        let shapes =
            [(1, 1, 1), (3, 17, 5), (4, 16, 64), (9, 40, 70), (5, 33, 3), (2, 130, 129)]
            + [(1, 200, 64), (2, 200, 20), (3, 64, 17), (7, 200, 64)]
            // AMX tiles: blocks of 32 and 16 rows, an odd panel count, leftover rows, k = 64·c,
            // and depths past 64 that AMX pads to whole tiles (DIN's top layer: 200 deep).
            + [(40, 200, 64), (16, 33, 128), (53, 16, 256), (40, 80, 200), (17, 3, 65)]
        for (m, n, k) in shapes {
            let a = values(m * k, seed: UInt64(m * 1000 + k)), b = values(n * k, range: 0.5, seed: UInt64(n * 7 + k))
            let bias = values(n, seed: 99)
            let matrix = QuantizedMatrix(rows: n, columns: k, values: b)
            let out = product(matrix, a, rows: m, bias: bias, path: path)
            // The reference: integer sums of the same int8 values, in Double.
            let dequantizedB = matrix.dequantized().scalars
            for i in 0..<m {
                let (qa, scaleA) = quantizeRow(a[(i * k)..<((i + 1) * k)])
                for j in 0..<n {
                    var sum = 0.0
                    for c in 0..<k { sum += Double(qa[c]) * Double(scaleA) * Double(dequantizedB[j * k + c]) }
                    let expected = sum + Double(bias[j])
                    #expect(
                        abs(Double(out[i * n + j]) - expected) <= 1e-5 * max(1, abs(expected)),
                        "m \(m) n \(n) k \(k) at (\(i), \(j)) on \(path): \(out[i * n + j]) vs \(expected)")
                }
            }
            // Every path gives the portable path's result bit for bit.
            let portable = product(matrix, a, rows: m, bias: bias, path: .portable)
            #expect(out == portable, "\(path) differs from portable at m \(m) n \(n) k \(k)")
        }
    }

    @Test(arguments: QuantizedKernelPath.allCases)
    func rowsWithNonFiniteOrHugeValuesQuantiseAsOnThePortablePath(_ path: QuantizedKernelPath) {
        guard path.isAvailable else {
            print("int8 path \(path) is not available on this CPU; checked on CPUs that have it")
            #expect(path != .portable)
            return
        }
        // Widths below, at and above the 64 that short-row code keeps in registers; rows that are
        // plain, hold NaN or ±infinity (they count as 0), or are finite with a sum of |values|
        // past Float's range (3e38 each), or all zero.
        for k in [3, 17, 60, 64, 65, 130] {
            var a = values(6 * k, seed: UInt64(k))
            a[k + k / 2] = .nan
            a[2 * k] = .infinity
            a[3 * k + k - 1] = -.infinity
            for c in 0..<k where c % 2 == 0 { a[4 * k + c] = c % 4 == 0 ? 3e38 : -3e38 }
            for c in 0..<k { a[5 * k + c] = 0 }
            let matrix = QuantizedMatrix(rows: 20, columns: k, values: values(20 * k, range: 0.5, seed: 7))
            let bias = values(20, seed: 8)
            let out = product(matrix, a, rows: 6, bias: bias, path: path)
            let portable = product(matrix, a, rows: 6, bias: bias, path: .portable)
            #expect(out == portable, "\(path) differs from portable at k \(k)")
            // Outputs of the huge row may pass Float's range; the others stay finite.
            let finite = (out[0..<(4 * 20)] + out[(5 * 20)...]).filter { $0.isFinite }.count
            #expect(finite == 5 * 20, "k \(k) on \(path): non-finite output")
        }
    }

    @Test func roundingStaysWithinHalfAStepAndTheProductNearFloat() {
        let (n, k) = (50, 64)
        let b = values(n * k, seed: 4)
        let matrix = QuantizedMatrix(Tensor(shape: [n, k], scalars: b))
        let back = matrix.dequantized().scalars
        for r in 0..<n {
            let step = b[(r * k)..<((r + 1) * k)].map { abs($0) }.max()! / 127
            for c in 0..<k { #expect(abs(back[r * k + c] - b[r * k + c]) <= step / 2 * 1.0001) }
        }
        #expect(matrix.bytes < n * k * 4 / 2, "int8 storage \(matrix.bytes) B for \(n * k * 4) B of floats")
        // The product through the tensor API, against the float product.
        let x = Tensor(shape: [3, k], scalars: values(3 * k, seed: 5))
        let quantized = matrix.multiply(x).scalars
        let exact = Tensor.matmul(x, Tensor(shape: [n, k], scalars: b), transposeB: true).scalars
        let largest = exact.map { abs($0) }.max()!
        let worst = zip(quantized, exact).map { abs($0 - $1) }.max()!
        #expect(worst < 0.02 * largest, "int8 error \(worst) against products up to \(largest)")
    }

    @Test func nonFiniteValuesAndZeroRowsQuantiseToZero() {
        let matrix = QuantizedMatrix(rows: 2, columns: 3, values: [0, 0, 0, 1, .nan, -.infinity])
        #expect(matrix.dequantized().scalars == [0, 0, 0, 1, 0, 0])
        // Input NaN also counts as 0: row 1 gives 1 · 1 − 1 = 0 up to one step of 2/127.
        let out = matrix.multiply(Tensor(shape: [1, 3], scalars: [1, .nan, 2]), bias: Tensor([0.5, -1]))
        #expect(out.scalars[0] == 0.5 && abs(out.scalars[1]) < 2 / 127)
    }

    @Test func linearUsesInt8OnlyAtInference() throws {
        var g = SeededGenerator(seed: 8)
        let layer = Linear(32, 24, generator: &g)
        let x = Variable(Tensor(shape: [2, 5, 32], scalars: values(320, seed: 9)))
        let float = layer(x).value
        layer.setPrecision(.int8)
        layer.setTraining(false)
        // Recording gradients (training, gradient explanations): the float weights.
        #expect(layer(x).value.scalars == float.scalars)
        let int8 = withNoGrad { layer(x).value }
        #expect(int8.shape == [2, 5, 24])
        #expect(int8.scalars != float.scalars)
        let largest = float.scalars.map { abs($0) }.max()!
        #expect(zip(int8.scalars, float.scalars).allSatisfy { abs($0 - $1) < 0.02 * largest })
        layer.setPrecision(.float)
        #expect(withNoGrad { layer(x).value.scalars } == float.scalars)
    }

    /// Layers applied to one input (query, key and value) quantise it once: each result equals
    /// that layer's own, bit for bit, over more rows than one quantising block and on two
    /// threads; with float weights, or while recording gradients, each layer runs as usual.
    @Test func layersSharingAnInputQuantiseItOnce() {
        var g = SeededGenerator(seed: 12)
        let layers = [
            Linear(48, 48, generator: &g), Linear(48, 20, bias: false, generator: &g), Linear(48, 7, generator: &g),
        ]
        let x = Variable(Tensor(shape: [3, 70, 48], scalars: values(3 * 70 * 48, seed: 13)))
        let float = layers.map { $0(x).value.scalars }
        #expect(withNoGrad { Linear.applying(layers, to: x).map(\.value.scalars) } == float)
        for layer in layers {
            layer.setPrecision(.int8)
            layer.setTraining(false)
        }
        let own = withNoGrad { layers.map { $0(x).value } }
        for threads in [1, 2] {
            let shared = Threading.withThreadCount(threads) { withNoGrad { Linear.applying(layers, to: x) } }
            #expect(shared.map(\.value.shape) == own.map(\.shape))
            #expect(shared.map(\.value.scalars) == own.map(\.scalars), "threads \(threads)")
        }
        #expect(Linear.applying(layers, to: x).map(\.value.scalars) == float, "recording gradients: float weights")
    }
}
