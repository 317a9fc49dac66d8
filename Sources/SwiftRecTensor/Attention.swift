import CSwiftRecKernels
import Foundation

extension Variable {
    /// The query rows the attention products take at once: all of them, or with `causal`,
    /// blocks of 32 (each block's keys stop at its last row).
    static func queryBlocks(length: Int, causal: Bool) -> [Range<Int>] {
        guard causal else { return [0..<length] }
        return stride(from: 0, to: length, by: 32).map { $0..<min(length, $0 + 32) }
    }

    /// Multi-head scaled dot-product attention as one fused operation.
    ///
    /// `query`, `key` and `value` are [batch, length, heads·headDim]; head h reads columns
    /// h·headDim..<(h+1)·headDim, so no transposes are needed. With `causal`, position i
    /// attends to positions ≤ i. `keyPaddingMask` ([batch, length], non-zero = padding)
    /// hides padded keys. Attention-weight dropout uses `dropoutSeed` so results repeat.
    /// Returns [batch, length, heads·headDim].
    public static func attention(
        query: Variable, key: Variable, value: Variable, heads: Int, causal: Bool,
        keyPaddingMask: Tensor? = nil, dropout: Float = 0, dropoutSeed: UInt64 = 0
    ) -> Variable {
        let shape = query.shape
        precondition(
            shape.count == 3 && key.shape == shape && value.shape == shape,
            "attention: query \(query.shape), key \(key.shape) and value \(value.shape) must be one [batch, length, dim] shape"
        )
        let batch = shape[0], length = shape[1], dim = shape[2]
        precondition(heads > 0 && dim % heads == 0, "attention: dim \(dim) is not divisible by \(heads) heads")
        if let keyPaddingMask {
            precondition(
                keyPaddingMask.shape == [batch, length],
                "attention: keyPaddingMask \(keyPaddingMask.shape) must be [\(batch), \(length)]")
        }
        let headDim = dim / heads
        let scale = 1 / Float(headDim).squareRoot()
        let pairs = batch * heads
        let square = length * length
        let keepScale = dropout > 0 ? 1 / (1 - dropout) : 1
        let threshold = UInt32(Double(dropout) * Double(UInt32.max))

        var probabilities = Tensor(uninitializedShape: [batch, heads, length, length])
        // Attention weights after dropout, kept only when dropout is on.
        var dropped: Tensor? = dropout > 0 ? Tensor(uninitializedShape: [batch, heads, length, length]) : nil
        var output = Tensor(uninitializedShape: shape)
        do {
            nonisolated(unsafe) let qp = query.value.storage.pointer, kp = key.value.storage.pointer
            nonisolated(unsafe) let vp = value.value.storage.pointer, pp = probabilities.mutablePointer()
            nonisolated(unsafe) let dp = dropped?.mutablePointer(), op = output.mutablePointer()
            nonisolated(unsafe) let mp = keyPaddingMask?.storage.pointer
            // Causal: a block of rows sees only the keys up to its last row, so the products
            // right of that are skipped (about 40 % of them at length 200).
            let blocks = Self.queryBlocks(length: length, causal: causal)
            parallelRanges(pairs, costPerItem: square * headDim * 4) { range in
                // This head's keys transposed and scaled, [headDim, length], so the scores are
                // a plain product read in place (sr_sgemm_direct).
                var scaledKeys = [Float](repeating: 0, count: headDim * length)
                for pair in range {
                    let b = pair / heads, h = pair % heads
                    let base = b * length * dim + h * headDim
                    let scores = pp + pair * square
                    scaledKeys.withUnsafeMutableBufferPointer { kt in
                        sr_transpose_scaled(kp + base, length, headDim, dim, scale, kt.baseAddress, length)
                        for rows in blocks {
                            sr_sgemm_direct(
                                rows.count, causal ? rows.upperBound : length, headDim,
                                qp + base + rows.lowerBound * dim, dim, kt.baseAddress, length,
                                scores + rows.lowerBound * length, length)
                        }
                    }
                    // The padded keys of this sequence, found once rather than on every row.
                    var padded: [Int] = []
                    if let mp { for j in 0..<length where mp[b * length + j] != 0 { padded.append(j) } }
                    for i in 0..<length {
                        let row = scores + i * length
                        // Keys a causal row cannot see get weight exactly 0, without an exponential.
                        let visible = causal ? i + 1 : length
                        for j in padded where j < visible { row[j] = -1e9 }
                        let m = sr_vmax(row, visible)
                        let s = sr_vexp_shift_sum(row, visible, m)
                        sr_vscale(row, visible, 1 / s)
                        if visible < length { (row + visible).update(repeating: 0, count: length - visible) }
                    }
                    var weights = UnsafePointer(scores)
                    if let dp {
                        var generator = SeededGenerator(seed: dropoutSeed &+ UInt64(pair) &* 0x9E37_79B9_7F4A_7C15)
                        let target = dp + pair * square
                        for i in 0..<length {
                            let row = scores + i * length, out = target + i * length
                            // Causal rows have zero weight beyond the diagonal: no draws needed there.
                            let limit = causal ? i + 1 : length
                            var j = 0
                            while j < limit {
                                let r = generator.next()
                                out[j] = UInt32(truncatingIfNeeded: r) >= threshold ? row[j] * keepScale : 0
                                if j + 1 < limit {
                                    out[j + 1] =
                                        UInt32(truncatingIfNeeded: r >> 32) >= threshold ? row[j + 1] * keepScale : 0
                                }
                                j += 2
                            }
                            if limit < length { (out + limit).update(repeating: 0, count: length - limit) }
                        }
                        weights = UnsafePointer(target)
                    }
                    for rows in blocks {
                        sr_sgemm_direct(
                            rows.count, headDim, causal ? rows.upperBound : length, weights + rows.lowerBound * length,
                            length, vp + base, dim, op + base + rows.lowerBound * dim, dim)
                    }
                }
            }
        }
        let appliedWeights = dropped ?? probabilities

        return Variable(output, parents: [query, key, value]) { g in
            var dq = Tensor(uninitializedShape: shape)
            var dk = Tensor(uninitializedShape: shape)
            var dv = Tensor(uninitializedShape: shape)
            var scratch = Tensor(uninitializedShape: [Threading.threadCount, square])
            nonisolated(unsafe) let gp = g.storage.pointer, qp = query.value.storage.pointer
            nonisolated(unsafe) let kp = key.value.storage.pointer, vp = value.value.storage.pointer
            nonisolated(unsafe) let pp = probabilities.storage.pointer, dp = appliedWeights.storage.pointer
            nonisolated(unsafe) let dqp = dq.mutablePointer(), dkp = dk.mutablePointer(), dvp = dv.mutablePointer()
            nonisolated(unsafe) let sp = scratch.mutablePointer()
            defer { withExtendedLifetime((scratch, g)) {} }
            let workers = min(Threading.threadCount, pairs)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let ds = sp + w * square
                for pair in stride(from: w, to: pairs, by: workers) {
                    let b = pair / heads, h = pair % heads
                    let base = b * length * dim + h * headDim
                    let p = pp + pair * square, pd = dp + pair * square
                    // dV = Pdropᵀ·dO ; dPdrop = dO·Vᵀ
                    GEMM.multiply(
                        transA: true, transB: false, m: length, n: headDim, k: length, a: pd, lda: length, b: gp + base,
                        ldb: dim, c: dvp + base, ldc: dim, backend: .native, threads: 1)
                    GEMM.multiply(
                        transA: false, transB: true, m: length, n: length, k: headDim, a: gp + base, lda: dim,
                        b: vp + base,
                        ldb: dim, c: ds, ldc: length, backend: .native, threads: 1)
                    for i in 0..<length {
                        let row = ds + i * length, prow = p + i * length
                        if dropout > 0 {
                            // The dropped weight is p·keepScale where kept, 0 elsewhere.
                            let drow = pd + i * length
                            for j in 0..<length { row[j] = drow[j] != 0 ? row[j] * keepScale : 0 }
                        }
                        let dot = sr_vdot(row, prow, length)
                        for j in 0..<length { row[j] = prow[j] * (row[j] - dot) * scale }
                    }
                    // dQ = dS·K ; dK = dSᵀ·Q
                    GEMM.multiply(
                        transA: false, transB: false, m: length, n: headDim, k: length, a: ds, lda: length,
                        b: kp + base,
                        ldb: dim, c: dqp + base, ldc: dim, backend: .native, threads: 1)
                    GEMM.multiply(
                        transA: true, transB: false, m: length, n: headDim, k: length, a: ds, lda: length, b: qp + base,
                        ldb: dim, c: dkp + base, ldc: dim, backend: .native, threads: 1)
                }
            }
            return [dq, dk, dv]
        }
    }
}

