import CSwiftRecKernels
import Foundation

extension Tensor {
    /// Applies a buffer kernel to this tensor's elements, split over threads for large tensors.
    @inline(__always)
    func applying(
        cost: Int = 4, _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) -> Tensor {
        var out = Tensor(uninitializedShape: shape)
        nonisolated(unsafe) let src = storage.pointer
        nonisolated(unsafe) let dst = out.mutablePointer()
        parallelRanges(count, costPerItem: cost) { r in kernel(src + r.lowerBound, dst + r.lowerBound, r.count) }
        return out
    }

    /// Combines two same-shaped tensors with a buffer kernel, split over threads.
    @inline(__always)
    static func combining(
        _ a: Tensor, _ b: Tensor, cost: Int = 4,
        _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) -> Tensor {
        precondition(a.count == b.count, "shapes \(a.shape) and \(b.shape) differ")
        var out = Tensor(uninitializedShape: a.shape)
        nonisolated(unsafe) let pa = a.storage.pointer
        nonisolated(unsafe) let pb = b.storage.pointer
        nonisolated(unsafe) let po = out.mutablePointer()
        parallelRanges(a.count, costPerItem: cost) { r in
            kernel(pa + r.lowerBound, pb + r.lowerBound, po + r.lowerBound, r.count)
        }
        return out
    }
}

/// Differentiable elementwise functions and the last-axis softmax family.
extension Variable {
    public func exp() -> Variable {
        let y = value.applying(cost: 8) { sr_vexp($0, $1, $2) }
        return Variable(y, parents: [self]) { g in [g * y] }
    }

    public func log() -> Variable {
        let x = value
        let y = x.applying(cost: 16) { s, d, n in for i in 0..<n { d[i] = logf(s[i]) } }
        return Variable(y, parents: [self]) { g in [g / x] }
    }

    public func sqrt() -> Variable {
        let y = value.map { $0.squareRoot() }
        return Variable(y, parents: [self]) { g in [Tensor.zip(g, y) { gv, yv in gv * 0.5 / yv }] }
    }

    /// Elementwise power with a constant exponent.
    public func pow(_ p: Float) -> Variable {
        let x = value
        let y = x.applying(cost: 16) { s, d, n in for i in 0..<n { d[i] = powf(s[i], p) } }
        return Variable(y, parents: [self]) { g in
            [Tensor.zip(g, x) { gv, xv in gv * p * powf(xv, p - 1) }]
        }
    }

    public func relu() -> Variable {
        let x = value
        let y = x.applying(cost: 1) { sr_vrelu($0, $1, $2) }
        return Variable(y, parents: [self]) { g in
            [Tensor.combining(g, x, cost: 1) { gp, xp, d, n in reluBackward(gp, xp, d, n) }]
        }
    }

    /// PReLU (He et al. 2015), as PyTorch's `nn.PReLU(width)`: x where x > 0, else
    /// `slope[j]` · x in column j. `slope` is [width], this [rows, width]; the slope's gradient
    /// sums over rows in row order, so it has the same bits on any thread count.
    public func prelu(slope: Variable) -> Variable {
        let x = value, slopes = slope.value, width = slopes.count
        precondition(
            slopes.rank == 1 && width > 0 && x.shape.last == width,
            "prelu: slope \(slopes.shape) does not match the last axis of \(x.shape)")
        let rows = x.count / width
        var y = Tensor(uninitializedShape: x.shape)
        nonisolated(unsafe) let xp = x.storage.pointer, sp = slopes.storage.pointer, yp = y.mutablePointer()
        parallelRanges(rows, costPerItem: width) { range in
            for r in range { preluRow(xp + r * width, sp, yp + r * width, width) }
        }
        return Variable(y, parents: [self, slope]) { g in
            // Rows in fixed chunks, each summing the slope's gradient into its own row of
            // `partial`; the chunks are then added in order: the same bits on any thread count.
            let chunkRows = 256, chunks = (rows + chunkRows - 1) / chunkRows
            var dx = Tensor(uninitializedShape: x.shape)
            var partial = Tensor.zeros([max(chunks, 1), width])
            // Pointers taken here, from the tensors the closure holds, so they outlive the work.
            nonisolated(unsafe) let xp = x.storage.pointer, sp = slopes.storage.pointer, gp = g.storage.pointer
            nonisolated(unsafe) let dp = dx.mutablePointer(), pp = partial.mutablePointer()
            parallelRanges(chunks, costPerItem: chunkRows * width) { range in
                for chunk in range {
                    for r in (chunk * chunkRows)..<min(rows, (chunk + 1) * chunkRows) {
                        let o = r * width
                        preluBackwardRow(xp + o, gp + o, sp, dp + o, pp + chunk * width, width)
                    }
                }
            }
            return [dx, partial.sum(axes: [0])]
        }
    }

    /// GELU with the exact Gaussian CDF (PyTorch's default, `approximate='none'`).
    public func gelu() -> Variable {
        let x = value
        let y = x.applying(cost: 16) { sr_vgelu($0, $1, $2) }
        return Variable(y, parents: [self]) { g in
            [Tensor.combining(x, g, cost: 16) { xp, gp, d, n in sr_vgelu_backward(xp, gp, d, n) }]
        }
    }

    public func sigmoid() -> Variable {
        let y = value.applying(cost: 8) { sr_vsigmoid($0, $1, $2) }
        return Variable(y, parents: [self]) { g in
            [Tensor.combining(g, y, cost: 1) { gp, yp, d, n in for i in 0..<n { d[i] = gp[i] * yp[i] * (1 - yp[i]) } }]
        }
    }

