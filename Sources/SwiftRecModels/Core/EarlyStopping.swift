import Foundation

/// Early stopping on a validation score (NDCG@10) with the best weights kept, shared by the
/// models that train in epochs: after each validation, ``record(_:epoch:weights:)`` keeps the
/// weights when the score is the best so far, and ``shouldStop`` says when `patience` rounds
/// in a row did not beat it.
struct EarlyStopping<Weights> {
    let patience: Int
    private(set) var best = -Double.infinity
    private(set) var bestEpoch = 0
    private(set) var bestWeights: Weights?
    private var roundsSinceBest = 0

    init(patience: Int) { self.patience = patience }

    /// Records one validation; returns whether it is the best so far (its weights are then kept).
    @discardableResult
    mutating func record(_ score: Double, epoch: Int, weights: () -> Weights) -> Bool {
        guard score > best else {
            roundsSinceBest += 1
            return false
        }
        (best, bestEpoch, bestWeights, roundsSinceBest) = (score, epoch, weights(), 0)
        return true
    }

    var shouldStop: Bool { roundsSinceBest > patience }

    /// Sends an epoch's log line (with its validation, when there was one) and its summary.
    static func reportEpoch(
        _ progress: TrainingProgress?, model: String, epoch: Int, loss: Double, seconds: Double, validated: Double?,
        isBest: Bool
    ) {
        var line = String(format: "%@: epoch %d, loss %.4f, %.1f s", model, epoch, loss, seconds)
        if let validated { line += String(format: ", valid NDCG@10 %.4f", validated) + (isBest ? " (best)" : "") }
        progress?(.message(line))
        progress?(
            .epoch(
                EpochSummary(model: model, epoch: epoch, loss: loss, seconds: seconds, validationNDCG: validated)))
    }
}
