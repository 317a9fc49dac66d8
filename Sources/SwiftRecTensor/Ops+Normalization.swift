import CSwiftRecKernels

/// Layer normalisation, dropout and embedding lookup.
extension Variable {
    /// Normalises over the last axis, then scales by `gamma` and shifts by `beta` (both [d]).
    public func layerNorm(gamma: Variable, beta: Variable, epsilon: Float = 1e-5) -> Variable {
        let d = shape.last ?? 1
        precondition(
            gamma.shape == [d] && beta.shape == [d],
            "layerNorm: gamma \(gamma.shape) and beta \(beta.shape) must be [\(d)] for input \(shape)")
        let rows = value.count / max(d, 1)
        let x = value
        var y = Tensor(uninitializedShape: shape)
        var xhat = Tensor(uninitializedShape: shape)
        var rstd = Tensor(uninitializedShape: [rows])
        do {
            nonisolated(unsafe) let xp = x.storage.pointer, yp = y.mutablePointer(), hp = xhat.mutablePointer()
            nonisolated(unsafe) let rp = rstd.mutablePointer()
            nonisolated(unsafe) let gp = gamma.value.storage.pointer, bp = beta.value.storage.pointer
            parallelRanges(rows, costPerItem: d * 6) { range in
                let first = range.lowerBound * d
                sr_layer_norm_rows(
                    xp + first, range.count, d, gp, bp, epsilon, yp + first, hp + first, rp + range.lowerBound)
            }
        }
        let threads = Threading.threadCount
        return Variable(y, parents: [self, gamma, beta]) { g in
            var dx = Tensor(uninitializedShape: x.shape)
            // One partial sum per worker for dgamma/dbeta, added up afterwards.
            var partial = Tensor.zeros([threads, 2, d])
            nonisolated(unsafe) let gp = g.storage.pointer, hp = xhat.storage.pointer, rp = rstd.storage.pointer
            nonisolated(unsafe) let wp = gamma.value.storage.pointer, dp = dx.mutablePointer()
            nonisolated(unsafe) let pp = partial.mutablePointer()
            let chunk = (rows + threads - 1) / max(threads, 1)
            parallelRanges(threads, costPerItem: chunk * d * 8, threads: threads) { workers in
                for w in workers {
                    let lo = w * chunk, hi = min(rows, lo + chunk)
                    guard lo < hi else { continue }
                    let dgamma = pp + w * 2 * d, dbeta = dgamma + d
                    for r in lo..<hi {
                        let gr = gp + r * d, hr = hp + r * d, dr = dp + r * d
                        var sum1: Float = 0, sum2: Float = 0
                        for j in 0..<d {
                            let gh = gr[j] * wp[j]
                            sum1 += gh
                            sum2 += gh * hr[j]
                            dgamma[j] += gr[j] * hr[j]
                            dbeta[j] += gr[j]
                        }
                        let inv = rp[r], m1 = sum1 / Float(d), m2 = sum2 / Float(d)
                        for j in 0..<d { dr[j] = inv * (gr[j] * wp[j] - m1 - hr[j] * m2) }
                    }
                }
            }
            let sums = partial.sum(axes: [0])
            return [dx, sums.slice(axis: 0, 0..<1).reshaped([d]), sums.slice(axis: 0, 1..<2).reshaped([d])]
        }
    }