/// Multi-head self-attention with query/key/value/output projections.
public final class MultiHeadSelfAttention: Layer {
    public let query: Linear, key: Linear, value: Linear, output: Linear
    public let heads: Int
    public let causal: Bool
    public let attentionDropout: Float
    public var isTraining = true
    private var dropoutGenerator: SeededGenerator

    public init(
        dim: Int, heads: Int, causal: Bool, attentionDropout: Float = 0, generator: inout SeededGenerator
    ) {
        precondition(dim % heads == 0, "MultiHeadSelfAttention: dim \(dim) is not divisible by \(heads) heads")
        query = Linear(dim, dim, generator: &generator)
        key = Linear(dim, dim, generator: &generator)
        value = Linear(dim, dim, generator: &generator)
        output = Linear(dim, dim, generator: &generator)
        self.heads = heads
        self.causal = causal
        self.attentionDropout = attentionDropout
        self.dropoutGenerator = generator.split()
    }

    public var children: [(name: String, layer: any Layer)] {
        [("query", query), ("key", key), ("value", value), ("output", output)]
    }

    /// `x` is [batch, length, dim]; `keyPaddingMask` is [batch, length] with non-zero at padding.
    public func callAsFunction(_ x: Variable, keyPaddingMask: Tensor? = nil) -> Variable {
        let p = isTraining ? attentionDropout : 0
        let qkv = Linear.applying([query, key, value], to: x)
        let attended = Variable.attention(
            query: qkv[0], key: qkv[1], value: qkv[2], heads: heads, causal: causal, keyPaddingMask: keyPaddingMask,
            dropout: p, dropoutSeed: p > 0 ? dropoutGenerator.next() : 0)
        return output(attended)
    }
}

