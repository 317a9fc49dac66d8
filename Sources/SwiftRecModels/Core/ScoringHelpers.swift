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