    public func tanh() -> Variable {
        let y = value.applying(cost: 8) { sr_vtanh($0, $1, $2) }
        return Variable(y, parents: [self]) { g in
            [Tensor.combining(g, y, cost: 1) { gp, yp, d, n in for i in 0..<n { d[i] = gp[i] * (1 - yp[i] * yp[i]) } }]
        }
    }

    /// Softmax over the last axis.
    public func softmax() -> Variable {
        let y = value.softmaxLastAxis()
        let cols = shape.last ?? 1
        return Variable(y, parents: [self]) { g in
            var dx = Tensor(uninitializedShape: y.shape)
            nonisolated(unsafe) let gp = g.storage.pointer, yp = y.storage.pointer, dp = dx.mutablePointer()
            parallelRanges(y.count / max(cols, 1), costPerItem: cols * 3) { rows in
                for r in rows {
                    let o = r * cols
                    let dot = sr_vdot(gp + o, yp + o, cols)
                    for j in 0..<cols { dp[o + j] = yp[o + j] * (gp[o + j] - dot) }
                }
            }
            return [dx]
        }
    }

    /// Log-softmax over the last axis.
    public func logSoftmax() -> Variable {
        let y = value.logSoftmaxLastAxis()
        let cols = shape.last ?? 1
        return Variable(y, parents: [self]) { g in
            var dx = Tensor(uninitializedShape: y.shape)
            nonisolated(unsafe) let gp = g.storage.pointer, yp = y.storage.pointer, dp = dx.mutablePointer()
            parallelRanges(y.count / max(cols, 1), costPerItem: cols * 8) { rows in
                for r in rows {
                    let o = r * cols
                    var s: Float = 0
                    for j in 0..<cols { s += gp[o + j] }
                    sr_vexp(yp + o, dp + o, cols)
                    for j in 0..<cols { dp[o + j] = gp[o + j] - dp[o + j] * s }
                }
            }
            return [dx]
        }
    }
}

extension Tensor {
    /// Softmax over the last axis, numerically stable (max subtracted).
    public func softmaxLastAxis() -> Tensor {
        let cols = shape.last ?? 1
        var out = self
        out.withUnsafeMutableBufferPointer { _ in }
        nonisolated(unsafe) let p = out.mutablePointer()
        parallelRanges(count / max(cols, 1), costPerItem: cols * 8) { rows in
            for r in rows {
                let row = p + r * cols
                let m = sr_vmax(row, cols)
                let s = sr_vexp_shift_sum(row, cols, m)
                sr_vscale(row, cols, 1 / s)
            }
        }
        return out
    }

    /// Log-softmax over the last axis.
    public func logSoftmaxLastAxis() -> Tensor {
        let cols = shape.last ?? 1
        var out = Tensor(uninitializedShape: shape)
        nonisolated(unsafe) let src = storage.pointer, dst = out.mutablePointer()
        parallelRanges(count / max(cols, 1), costPerItem: cols * 8) { rows in
            for r in rows {
                let x = src + r * cols, y = dst + r * cols
                let m = sr_vmax(x, cols)
                for j in 0..<cols { y[j] = x[j] }
                let s = sr_vexp_shift_sum(y, cols, m)
                let lse = m + logf(s)
                for j in 0..<cols { y[j] = x[j] - lse }
            }
        }
        return out
    }
}

/// One row of PReLU: y = x > 0 ? x : slope · x, eight columns at a time.
private func preluRow(
    _ x: UnsafePointer<Float>, _ slope: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ width: Int
) {
    var j = 0
    let zero = SIMD8<Float>(repeating: 0)
    while j + 8 <= width {
        let v = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        let s = UnsafeRawPointer(slope + j).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + j).storeBytes(
            of: (s * v).replacing(with: v, where: v .> zero), as: SIMD8<Float>.self)
        j += 8
    }
    while j < width {
        y[j] = x[j] > 0 ? x[j] : slope[j] * x[j]
        j += 1
    }
}

/// One row of PReLU's backward pass: dx = g where x > 0, else slope · g; and g · x added to
/// `slopeSums` where x ≤ 0, eight columns at a time (each column's sum still in row order).
private func preluBackwardRow(
    _ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ slope: UnsafePointer<Float>,
    _ dx: UnsafeMutablePointer<Float>, _ slopeSums: UnsafeMutablePointer<Float>, _ width: Int
) {
    var j = 0
    let zero = SIMD8<Float>(repeating: 0)
    while j + 8 <= width {
        let v = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        let gv = UnsafeRawPointer(g + j).loadUnaligned(as: SIMD8<Float>.self)
        let s = UnsafeRawPointer(slope + j).loadUnaligned(as: SIMD8<Float>.self)
        let positive = v .> zero
        UnsafeMutableRawPointer(dx + j).storeBytes(
            of: (s * gv).replacing(with: gv, where: positive), as: SIMD8<Float>.self)
        let sums = UnsafeMutableRawPointer(slopeSums + j)
        sums.storeBytes(
            of: sums.loadUnaligned(as: SIMD8<Float>.self) + (gv * v).replacing(with: zero, where: positive),
            as: SIMD8<Float>.self)
        j += 8
    }
    while j < width {
        let v = x[j], gv = g[j]
        dx[j] = v > 0 ? gv : slope[j] * gv
        slopeSums[j] += v > 0 ? 0 : gv * v
        j += 1
    }
}

/// `d[i] = x[i] > 0 ? g[i] : 0`, eight at a time: written as a per-element branch, half the
/// branches mispredict on a ReLU's inputs.
private func reluBackward(
    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int
) {
    var i = 0
    let zero = SIMD8<Float>(repeating: 0)
    while i + 8 <= n {
        let xs = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let gs = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(d + i).storeBytes(
            of: zero.replacing(with: gs, where: xs .> zero), as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        d[i] = x[i] > 0 ? g[i] : 0
        i += 1
    }
}
