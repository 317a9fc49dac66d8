import Foundation

/// Softmax weights of one query per sequence over that sequence's keys.
public struct SingleQueryAttentionWeights: Sendable {
    public let batch: Int
    public let heads: Int
    public let length: Int
    /// [batch, heads, length]: row (b, h) sums to 1 over the sequence's unpadded keys.
    public let weights: [Float]
}

extension Variable {
    /// Multi-head attention of a single query per sequence (e.g. the last position, which is
    /// all a next-item scorer reads) over every position of that sequence.
    ///
    /// `query` is [batch, heads·headDim]; `key` and `value` are [batch, length, heads·headDim]
    /// (head h reads columns h·headDim..<(h+1)·headDim); `keyPaddingMask` ([batch, length],
    /// non-zero = padding) hides padded keys. Returns the attended values, [batch, heads·headDim],
    /// and the weights. Equals the last row of ``attention(query:key:value:heads:causal:keyPaddingMask:dropout:dropoutSeed:)``
    /// at a length-th of its work, and is differentiable in all three inputs.
    public static func singleQueryAttention(
        query: Variable, key: Variable, value: Variable, heads: Int, keyPaddingMask: Tensor? = nil
    ) -> (output: Variable, weights: SingleQueryAttentionWeights) {
        precondition(
            query.shape.count == 2 && key.shape.count == 3 && value.shape == key.shape
                && key.shape[0] == query.shape[0] && key.shape[2] == query.shape[1],
            "singleQueryAttention: query \(query.shape) must be [batch, dim] and key \(key.shape), value \(value.shape) [batch, length, dim]"
        )
        let batch = key.shape[0], length = key.shape[1], dim = key.shape[2]
        precondition(
            heads > 0 && dim % heads == 0, "singleQueryAttention: dim \(dim) is not divisible by \(heads) heads")
        if let keyPaddingMask {
            precondition(
                keyPaddingMask.shape == [batch, length],
                "singleQueryAttention: keyPaddingMask \(keyPaddingMask.shape) must be [\(batch), \(length)]")
        }
        let headDim = dim / heads
        let scale = 1 / Float(headDim).squareRoot()
        var weights = [Float](repeating: 0, count: batch * heads * length)
        var output = Tensor.zeros([batch, dim])
        do {
            nonisolated(unsafe) let q = query.value.storage.pointer, k = key.value.storage.pointer
            nonisolated(unsafe) let v = value.value.storage.pointer, o = output.mutablePointer()
            nonisolated(unsafe) let mask = keyPaddingMask?.storage.pointer
            weights.withUnsafeMutableBufferPointer { buffer in
                nonisolated(unsafe) let w = buffer
                parallelRanges(batch, costPerItem: 4 * length * dim) { range in
                    for b in range {
                        for h in 0..<heads {
                            let qRow = q + b * dim + h * headDim, row = (b * heads + h) * length
                            var largest = -Float.infinity
                            for j in 0..<length {
                                let kRow = k + (b * length + j) * dim + h * headDim
                                var dot: Float = 0
                                for c in 0..<headDim { dot += qRow[c] * kRow[c] }
                                w[row + j] = dot * scale
                            }
                            // As in the fused attention: a padded key gets a large negative score.
                            if let mask { for j in 0..<length where mask[b * length + j] != 0 { w[row + j] = -1e9 } }
                            for j in 0..<length { largest = max(largest, w[row + j]) }
                            var total: Float = 0
                            for j in 0..<length {
                                w[row + j] = expf(w[row + j] - largest)
                                total += w[row + j]
                            }
                            let out = o + b * dim + h * headDim
                            for j in 0..<length {
                                w[row + j] /= total
                                let p = w[row + j], vRow = v + (b * length + j) * dim + h * headDim
                                for c in 0..<headDim { out[c] += p * vRow[c] }
                            }
                        }
                    }
                }
            }
        }
        let found = SingleQueryAttentionWeights(batch: batch, heads: heads, length: length, weights: weights)
        let result = Variable(output, parents: [query, key, value]) { g in
            var dq = Tensor.zeros([batch, dim]), dk = Tensor.zeros(key.shape), dv = Tensor.zeros(value.shape)
            nonisolated(unsafe) let gp = g.storage.pointer, q = query.value.storage.pointer
            nonisolated(unsafe) let k = key.value.storage.pointer, v = value.value.storage.pointer
            nonisolated(unsafe) let dqp = dq.mutablePointer(), dkp = dk.mutablePointer(), dvp = dv.mutablePointer()
            weights.withUnsafeBufferPointer { buffer in
                nonisolated(unsafe) let w = buffer
                // Sequences touch disjoint rows of every gradient, so they run in parallel.
                parallelRanges(batch, costPerItem: 8 * length * dim) { range in
                    var ds = [Float](repeating: 0, count: length)
                    for b in range {
                        for h in 0..<heads {
                            let row = (b * heads + h) * length, column = h * headDim
                            let gRow = gp + b * dim + column, qRow = q + b * dim + column
                            // dV_j = w_j·dO ; dw_j = dO·V_j ; softmax: ds_j = w_j·(dw_j − Σ w·dw)
                            var weighted: Float = 0
                            for j in 0..<length {
                                let offset = (b * length + j) * dim + column
                                var dot: Float = 0
                                for c in 0..<headDim {
                                    dvp[offset + c] = w[row + j] * gRow[c]
                                    dot += gRow[c] * v[offset + c]
                                }
                                ds[j] = dot
                                weighted += w[row + j] * dot
                            }
                            // dQ = scale·Σ ds_j·K_j ; dK_j = scale·ds_j·Q
                            let dqRow = dqp + b * dim + column
                            for j in 0..<length {
                                let s = w[row + j] * (ds[j] - weighted) * scale
                                let offset = (b * length + j) * dim + column
                                for c in 0..<headDim {
                                    dqRow[c] += s * k[offset + c]
                                    dkp[offset + c] = s * qRow[c]
                                }
                            }
                        }
                    }
                }
            }
            withExtendedLifetime(g) {}
            return [dq, dk, dv]
        }
        return (result, found)
    }
}
