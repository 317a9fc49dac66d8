/// Differentiable arithmetic, matrix products and reductions.
extension Variable {
    public static func + (a: Variable, b: Variable) -> Variable {
        Variable(a.value + b.value, parents: [a, b]) { g in
            [g.summed(toShape: a.shape), g.summed(toShape: b.shape)]
        }
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        Variable(a.value - b.value, parents: [a, b]) { g in
            [g.summed(toShape: a.shape), (-g).summed(toShape: b.shape)]
        }
    }

    public static func * (a: Variable, b: Variable) -> Variable {
        Variable(a.value * b.value, parents: [a, b]) { g in
            [
                a.tracksGradient ? (g * b.value).summed(toShape: a.shape) : nil,
                b.tracksGradient ? (g * a.value).summed(toShape: b.shape) : nil,
            ]
        }
    }

    public static func / (a: Variable, b: Variable) -> Variable {
        Variable(a.value / b.value, parents: [a, b]) { g in
            [
                a.tracksGradient ? (g / b.value).summed(toShape: a.shape) : nil,
                b.tracksGradient
                    ? Tensor.zip(g * a.value, b.value) { ga, bv in -ga / (bv * bv) }.summed(toShape: b.shape) : nil,
            ]
        }
    }

    public static func + (a: Variable, s: Float) -> Variable {
        Variable(a.value + s, parents: [a]) { g in [g] }
    }

    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }

    public static func * (a: Variable, s: Float) -> Variable {
        Variable(a.value * s, parents: [a]) { g in [g * s] }
    }

    public static func * (s: Float, a: Variable) -> Variable { a * s }

    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }

    public static prefix func - (a: Variable) -> Variable { a * -1 }

    // MARK: Matrix products

    /// The product of two matrices (rank 2), optionally transposing either.
    public func matmul(_ b: Variable, transposeSelf: Bool = false, transposeOther: Bool = false) -> Variable {
        let a = self
        let out = Tensor.matmul(a.value, b.value, transposeA: transposeSelf, transposeB: transposeOther)
        return Variable(out, parents: [a, b]) { g in
            // d(op(A)) = g·op(B)ᵀ, d(op(B)) = op(A)ᵀ·g, then undo each op.
            let ga: Tensor? =
                a.tracksGradient
                ? (transposeSelf
                    ? Tensor.matmul(b.value, g, transposeA: transposeOther, transposeB: true)
                    : Tensor.matmul(g, b.value, transposeA: false, transposeB: !transposeOther)) : nil
            let gb: Tensor? =
                b.tracksGradient
                ? (transposeOther
                    ? Tensor.matmul(g, a.value, transposeA: true, transposeB: transposeSelf)
                    : Tensor.matmul(a.value, g, transposeA: !transposeSelf, transposeB: false)) : nil
            return [ga, gb]
        }
    }

    /// Batched product of [batch, m, k] and [batch, k, n] (either optionally transposed).
    public func batchedMatmul(_ b: Variable, transposeSelf: Bool = false, transposeOther: Bool = false) -> Variable {
        let a = self
        let out = Tensor.batchedMatmul(a.value, b.value, transposeA: transposeSelf, transposeB: transposeOther)
        return Variable(out, parents: [a, b]) { g in
            let ga: Tensor? =
                a.tracksGradient
                ? (transposeSelf
                    ? Tensor.batchedMatmul(b.value, g, transposeA: transposeOther, transposeB: true)
                    : Tensor.batchedMatmul(g, b.value, transposeA: false, transposeB: !transposeOther)) : nil
            let gb: Tensor? =
                b.tracksGradient
                ? (transposeOther
                    ? Tensor.batchedMatmul(g, a.value, transposeA: true, transposeB: transposeSelf)
                    : Tensor.batchedMatmul(a.value, g, transposeA: !transposeSelf, transposeB: false)) : nil
            return [ga, gb]
        }
    }

    /// `x·Wᵀ + b` over the last dimension: x is [..., in], `weight` is [out, in], `bias` [out].
    public func linear(weight: Variable, bias: Variable?) -> Variable {
        let inFeatures = weight.shape[1]
        precondition(
            shape.last == inFeatures,
            "linear: input's last dimension \(shape.last ?? 0) differs from the weight's input size \(inFeatures) (weight \(weight.shape))"
        )
        let leading = Array(shape.dropLast())
        let flat = reshaped([-1, inFeatures])
        guard let bias else { return flat.matmul(weight, transposeOther: true).reshaped(leading + [weight.shape[0]]) }
        // The bias goes into C before the product (beta = 1): no separate pass over the output.
        let rows = flat.shape[0], outFeatures = weight.shape[0]
        precondition(bias.shape == [outFeatures], "linear: bias \(bias.shape) must be [\(outFeatures)]")
        var out = Tensor(uninitializedShape: [rows, outFeatures])
        nonisolated(unsafe) let c = out.mutablePointer(), b = bias.value.storage.pointer
        parallelRanges(rows, costPerItem: outFeatures) { range in
            for r in range { (c + r * outFeatures).update(from: b, count: outFeatures) }
        }
        GEMM.multiply(
            transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures, a: flat.value.storage.pointer,
            lda: inFeatures, b: weight.value.storage.pointer, ldb: inFeatures, beta: 1, c: c, ldc: outFeatures)
        let y = Variable(out, parents: [flat, weight, bias]) { g in
            [
                flat.tracksGradient ? Tensor.matmul(g, weight.value) : nil,
                weight.tracksGradient ? Tensor.matmul(g, flat.value, transposeA: true) : nil,
                bias.tracksGradient ? g.sum(axes: [0]) : nil,
            ]
        }
        return y.reshaped(leading + [outFeatures])
    }

    // MARK: Reductions

    /// Sum over `axes` (all when empty).
    public func sum(axes: [Int] = [], keepDims: Bool = false) -> Variable {
        let shape = self.shape
        let axes = axes.isEmpty ? Array(0..<shape.count) : axes
        let out = value.sum(axes: axes, keepDims: keepDims)
        let kept = value.sum(axes: axes, keepDims: true).shape
        return Variable(out, parents: [self]) { g in
            [g.reshaped(kept).expanded(to: shape)]
        }
    }

    /// Mean over `axes` (all when empty).
    public func mean(axes: [Int] = [], keepDims: Bool = false) -> Variable {
        let axes = axes.isEmpty ? Array(0..<shape.count) : axes
        let n = axes.map { shape[$0 < 0 ? $0 + shape.count : $0] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(max(n, 1)))
    }
}
