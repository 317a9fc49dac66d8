import Foundation
import SwiftRecData
import SwiftRecTensor

/// Scores rows in parallel; for models whose `score` only reads fitted state.
func parallelScoreBatch(
    _ model: some Recommender, _ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>
) {
    let n = model.itemCount
    precondition(scores.count >= states.count * n, "scoreBatch: buffer too small")
    nonisolated(unsafe) let scores = scores
    nonisolated(unsafe) let model = model
    parallelRanges(states.count, costPerItem: n * 64) { rows in
        for row in rows {
            model.score(states[row], into: UnsafeMutableBufferPointer(rebasing: scores[(row * n)..<((row + 1) * n)]))
        }
    }
}

/// Indices of the `k` largest values, best first (ties to the lower index).
func topIndices(_ k: Int, of values: UnsafeBufferPointer<Float>) -> [Int32] {
    TopK.select(k, from: values, excluded: nil)
}

/// The item-factor product of the matrix-factorisation models, `scores = U Yᵀ (+ b)`, at either
/// precision: the float factors, or an int8 copy of them made by ``setPrecision(_:factors:items:dimension:)``.
struct ItemFactorScorer: Sendable {
    private(set) var precision = ScoringPrecision.float
    private var quantized: QuantizedMatrix?

    /// Scores from now on at `precision`; `.int8` quantises `factors` ([items, dimension]) now.
    mutating func setPrecision(_ precision: ScoringPrecision, factors: [Float], items: Int, dimension: Int) {
        self.precision = precision
        quantized =
            precision == .int8 && items > 0 ? QuantizedMatrix(rows: items, columns: dimension, values: factors) : nil
    }

    /// Bytes of the item table scoring reads.
    func tableBytes(items: Int, dimension: Int) -> Int { quantized?.bytes ?? items * dimension * 4 }

    /// Rows of `out` ([rows, items]) = user vectors `users` ([rows, dimension]) times the item
    /// factors, plus `biases` when given.
    func score(
        _ users: UnsafePointer<Float>, rows: Int, factors: [Float], biases: [Float]?, items: Int, dimension: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        guard rows > 0, items > 0 else { return }
        if let quantized {
            if let biases {
                biases.withUnsafeBufferPointer { b in
                    quantized.multiply(
                        users, count: rows, xStride: dimension, bias: b.baseAddress, into: out, outStride: items)
                }
            } else {
                quantized.multiply(users, count: rows, xStride: dimension, into: out, outStride: items)
            }
            return
        }
        factors.withUnsafeBufferPointer { y in
            guard rows > 1 else {
                for j in 0..<items {
                    out[j] =
                        VectorKernels.dot(y.baseAddress! + j * dimension, users, count: dimension) + (biases?[j] ?? 0)
                }
                return
            }
            if let biases { for r in 0..<rows { (out + r * items).update(from: biases, count: items) } }
            GEMM.multiply(
                transA: false, transB: true, m: rows, n: items, k: dimension, a: users, lda: dimension,
                b: y.baseAddress!, ldb: dimension, beta: biases == nil ? 0 : 1, c: out, ldc: items)
        }
    }
}

/// A matrix-factorisation model whose item factors ``ItemFactorScorer`` multiplies: it gets
/// ``PrecisionSwitching`` from its factors.
protocol ItemFactorScoring: PrecisionSwitching {
    var scorer: ItemFactorScorer { get set }
    var itemFactors: [Float] { get }
    var itemCount: Int { get }
    var factors: Int { get }
}

extension ItemFactorScoring {
    public var scoringPrecision: ScoringPrecision { scorer.precision }
    public var scoringTableBytes: Int { scorer.tableBytes(items: itemCount, dimension: factors) }

    public func setScoringPrecision(_ precision: ScoringPrecision) {
        scorer.setPrecision(precision, factors: itemFactors, items: itemCount, dimension: factors)
    }
}
