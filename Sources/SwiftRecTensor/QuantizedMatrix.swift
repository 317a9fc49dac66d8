import CSwiftRecKernels
import Foundation

/// How a model stores the weights and item vectors it scores with.
public enum ScoringPrecision: String, Codable, Sendable, CaseIterable {
    /// 32-bit floats, as trained.
    case float
    /// int8 with one float scale per row (per output unit or item), a quarter of the memory;
    /// inputs are quantised per row when they are multiplied.
    case int8
}

/// The int8 code paths, for tests and benchmarks (``QuantizedMatrix`` picks the best one itself).
public enum QuantizedKernelPath: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case portable = 0
    case avx2 = 1
    case avx512VNNI = 2
    case neon = 3
    /// Intel AMX tiles (k a multiple of 64; other shapes and leftover rows take the VNNI path).
    case amx = 4

    /// Whether this CPU can run the path.
    public var isAvailable: Bool { sr_q8_path_available(rawValue) != 0 }
    /// The path ``QuantizedMatrix`` uses on this CPU.
    public static var best: QuantizedKernelPath { QuantizedKernelPath(rawValue: sr_q8_best_path()) ?? .portable }
    public var description: String { String(cString: sr_q8_path_name(rawValue)) }
    /// The path products take now: ``best`` unless ``use(_:)`` chose another.
    public static var current: QuantizedKernelPath {
        QuantizedKernelPath(rawValue: sr_q8_current_path()) ?? .portable
    }
    /// Makes every later int8 product in this process take `path` (nil: the best one again), so
    /// a benchmark can compare paths on one CPU. False (nothing changes) when the CPU lacks it.
    @discardableResult
    public static func use(_ path: QuantizedKernelPath?) -> Bool { sr_q8_use_path(path?.rawValue ?? -1) != 0 }
}

/// A float matrix stored as int8 in [-127, 127] with one scale per row, packed for the int8
/// product kernel: multiplying by it quantises the other side per row, sums products exactly in
/// int32 and scales back. Both sides' rounding errors are at most half a step of their row's
/// largest value / 127.
public struct QuantizedMatrix: Sendable {
    /// Rows (output units, items) and columns (input features, dimensions).
    public let rows: Int, columns: Int
    private let packed: [Int8]
    private let rowSums: [Int32]
    private let scales: [Float]

    /// Quantises the rows of `matrix`, [rows, columns].
    public init(_ matrix: Tensor) {
        precondition(matrix.shape.count == 2, "QuantizedMatrix: \(matrix.shape) is not a matrix")
        self.init(rows: matrix.shape[0], columns: matrix.shape[1], values: matrix.scalars)
    }

    /// Quantises `rows` rows of `columns` values, row-major, starting at `values[offset]`.
    public init(rows: Int, columns: Int, values: [Float], offset: Int = 0) {
        precondition(rows >= 0 && columns > 0 && offset + rows * columns <= values.count, "QuantizedMatrix: bad shape")
        self.rows = rows
        self.columns = columns
        let padded = sr_q8_padded_columns(columns)
        var plain = [Int8](repeating: 0, count: max(1, rows * padded))
        var scales = [Float](repeating: 0, count: max(1, rows))
        values.withUnsafeBufferPointer { v in
            sr_q8_quantize_rows(v.baseAddress! + offset, rows, columns, columns, &plain, padded, &scales)
        }
        var packed = [Int8](repeating: 0, count: max(1, sr_q8_packed_size(rows, columns)))
        let paddedRows = max(1, (rows + 15) / 16 * 16)
        var sums = [Int32](repeating: 0, count: paddedRows)
        sr_q8_pack(plain, rows, columns, padded, &packed, &sums)
        // Only the VNNI path reads the row sums; elsewhere they are not kept.
        if !QuantizedKernelPath.avx512VNNI.isAvailable { sums = [0] }
        // Whole panels of scales, so that vector loads of a last partial panel stay inside.
        scales += [Float](repeating: 0, count: paddedRows - scales.count)
        self.packed = packed
        self.rowSums = sums
        self.scales = scales
    }

    /// Bytes held: the packed values, their row sums and scales.
    public var bytes: Int { packed.count + 4 * rowSums.count + 4 * scales.count }

