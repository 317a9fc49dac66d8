import CSwiftRecKernels
import Foundation

/// Loss functions. Each returns a scalar mean over the counted rows.
extension Variable {
    /// Softmax cross-entropy of `self` ([rows, classes] logits) against class `targets`.
    ///
    /// Rows whose target equals `ignoreIndex` count neither in the loss nor in the mean.
    /// With `labelSmoothing` ε the target distribution is (1-ε)·onehot + ε/classes.
    public func crossEntropy(targets: [Int32], ignoreIndex: Int32? = nil, labelSmoothing: Float = 0) -> Variable {
        precondition(rank == 2, "crossEntropy: logits must be [rows, classes], got \(shape)")
        let rows = shape[0], classes = shape[1]
        precondition(targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows")
        let logits = value
        var lse = [Float](repeating: 0, count: rows)
        var total: Double = 0
        var counted = 0
        let p = logits.storage.pointer
        for r in 0..<rows {
            let t = targets[r]
            if t == ignoreIndex { continue }
            precondition(t >= 0 && Int(t) < classes, "crossEntropy: target \(t) in row \(r) is outside 0..<\(classes)")
            let row = p + r * classes
            lse[r] = Tensor.logSumExp(row, classes)
            var loss = (1 - labelSmoothing) * (lse[r] - row[Int(t)])
            if labelSmoothing > 0 {
                var s: Float = 0
                for j in 0..<classes { s += row[j] }
                loss += labelSmoothing * (lse[r] - s / Float(classes))
            }
            total += Double(loss)
            counted += 1
        }
        let n = Float(max(counted, 1))
        return Variable(Tensor(scalar: Float(total) / n), parents: [self]) { g in
            let scale = g.scalar / n
            let p = logits.storage.pointer
            var dx = Tensor.zeros([rows, classes])
            dx.withUnsafeMutableBufferPointer { d in
                for r in 0..<rows where targets[r] != ignoreIndex {
                    let dr = d.baseAddress! + r * classes, row = p + r * classes
                    for j in 0..<classes { dr[j] = row[j] - lse[r] }
                    sr_vexp(dr, dr, classes)
                    for j in 0..<classes { dr[j] = (dr[j] - labelSmoothing / Float(classes)) * scale }
                    dr[Int(targets[r])] -= (1 - labelSmoothing) * scale
                }
            }
            return [dx]
        }
    }

    /// Binary cross-entropy on logits against targets in [0, 1] (same shape).
    public func binaryCrossEntropyWithLogits(targets: Tensor) -> Variable {
        precondition(
            targets.shape == shape, "binaryCrossEntropyWithLogits: targets \(targets.shape) vs logits \(shape)")
        let x = value
        let n = Float(max(x.count, 1))
        var total: Double = 0
        let xp = x.storage.pointer, tp = targets.storage.pointer
        for i in 0..<x.count {
            let v = xp[i]
            total += Double(Swift.max(v, 0) - v * tp[i] + log1pf(expf(-abs(v))))
        }
        return Variable(Tensor(scalar: Float(total) / n), parents: [self]) { g in
            let scale = g.scalar / n
            return [Tensor.zip(x, targets) { v, t in (1 / (1 + expf(-v)) - t) * scale }]
        }
    }

    /// Mean squared error against `targets` (same shape).
    public func meanSquaredError(targets: Tensor) -> Variable {
        precondition(targets.shape == shape, "meanSquaredError: targets \(targets.shape) vs predictions \(shape)")
        let diff = value - targets
        let n = Float(max(diff.count, 1))
        let loss = diff.withUnsafeBufferPointer { p in p.reduce(Float(0)) { $0 + $1 * $1 } } / n
        return Variable(Tensor(scalar: loss), parents: [self]) { g in [diff * (2 * g.scalar / n)] }
    }

    /// Cross-entropy of `self·weightᵀ (+ bias)` over all classes, without materialising the
    /// [rows, classes] logits: rows are processed in blocks that stay in cache, and the
    /// gradients are formed in the same pass. The result equals
    /// `linear(weight:bias:).crossEntropy(targets:…)`.
    ///
    /// `self` is [rows, d], `weight` is [classes, d], `bias` is [classes].
    public func linearCrossEntropy(
        weight: Variable, bias: Variable? = nil, targets: [Int32], ignoreIndex: Int32? = nil,
        labelSmoothing: Float = 0, blockRows: Int = 256
    ) -> Variable {
        precondition(
            rank == 2 && weight.rank == 2,
            "linearCrossEntropy: hidden \(shape) and weight \(weight.shape) must be matrices")
        let rows = shape[0], d = shape[1], classes = weight.shape[0]
        precondition(weight.shape[1] == d, "linearCrossEntropy: hidden size \(d) differs from weight \(weight.shape)")
        precondition(targets.count == rows, "linearCrossEntropy: \(targets.count) targets for \(rows) rows")
        if let bias {
            precondition(bias.shape == [classes], "linearCrossEntropy: bias \(bias.shape) must be [\(classes)]")
        }
        for (r, t) in targets.enumerated() where t != ignoreIndex {
            precondition(
                t >= 0 && Int(t) < classes, "linearCrossEntropy: target \(t) in row \(r) is outside 0..<\(classes)")
        }
        let counted = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
        let wantGrad =
            GradMode.isEnabled && (tracksGradient || weight.tracksGradient || (bias?.tracksGradient ?? false))
        let scale = 1 / Float(max(counted, 1))
        let threads = Threading.threadCount
        let blocks = (rows + blockRows - 1) / blockRows

        var dHidden = wantGrad ? Tensor.zeros([rows, d]) : Tensor.zeros([0])
        // One weight/bias gradient per worker, summed at the end.
        var dWeight = wantGrad ? Tensor.zeros([threads, classes, d]) : Tensor.zeros([0])
        var dBias = wantGrad ? Tensor.zeros([threads, classes]) : Tensor.zeros([0])
        var losses = [Double](repeating: 0, count: threads)
        var scratch = Tensor(uninitializedShape: [threads, blockRows * classes])
        do {
            nonisolated(unsafe) let hp = value.storage.pointer, wp = weight.value.storage.pointer
            nonisolated(unsafe) let bp = bias?.value.storage.pointer
            nonisolated(unsafe) let dhp = dHidden.mutablePointer(), dwp = dWeight.mutablePointer()
            nonisolated(unsafe) let dbp = dBias.mutablePointer(), sp = scratch.mutablePointer()
            let targetsCopy = targets
            nonisolated(unsafe) var lossSlots = losses
            lossSlots.withUnsafeMutableBufferPointer { lossBuffer in
                nonisolated(unsafe) let lossBuffer = lossBuffer
                DispatchQueue.concurrentPerform(iterations: threads) { w in
                    let logits = sp + w * blockRows * classes
                    var loss: Double = 0
                    var block = w
                    while block < blocks {
                        let r0 = block * blockRows, n = min(blockRows, rows - r0)
                        GEMM.multiply(
                            transA: false, transB: true, m: n, n: classes, k: d, a: hp + r0 * d, lda: d, b: wp, ldb: d,
                            c: logits, ldc: classes, backend: .native, threads: 1)
                        for i in 0..<n {
                            let row = logits + i * classes
                            if let bp { for j in 0..<classes { row[j] += bp[j] } }
                            let t = targetsCopy[r0 + i]
                            if t == ignoreIndex {
                                if wantGrad { row.update(repeating: 0, count: classes) }
                                continue
                            }
                            let m = sr_vmax(row, classes)
                            var smoothed: Float = 0
                            if labelSmoothing > 0 { for j in 0..<classes { smoothed += row[j] } }
                            let target = row[Int(t)]
                            let s = sr_vexp_shift_sum(row, classes, m)
                            let lse = m + logf(s)
                            loss += Double((1 - labelSmoothing) * (lse - target))
                            if labelSmoothing > 0 { loss += Double(labelSmoothing * (lse - smoothed / Float(classes))) }
                            if wantGrad {
                                // row now holds exp(x - m); turn it into the gradient of the mean loss.
                                sr_vscale(row, classes, scale / s)
                                if labelSmoothing > 0 {
                                    let shift = labelSmoothing / Float(classes) * scale
                                    for j in 0..<classes { row[j] -= shift }
                                }
                                row[Int(t)] -= (1 - labelSmoothing) * scale
                            }
                        }
                        if wantGrad {
                            GEMM.multiply(
                                transA: false, transB: false, m: n, n: d, k: classes, a: logits, lda: classes, b: wp,
                                ldb: d,
                                c: dhp + r0 * d, ldc: d, backend: .native, threads: 1)
                            GEMM.multiply(
                                transA: true, transB: false, m: classes, n: d, k: n, a: logits, lda: classes,
                                b: hp + r0 * d,
                                ldb: d, beta: 1, c: dwp + w * classes * d, ldc: d, backend: .native, threads: 1)
                            if bp != nil {
                                let db = dbp + w * classes
                                for i in 0..<n { sr_vaxpy(classes, 1, logits + i * classes, db) }
                            }
                        }
                        block += threads
                    }
                    lossBuffer[w] = loss
                }
            }
            losses = lossSlots
            withExtendedLifetime(scratch) {}
        }
        let meanLoss = Float(losses.reduce(0, +)) * scale
        guard wantGrad else { return Variable(Tensor(scalar: meanLoss)) }
        let gradWeight = dWeight.sum(axes: [0])
        let gradBias = dBias.sum(axes: [0])
        let parents = [self, weight] + (bias.map { [$0] } ?? [])
        return Variable(Tensor(scalar: meanLoss), parents: parents) { g in
            let s = g.scalar
            let grads: [Tensor?] = [dHidden * s, gradWeight * s, gradBias * s]
            return Array(grads.prefix(parents.count))
        }
    }
}

extension Tensor {
    static func logSumExp(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = sr_vmax(row, n)
        var s: Float = 0
        for j in 0..<n { s += expf(row[j] - m) }
        return m + logf(s)
    }
}
