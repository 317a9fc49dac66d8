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
    guard k > 0 else { return [] }
    var best: [(value: Float, index: Int32)] = []
    best.reserveCapacity(k + 1)
    for i in 0..<values.count {
        let v = values[i]
        if best.count == k, v <= best[k - 1].value { continue }
        var position = best.count
        while position > 0 && best[position - 1].value < v { position -= 1 }
        best.insert((v, Int32(i)), at: position)
        if best.count > k { best.removeLast() }
    }
    return best.map(\.index)
}