    /// Rows of the matrix as floats again (value × scale), [rows, columns]: what the int8 copy
    /// represents, for tests and error figures.
    public func dequantized() -> Tensor {
        let groups = sr_q8_padded_columns(columns) / 4
        var out = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            let panel = r / 16, lane = r % 16
            for c in 0..<columns {
                let value = packed[((panel * groups + c / 4) * 16 + lane) * 4 + c % 4]
                out[r * columns + c] = Float(value) * scales[r]
            }
        }
        return Tensor(shape: [rows, columns], scalars: out)
    }

    /// `out[i, j] = Σₖ x[i, k] · M[j, k] (+ bias[j])` for `count` rows of `x` (each `columns`
    /// long, `xStride` apart), rows of `out` `outStride` apart. Splits rows over threads when
    /// `parallel` and the product is large; `path` forces a code path (tests), nil = the best.
    public func multiply(
        _ x: UnsafePointer<Float>, count: Int, xStride: Int, bias: UnsafePointer<Float>? = nil,
        into out: UnsafeMutablePointer<Float>, outStride: Int, parallel: Bool = true,
        path: QuantizedKernelPath? = nil
    ) {
        Self.multiply(
            x, count: count, xStride: xStride, by: [Product(matrix: self, bias: bias, out: out, outStride: outStride)],
            parallel: parallel, path: path)
    }

    /// One matrix of a shared-input product, with its bias and where its result goes.
    struct Product {
        let matrix: QuantizedMatrix
        let bias: UnsafePointer<Float>?
        let out: UnsafeMutablePointer<Float>
        let outStride: Int
    }

    /// Each product's `out = x · matrixᵀ (+ bias)` for `count` rows of `x`, all matrices
    /// `columns` wide: every block of rows is quantised once for all of them.
    static func multiply(
        _ x: UnsafePointer<Float>, count: Int, xStride: Int, by products: [Product], parallel: Bool,
        path: QuantizedKernelPath?
    ) {
        guard count > 0, let columns = products.first?.matrix.columns else { return }
        precondition(products.allSatisfy { $0.matrix.columns == columns }, "QuantizedMatrix: widths differ")
        if let path { precondition(path.isAvailable, "QuantizedMatrix: the \(path) path is not available here") }
        let padded = sr_q8_padded_columns(columns), chosen = (path ?? .current).rawValue
        nonisolated(unsafe) let x = x, products = products
        // Rows are quantised and multiplied a block at a time, so that each block's int8 copy is
        // still in the L1 cache when the kernel reads it, and the float input is read from
        // memory once rather than twice (large batches are bound by memory, not arithmetic).
        let blockRows = 64
        let work = { (range: Range<Int>) in
            let largest = min(range.count, blockRows)
            var quantized = [Int8](repeating: 0, count: largest * padded)
            var inputScales = [Float](repeating: 0, count: largest)
            for first in stride(from: range.lowerBound, to: range.upperBound, by: blockRows) {
                let block = min(blockRows, range.upperBound - first)
                sr_q8_quantize_rows_path(
                    chosen, x + first * xStride, block, columns, xStride, &quantized, padded, &inputScales)
                for product in products where product.matrix.rows > 0 {
                    let m = product.matrix
                    m.packed.withUnsafeBufferPointer { p in
                        m.rowSums.withUnsafeBufferPointer { s in
                            m.scales.withUnsafeBufferPointer { sc in
                                _ = sr_q8_gemm_path(
                                    chosen, block, m.rows, columns, quantized, padded, inputScales, p.baseAddress,
                                    s.baseAddress, sc.baseAddress, product.bias,
                                    product.out + first * product.outStride,
                                    product.outStride)
                            }
                        }
                    }
                }
            }
        }
        if parallel {
            let cost = products.reduce(0) { $0 + $1.matrix.rows } * columns / 4
            parallelRanges(count, costPerItem: cost) { work($0) }
        } else {
            work(0..<count)
        }
    }

    /// `x` ([…, columns]) times each matrix transposed, plus its bias: [… , rows of each]. The
    /// rows of `x` are quantised once for all of them; each result equals that matrix's
    /// ``multiply(_:bias:)`` exactly.
    public static func multiply(_ x: Tensor, by matrices: [QuantizedMatrix], biases: [Tensor?]) -> [Tensor] {
        precondition(matrices.count == biases.count, "QuantizedMatrix: one bias (or nil) per matrix")
        guard let columns = matrices.first?.columns else { return [] }
        precondition(x.shape.last == columns, "QuantizedMatrix: input \(x.shape) must end in \(columns)")
        for (m, bias) in zip(matrices, biases) {
            if let bias {
                precondition(bias.shape == [m.rows], "QuantizedMatrix: bias \(bias.shape) must be [\(m.rows)]")
            }
        }
        let count = x.count / columns, lead = Array(x.shape.dropLast())
        var outs = matrices.map { Tensor(uninitializedShape: lead + [$0.rows]) }
        // The tensors outlive the call, so their storage pointers stay valid through it.
        let products = matrices.indices.map { k in
            Product(
                matrix: matrices[k], bias: biases[k]?.storage.pointer, out: outs[k].mutablePointer(),
                outStride: matrices[k].rows)
        }
        multiply(x.storage.pointer, count: count, xStride: columns, by: products, parallel: true, path: nil)
        withExtendedLifetime((x, biases, outs)) {}
        return outs
    }

    /// `x` ([…, columns]) times this matrix transposed, plus `bias`: [… , rows].
    public func multiply(_ x: Tensor, bias: Tensor? = nil) -> Tensor {
        precondition(x.shape.last == columns, "QuantizedMatrix: input \(x.shape) must end in \(columns)")
        if let bias { precondition(bias.shape == [rows], "QuantizedMatrix: bias \(bias.shape) must be [\(rows)]") }
        let count = x.count / columns
        var out = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [rows])
        x.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                if let bias {
                    bias.withUnsafeBufferPointer { b in
                        multiply(
                            input.baseAddress!, count: count, xStride: columns, bias: b.baseAddress,
                            into: output.baseAddress!, outStride: rows)
                    }
                } else {
                    multiply(
                        input.baseAddress!, count: count, xStride: columns, into: output.baseAddress!, outStride: rows)
                }
            }
        }
        return out
    }
}

extension Linear {
    /// With `.int8`, inference (outside training and gradient recording) uses an int8 copy of
    /// the weights made now; training, and explanations that record gradients, keep the float
    /// weights. `.float` drops the copy.
    public func setPrecision(_ precision: ScoringPrecision) {
        quantizedWeight = precision == .int8 ? QuantizedMatrix(weight.value) : nil
    }
}

extension Layer {
    /// Sets the precision of every ``Linear`` among this layer and its descendants (see
    /// ``Linear/setPrecision(_:)``).
    public func setLinearPrecision(_ precision: ScoringPrecision) {
        if let linear = self as? Linear { linear.setPrecision(precision) }
        for child in children { child.layer.setLinearPrecision(precision) }
    }
}