    /// Zeroes each element with probability `p` and scales the rest by 1/(1-p) when
    /// `training`; the identity otherwise.
    public func dropout(_ p: Float, training: Bool, generator: inout SeededGenerator) -> Variable {
        precondition(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
        guard training, p > 0 else { return self }
        let (y, mask) = dropoutPass(p, seed: generator.next(), input: value, appliesReLU: false, keepsMask: true)
        return Variable(y, parents: [self]) { g in
            [Tensor.combining(g, mask!, cost: 1) { a, b, d, n in for i in 0..<n { d[i] = a[i] * b[i] } }]
        }
    }

    /// `relu()` followed by `dropout(p, …)` in one pass each way, drawing the same mask from the
    /// same generator, so the values (and every seeded result) are those of the two calls. It
    /// stores no mask: an output above zero is exactly an element both kept and positive.
    public func reluDropout(_ p: Float, training: Bool, generator: inout SeededGenerator) -> Variable {
        precondition(p >= 0 && p < 1, "reluDropout: probability must be in [0, 1), got \(p)")
        guard training, p > 0 else { return relu() }
        let (y, _) = dropoutPass(p, seed: generator.next(), input: value, appliesReLU: true, keepsMask: false)
        let scale = 1 / (1 - p)
        return Variable(y, parents: [self]) { g in
            [Tensor.combining(g, y, cost: 1) { gp, yp, d, n in keptPositiveBackward(gp, yp, scale, d, n) }]
        }
    }

    /// Rows of this [count, dim] table picked by `indices` (shape `indexShape`), giving
    /// `indexShape + [dim]`. Rows at `paddingIndex` read as stored and get no gradient.
    public func embeddingLookup(_ indices: [Int32], indexShape: [Int]? = nil, paddingIndex: Int? = nil) -> Variable {
        precondition(rank == 2, "embeddingLookup: the table must be [count, dim], got \(shape)")
        let rows = shape[0], dim = shape[1]
        let outShape = (indexShape ?? [indices.count]) + [dim]
        precondition(
            outShape.dropLast().reduce(1, *) == indices.count,
            "embeddingLookup: index shape \(indexShape ?? []) does not hold \(indices.count) indices")
        var out = Tensor(uninitializedShape: outShape)
        nonisolated(unsafe) let table = value.storage.pointer, dst = out.mutablePointer()
        indices.withUnsafeBufferPointer { ip in
            nonisolated(unsafe) let ip = ip
            parallelRanges(indices.count, costPerItem: dim) { range in
                for i in range {
                    let index = ip[i]
                    precondition(
                        index >= 0 && Int(index) < rows,
                        "embeddingLookup: index \(index) at position \(i) is outside 0..<\(rows)")
                    copyRow(from: table + Int(index) * dim, to: dst + i * dim, dim)
                }
            }
        }
        let tableShape = shape
        return Variable(out, parents: [self]) { g in
            var grad = Tensor(uninitializedShape: tableShape)
            nonisolated(unsafe) let gp = grad.mutablePointer(), src = g.storage.pointer
            indices.withUnsafeBufferPointer { ip in
                nonisolated(unsafe) let ip = ip
                // Each thread owns a block of table rows and adds the positions that name them
                // in position order: repeated indices accumulate in the same order, so the bits
                // do not depend on the thread count. Every thread reads all the positions.
                parallelRanges(rows, costPerItem: dim + indices.count * dim / max(rows, 1)) { owned in
                    (gp + owned.lowerBound * dim).update(repeating: 0, count: owned.count * dim)
                    for (i, index) in ip.enumerated() {
                        let r = Int(index)
                        guard owned.contains(r), r != paddingIndex else { continue }
                        addRow(src + i * dim, into: gp + r * dim, dim)
                    }
                }
            }
            return [grad]
        }
    }

    var rank: Int { shape.count }
}

/// `input` (after ReLU when `appliesReLU`) times a keep scale of 1/(1-p) or 0 per element,
/// and the scales themselves when `keepsMask`. The draws come in fixed chunks of 65,536
/// elements seeded from `seed` and the chunk's index, each 64-bit number giving four 16-bit
/// draws: the mask depends on the seed only, not on the thread count.
private func dropoutPass(
    _ p: Float, seed base: UInt64, input: Tensor, appliesReLU: Bool, keepsMask: Bool
) -> (output: Tensor, mask: Tensor?) {
    let scale = 1 / (1 - p)
    // 16-bit draws: a keep probability resolution of 1/65536 is plenty for dropout.
    let threshold = UInt64(min(65_535, (Double(p) * 65_536).rounded()))
    let chunk = 65_536
    let n = input.count
    var output = Tensor(uninitializedShape: input.shape)
    var mask = keepsMask ? Tensor(uninitializedShape: input.shape) : nil
    nonisolated(unsafe) let m = mask?.mutablePointer()
    nonisolated(unsafe) let out = output.mutablePointer()
    nonisolated(unsafe) let x = input.storage.pointer
    parallelRanges((n + chunk - 1) / chunk, costPerItem: chunk) { chunks in
        for c in chunks {
            var local = SeededGenerator(seed: base &+ UInt64(c) &* 0x9E37_79B9_7F4A_7C15)
            var i = c * chunk
            let end = min(n, i + chunk)
            // Four draws per 64-bit number, compared as one vector: a per-element branch on
            // a random bit mispredicts one time in five and cost 4x the time.
            let limit = SIMD4<UInt32>(repeating: UInt32(threshold)), keepValue = SIMD4<Float>(repeating: scale)
            let lanes = SIMD4<UInt64>(0, 16, 32, 48)
            let zero = SIMD4<Float>(repeating: 0)
            while i + 4 <= end {
                let r = SIMD4<UInt64>(repeating: local.next())
                let draws = SIMD4<UInt32>(truncatingIfNeeded: (r &>> lanes) & 0xFFFF)
                let keep = zero.replacing(with: keepValue, where: draws .>= limit)
                if let m { UnsafeMutableRawPointer(m + i).storeBytes(of: keep, as: SIMD4<Float>.self) }
                var xs = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD4<Float>.self)
                if appliesReLU { xs = pointwiseMax(xs, zero) }
                UnsafeMutableRawPointer(out + i).storeBytes(of: xs * keep, as: SIMD4<Float>.self)
                i += 4
            }
            if i < end {
                var r = local.next()
                for j in i..<end {
                    let keep: Float = (r & 0xFFFF) >= threshold ? scale : 0
                    m?[j] = keep
                    out[j] = (appliesReLU ? Swift.max(x[j], 0) : x[j]) * keep
                    r >>= 16
                }
            }
        }
    }
    return (output, mask)
}

/// The gradient of ReLU then dropout from the output `y`: `g` times the keep scale where `y` is
/// above zero (kept and positive), zero elsewhere.
private func keptPositiveBackward(
    _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ scale: Float, _ d: UnsafeMutablePointer<Float>, _ n: Int
) {
    var i = 0
    let zero = SIMD8<Float>(repeating: 0), scales = SIMD8<Float>(repeating: scale)
    while i + 8 <= n {
        let ys = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        let gs = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(d + i).storeBytes(
            of: zero.replacing(with: gs * scales, where: ys .> zero), as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        d[i] = y[i] > 0 ? g[i] * scale : 0
        i += 1
    }
}

/// dst[0..<n] = src[0..<n], eight at a time (embedding rows are short: a call to memmove per
/// row cost more than the copy).
@inline(__always)
private func copyRow(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n {
        UnsafeMutableRawPointer(dst + j).storeBytes(
            of: UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        j += 8
    }
    while j < n {
        dst[j] = src[j]
        j += 1
    }
}

/// y[0..<n] += x[0..<n], eight at a time.
@inline(__always)
private func addRow(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n {
        let sum =
            UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self)
            + UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + j).storeBytes(of: sum, as: SIMD8<Float>.self)
        j += 8
    }
    while j < n {
        y[j] += x[j]
        j += 1
    }
}
