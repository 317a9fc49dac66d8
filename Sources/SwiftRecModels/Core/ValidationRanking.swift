import Foundation
import SwiftRecData

/// The evaluator's ranking protocol for early stopping inside a fit: NDCG@10 of held-out items
/// scored through the model's own `scoreBatch` from each user's state in `dataset`, the user's
/// history excluded and ties counted against the target.
enum ValidationRanking {
    static func ndcg(_ model: some Recommender, dataset: Dataset, heldOut: HeldOut, chunk: Int = 256) -> Double {
        let n = model.itemCount
        var scores = [Float](repeating: 0, count: chunk * n)
        var seen = [Bool](repeating: false, count: n)
        var total = 0.0, cases = 0
        for first in stride(from: 0, to: heldOut.users.count, by: chunk) {
            let users = heldOut.users[first..<min(heldOut.users.count, first + chunk)]
            let states = users.map { UserState(user: $0, in: dataset) }
            scores.withUnsafeMutableBufferPointer { model.scoreBatch(states, into: $0) }
            scores.withUnsafeBufferPointer { all in
                seen.withUnsafeMutableBufferPointer { seen in
                    for (row, state) in states.enumerated() {
                        for item in state.items where Int(item) < n { seen[Int(item)] = true }
                        let rowScores = UnsafeBufferPointer(rebasing: all[(row * n)..<((row + 1) * n)])
                        for target in heldOut.items[first + row] where Int(target) < n {
                            let rank = RankingOutcome.rank(
                                of: Int(target), scores: rowScores, excluded: UnsafeBufferPointer(seen), limit: 10)
                            total += RankingOutcome.ndcg(rank: rank, k: 10)
                            cases += 1
                        }
                        for item in state.items where Int(item) < n { seen[Int(item)] = false }
                    }
                }
            }
        }
        return total / Double(max(cases, 1))
    }
}
