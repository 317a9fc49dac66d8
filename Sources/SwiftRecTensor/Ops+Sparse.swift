import CSwiftRecKernels

/// Rows of a 0/1 matrix by where their ones are (CSR without values): row r has ones at
/// `columns[offsets[r]..<offsets[r + 1]]`, each in `0..<width`.
public struct BinaryRows: Sendable, Equatable {
    public let offsets: [Int]
    public let columns: [Int32]
    public let width: Int

    /// Rows from the columns of each row's ones (a column listed twice counts twice).
    public init(_ rows: [[Int32]], width: Int) {
        var offsets = [0]
        offsets.reserveCapacity(rows.count + 1)
        var columns: [Int32] = []
        for row in rows {
            for c in row { precondition(c >= 0 && Int(c) < width, "BinaryRows: column \(c) outside 0..<\(width)") }
            columns.append(contentsOf: row)
            offsets.append(columns.count)
        }
        self.offsets = offsets
        self.columns = columns
        self.width = width
    }

    public var count: Int { offsets.count - 1 }

    /// The same matrix, dense: [count, width].
    public func dense() -> Tensor {
        var out = Tensor.zeros([count, width])
        let p = out.mutablePointer()
        for r in 0..<count {
            for k in offsets[r]..<offsets[r + 1] { p[r * width + Int(columns[k])] += 1 }
        }
        return out
    }
}

extension Variable {
    /// `[x, dense]·W + b` for a 0/1 matrix x given by `rows` and an optional dense part, with
    /// `weight` laid out by input, [rows.width + dense's width, out], and `bias` [out].
    ///
    /// Each output row is the bias plus the weight rows at x's ones, so x's part costs its
    /// ones × out instead of width × out; the dense part is one matrix product with the
    /// weight's last rows. The weight's gradient has rows only at columns some row of x uses
    /// (and at the dense part's rows). x gets no gradient: it is data.
    public static func binaryLinear(
        _ rows: BinaryRows, dense: Variable? = nil, weight: Variable, bias: Variable?
    ) -> Variable {
        let sparseWidth = rows.width, denseWidth = dense?.shape[1] ?? 0
        precondition(
            weight.shape.count == 2 && weight.shape[0] == sparseWidth + denseWidth,
            "binaryLinear: weight \(weight.shape) must be [\(sparseWidth + denseWidth), out]")
        let out = weight.shape[1]
        precondition(dense.map { $0.shape == [rows.count, denseWidth] } ?? true, "binaryLinear: dense part's shape")
        precondition(bias.map { $0.shape == [out] } ?? true, "binaryLinear: bias must be [\(out)]")
        let batch = rows.count
        var y = Tensor.zeros([batch, out])
        let w = weight.value.storage.pointer, c = y.mutablePointer()
        nonisolated(unsafe) let yp = c
        nonisolated(unsafe) let biasValues = bias?.value.storage.pointer
        parallelRanges(batch, costPerItem: max(1, rows.columns.count / max(batch, 1)) * out) { range in
            for r in range {
                let row = yp + r * out
                if let biasValues { row.update(from: biasValues, count: out) }
                for k in rows.offsets[r]..<rows.offsets[r + 1] { sr_vaxpy(out, 1, w + Int(rows.columns[k]) * out, row) }
            }
        }
        if let dense, denseWidth > 0 {
            GEMM.multiply(
                transA: false, transB: false, m: batch, n: out, k: denseWidth, a: dense.value.storage.pointer,
                lda: denseWidth, b: w + sparseWidth * out, ldb: out, beta: 1, c: c, ldc: out)
        }
        let parents = [weight] + (bias.map { [$0] } ?? []) + (dense.map { [$0] } ?? [])
        return Variable(y, parents: parents) { g in
            var grads: [Tensor?] = []
            let gp = g.storage.pointer
            if weight.tracksGradient {
                var gw = Tensor.zeros(weight.shape)
                let d = gw.mutablePointer()
                for r in 0..<batch {
                    // The scatter of `embeddingLookup`'s backward pass.
                    for k in rows.offsets[r]..<rows.offsets[r + 1] {
                        sr_vaxpy(out, 1, gp + r * out, d + Int(rows.columns[k]) * out)
                    }
                }
                if let dense, denseWidth > 0 {
                    GEMM.multiply(
                        transA: true, transB: false, m: denseWidth, n: out, k: batch,
                        a: dense.value.storage.pointer, lda: denseWidth, b: gp, ldb: out, beta: 0,
                        c: d + sparseWidth * out, ldc: out)
                }
                grads.append(gw)
            } else {
                grads.append(nil)
            }
            if let bias { grads.append(bias.tracksGradient ? g.sum(axes: [0]) : nil) }
            if let dense {
                guard dense.tracksGradient else {
                    grads.append(nil)
                    return grads
                }
                var gd = Tensor(uninitializedShape: [batch, denseWidth])
                GEMM.multiply(
                    transA: false, transB: true, m: batch, n: denseWidth, k: out, a: gp, lda: out,
                    b: weight.value.storage.pointer + sparseWidth * out, ldb: out, beta: 0, c: gd.mutablePointer(),
                    ldc: denseWidth)
                grads.append(gd)
            }
            return grads
        }
    }
}