/// A Transformer encoder block: self-attention and a position-wise feed-forward network,
/// each with a residual connection, dropout and layer normalisation (pre- or post-norm).
public final class TransformerBlock: Layer {
    public let attention: MultiHeadSelfAttention
    public let feedForward: MLP
    public let norm1: LayerNorm, norm2: LayerNorm
    public let dropout1: Dropout, dropout2: Dropout
    public let preNorm: Bool
    public var isTraining = true

    public init(
        dim: Int, heads: Int, feedForwardDim: Int, dropout: Float, causal: Bool, preNorm: Bool = true,
        activation: Activation = .gelu, attentionDropout: Float = 0, layerNormEpsilon: Float = 1e-5,
        generator: inout SeededGenerator
    ) {
        attention = MultiHeadSelfAttention(
            dim: dim, heads: heads, causal: causal, attentionDropout: attentionDropout, generator: &generator)
        feedForward = MLP(
            sizes: [dim, feedForwardDim, dim], activation: activation, dropout: dropout, generator: &generator)
        norm1 = LayerNorm(dim, epsilon: layerNormEpsilon)
        norm2 = LayerNorm(dim, epsilon: layerNormEpsilon)
        dropout1 = Dropout(dropout, seed: generator.next())
        dropout2 = Dropout(dropout, seed: generator.next())
        self.preNorm = preNorm
    }

    public var children: [(name: String, layer: any Layer)] {
        [
            ("attention", attention), ("feed_forward", feedForward), ("norm1", norm1), ("norm2", norm2),
            ("dropout1", dropout1), ("dropout2", dropout2),
        ]
    }

    /// `x` is [batch, length, dim].
    public func callAsFunction(_ x: Variable, keyPaddingMask: Tensor? = nil) -> Variable {
        if preNorm {
            let h = x + dropout1(attention(norm1(x), keyPaddingMask: keyPaddingMask))
            return h + dropout2(feedForward(norm2(h)))
        }
        let h = norm1(x + dropout1(attention(x, keyPaddingMask: keyPaddingMask)))
        return norm2(h + dropout2(feedForward(h)))
    }
}
