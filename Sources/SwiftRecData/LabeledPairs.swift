import Foundation

/// (user, item, label) examples for click-through-rate style training and evaluation: label 1
/// for a positive (a high rating, an interaction), 0 for a negative (a low rating, a sampled
/// item the user never had).
public struct LabeledPairs: Sendable, Equatable {
    public var users: [Int32] = []
    public var items: [Int32] = []
    public var labels: [Float] = []
    /// When the example happened (a sampled negative takes its positive's time).
    public var timestamps: [Int64] = []
    /// Where the example happened: an index into the dataset's ``Dataset/scenarios``, or
    /// ``InteractionLog/noScenario`` (a sampled negative takes its positive's).
    public var scenarios: [Int32] = []

    public init() {}

    public var count: Int { users.count }

    public mutating func append(
        user: Int32, item: Int32, label: Float, timestamp: Int64, scenario: Int32 = InteractionLog.noScenario
    ) {
        users.append(user)
        items.append(item)
        labels.append(label)
        timestamps.append(timestamp)
        scenarios.append(scenario)
    }

    /// The examples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> LabeledPairs {
        var out = LabeledPairs()
        for k in indices {
            out.append(
                user: users[k], item: items[k], label: labels[k], timestamp: timestamps[k], scenario: scenarios[k])
        }
        return out
    }

    /// Rated events as labels: a value ≥ `positiveAt` is 1, one below `negativeBelow` is 0,
    /// values between (RecBole's ML-1M protocol drops the 3s) and events without a value are left out.
    public static func fromRatings(_ dataset: Dataset, positiveAt: Double, negativeBelow: Double) -> LabeledPairs {
        var out = LabeledPairs()
        let log = dataset.log
        for k in 0..<log.count {
            let value = Double(log.values[k])
            guard !value.isNaN else { continue }
            if value >= positiveAt || value < negativeBelow {
                out.append(
                    user: log.users[k], item: log.items[k], label: value >= positiveAt ? 1 : 0,
                    timestamp: log.timestamps[k], scenario: log.scenarios[k])
            }
        }
        return out
    }

    /// Each held-out item as a positive next to `negatives` items drawn uniformly from those the
    /// user has neither in `dataset` nor held out (seeded), at the time of the user's last event.
    public static func fromHeldOut(_ heldOut: HeldOut, in dataset: Dataset, negatives: Int, seed: UInt64)
        -> LabeledPairs
    {
        var out = LabeledPairs()
        var generator = SplitMix64(seed: seed)
        let itemCount = dataset.itemCount
        for (k, user) in heldOut.users.enumerated() {
            let history = Set(dataset.sequences.items(of: Int(user))).union(heldOut.items[k])
            let time = dataset.sequences.timestamps(of: Int(user)).last ?? 0
            guard history.count < itemCount else { continue }
            for item in heldOut.items[k] {
                out.append(user: user, item: item, label: 1, timestamp: time)
                for _ in 0..<negatives {
                    var j = Int32(generator.nextInt(below: itemCount))
                    while history.contains(j) { j = Int32(generator.nextInt(below: itemCount)) }
                    out.append(user: user, item: j, label: 0, timestamp: time)
                }
            }
        }
        return out
    }
}

/// Figures of scored binary labels: AUC, group AUC, log-loss.
public enum BinaryClassification {
    /// The probability that a random positive scores above a random negative (ties count half);
    /// nil without both classes.
    public static func auc(scores: [Float], labels: [Float]) -> Double? {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0, positives = 0.0
        var k = 0
        // Average ranks over ties (1-based).
        while k < order.count {
            var end = k
            while end + 1 < order.count && scores[order[end + 1]] == scores[order[k]] { end += 1 }
            let rank = Double(k + end) / 2 + 1
            for m in k...end where labels[order[m]] > 0.5 {
                rankSum += rank
                positives += 1
            }
            k = end + 1
        }
        let negatives = Double(order.count) - positives
        guard positives > 0, negatives > 0 else { return nil }
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// Each user's AUC weighted by the user's number of examples, over users who have both
    /// classes (RecBole's GAUC); nil when no user has.
    public static func groupAUC(users: [Int32], scores: [Float], labels: [Float]) -> Double? {
        var byUser: [Int32: [Int]] = [:]
        for (k, user) in users.enumerated() { byUser[user, default: []].append(k) }
        var weighted = 0.0, weight = 0.0
        // Users in id order: a dictionary's order changes from process to process, and with it
        // the sum's last digits.
        for (_, indices) in byUser.sorted(by: { $0.key < $1.key }) {
            guard let auc = auc(scores: indices.map { scores[$0] }, labels: indices.map { labels[$0] }) else {
                continue
            }
            weighted += auc * Double(indices.count)
            weight += Double(indices.count)
        }
        return weight > 0 ? weighted / weight : nil
    }

    /// Mean binary cross-entropy of probabilities (clamped to [1e-7, 1 − 1e-7]).
    public static func logLoss(probabilities: [Float], labels: [Float]) -> Double? {
        guard !probabilities.isEmpty else { return nil }
        var total = 0.0
        for (p, y) in zip(probabilities, labels) {
            let q = min(max(Double(p), 1e-7), 1 - 1e-7)
            total -= Double(y) * Foundation.log(q) + Double(1 - y) * Foundation.log(1 - q)
        }
        return total / Double(probabilities.count)
    }
}
