import CSwiftRecKernels

/// The code paths of the fused pair kernel (``PairMLP``), for tests that check each one.
public enum VectorPath: Int32, CaseIterable, Sendable {
    case generic = 0
    case avx2 = 1
    case avx512 = 2

    /// Whether this CPU can run the path.
    public var isAvailable: Bool {
        switch self {
        case .generic: true
        case .avx2: sr_cpu_has_avx2_fma() != 0
        case .avx512: sr_cpu_has_avx512() != 0
        }
    }
}

/// A small network over every (candidate, history item) pair of one request, as DIN's
/// activation unit is: the first layer is given split by input block, so its pre-activation for
/// pair (k, l) is `historyPart[l] + candidatePart[k] + W_p · (history[l] ⊙ candidates[k])`,
/// and `layers` follow, each after an activation (a sigmoid, or PReLU with the given slopes), the
/// last of width 1.
public enum PairMLP {
    /// [candidates, history]: the last layer's output for every pair, computed by one C kernel
    /// that runs each block of pairs through all the layers while it is in cache.
    /// `productBlock` holds W_p in its columns `productColumn..<productColumn + dim` ([width, *]).
    /// `slopes` (one per layer, each as wide as that layer's input) makes the activations PReLU;
    /// nil keeps sigmoids. `path` caps the code path of the float layers (nil: the best this CPU
    /// has). At `.int8` the product part W_p · (h ⊙ c) is computed in int8 (each row of W_p
    /// scaled by a history item, and each candidate, quantised with a scale of its own) on the
    /// int8 product's current path (``QuantizedKernelPath/current``, or `int8Path`), the rest in
    /// float. At `.int8`, a `dim` over 1,040 needs the AVX-512 VNNI or AMX path (elsewhere the
    /// int8 sums are formed in float, exact only up to there) and stops otherwise.
    public static func outputs(
        history: Tensor, candidates: Tensor, historyPart: Tensor, candidatePart: Tensor,
        productBlock: Tensor, productColumn: Int, layers: [Linear], slopes: [Tensor]? = nil,
        precision: ScoringPrecision = .float, path: VectorPath? = nil, int8Path: QuantizedKernelPath? = nil
    ) -> Tensor {
        let r = history.shape[0], n = candidates.shape[0], d = history.shape[1]
        let widths = [historyPart.shape[1]] + layers.map { $0.weight.value.shape[0] }
        precondition(
            candidates.shape[1] == d && candidatePart.shape == [n, widths[0]] && historyPart.shape[0] == r
                && productBlock.shape[0] == widths[0] && productColumn + d <= productBlock.shape[1],
            "PairMLP: shapes do not match")
        precondition(widths.last == 1, "PairMLP: the last layer must have width 1, not \(widths.last ?? 0)")
        if let slopes {
            precondition(
                slopes.map(\.count) == Array(widths.dropLast()), "PairMLP: slopes \(slopes.map(\.shape)) for \(widths)")
        }
        let slopeValues = slopes?.flatMap(\.scalars)
        var parameters: [Float] = []
        for layer in layers {
            parameters += layer.weight.value.scalars
            parameters += layer.bias?.value.scalars ?? Array(repeating: 0, count: layer.weight.value.shape[0])
        }
        var out = Tensor(uninitializedShape: [n, r])
        let status = history.withUnsafeBufferPointer { h in
            candidates.withUnsafeBufferPointer { c in
                historyPart.withUnsafeBufferPointer { hp in
                    candidatePart.withUnsafeBufferPointer { cp in
                        productBlock.withUnsafeBufferPointer { w in
                            out.withUnsafeMutableBufferPointer { o in
                                guard precision == .int8 else {
                                    return sr_pair_mlp(
                                        n, r, d, h.baseAddress, c.baseAddress, hp.baseAddress, cp.baseAddress,
                                        w.baseAddress! + productColumn, productBlock.shape[1], layers.count, widths,
                                        parameters, slopeValues, o.baseAddress, path?.rawValue ?? -1)
                                }
                                return sr_pair_mlp_q8(
                                    n, r, d, h.baseAddress, c.baseAddress, hp.baseAddress, cp.baseAddress,
                                    w.baseAddress! + productColumn, productBlock.shape[1], layers.count, widths,
                                    parameters, slopeValues, o.baseAddress, path?.rawValue ?? -1,
                                    int8Path?.rawValue ?? -1)
                            }
                        }
                    }
                }
            }
        }
        precondition(status == 0, "sr_pair_mlp failed (\(status)) for widths \(widths)")
        return out
    }
}
