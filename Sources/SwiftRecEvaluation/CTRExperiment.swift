import Algorithms
import Foundation
import SwiftRecData
import SwiftRecModels

/// The click-through-rate protocol: labeled (user, item) examples split at random 8:1:1, models
/// fitted on the training examples and judged by how well they tell positives from negatives
/// in the test examples: AUC, GAUC (each user's AUC weighted by their examples, users with one
/// class left out, as RecBole computes it) and log-loss (for models that give probabilities,
/// ``PairScoring``).
///
/// Labels follow RecBole's ML-1M context-aware benchmark: a rating ≥ `positiveAt` (4) is a
/// positive, one below `negativeBelow` (3) a negative, ratings between are dropped and so are
/// events without a rating. Data without any ratings has every event a positive, and the
/// validation and test parts get one negative each, drawn from the items the user never had.
///
/// The training part is a ``Dataset`` of the training events only, with every user's and
/// item's features and the full id maps; a feature model scores a validation or test pair from
/// the user's attributes, training events before the pair's time and the pair's scenario (the
/// state it would have been served with then), other models from all the user's training events; no held-out event
/// is ever seen.
public struct CTRExperiment: Sendable {
    public let dataset: Dataset
    public let train: Dataset
    /// The training examples with their labels (what ``train``'s events mean).
    public let trainPairs: LabeledPairs
    public let validation: LabeledPairs
    public let test: LabeledPairs
    /// A one-line description for reports.
    public let name: String

    public init(
        dataset: Dataset, positiveAt: Double = 4, negativeBelow: Double = 3, fractions: (Double, Double) = (0.8, 0.1),
        seed: UInt64 = 1
    ) {
        self.dataset = dataset
        let log = dataset.log
        let rated = log.values.contains { !$0.isNaN }
        var eligible: [Int] = []
        var labels: [Float] = []
        for k in 0..<log.count {
            let value = Double(log.values[k])
            if !rated {
                eligible.append(k)
                labels.append(1)
            } else if !value.isNaN && (value >= positiveAt || value < negativeBelow) {
                eligible.append(k)
                labels.append(value >= positiveAt ? 1 : 0)
            }
        }
        var order = Array(eligible.indices)
        var generator = SplitMix64(seed: seed)
        generator.shuffle(&order)
        let trainCount = Int((Double(order.count) * fractions.0).rounded())
        let validCount = Int((Double(order.count) * fractions.1).rounded())
        var trainLog = InteractionLog()
        var trainPairs = LabeledPairs()
        for position in order[..<trainCount].sorted() {
            let k = eligible[position]
            trainPairs.append(
                user: log.users[k], item: log.items[k], label: labels[position], timestamp: log.timestamps[k],
                scenario: log.scenarios[k])
            trainLog.append(
                user: log.users[k], item: log.items[k], timestamp: log.timestamps[k], value: log.values[k],
                type: log.types[k], scenario: log.scenarios[k])
        }
        self.trainPairs = trainPairs
        train = Dataset(
            users: dataset.users, items: dataset.items, log: trainLog, itemInfo: dataset.itemInfo,
            userInfo: dataset.userInfo, scenarios: dataset.scenarios)
        func pairs(_ positions: ArraySlice<Int>, salt: UInt64) -> LabeledPairs {
            var out = LabeledPairs()
            for position in positions.sorted() {
                let k = eligible[position]
                out.append(
                    user: log.users[k], item: log.items[k], label: labels[position], timestamp: log.timestamps[k],
                    scenario: log.scenarios[k])
            }
            return rated ? out : Self.withSampledNegatives(out, dataset: dataset, seed: seed &+ salt)
        }
        validation = pairs(order[trainCount..<(trainCount + validCount)], salt: 1)
        test = pairs(order[(trainCount + validCount)...], salt: 2)
        name =
            rated
            ? "ctr: ratings ≥ \(positiveAt) positive, < \(negativeBelow) negative, random 8:1:1"
            : "ctr: events positive, one sampled negative each, random 8:1:1"
    }

    /// Writes the split as RecBole atomic files, so a peer trains and tests on exactly these
    /// examples: `NAME.train.inter`, `NAME.valid.inter`, `NAME.test.inter` (user, item, label,
    /// timestamp), `NAME.user` (every user attribute) and `NAME.item` (attributes, and the
    /// categories as `genre`). Tabs and newlines inside values become spaces.
    public func writeRecBoleFiles(to directory: URL, name: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func clean(_ text: String) -> String {
            String(text.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
        }
        func write(_ lines: [String], _ file: String) throws {
            try (lines.joined(separator: "\n") + "\n").write(
                to: directory.appendingPathComponent("\(name).\(file)"), atomically: true, encoding: .utf8)
        }
        for (part, pairs) in [("train", trainPairs), ("valid", validation), ("test", test)] {
            var lines = ["user_id:token\titem_id:token\tlabel:float\ttimestamp:float"]
            for k in 0..<pairs.count {
                lines.append(
                    "\(clean(dataset.users.id(at: pairs.users[k])))\t\(clean(dataset.items.id(at: pairs.items[k])))\t"
                        + "\(Int(pairs.labels[k]))\t\(pairs.timestamps[k])")
            }
            try write(lines, "\(part).inter")
        }
        let userKeys = Set(dataset.userInfo.flatMap { $0?.attributes.keys.map { $0 } ?? [] }).sorted()
        var users = [(["user_id"] + userKeys).map { "\($0):token" }.joined(separator: "\t")]
        for u in 0..<dataset.userCount {
            let attributes = dataset.userInfo[u]?.attributes ?? [:]
            users.append(
                ([dataset.users.id(at: Int32(u))] + userKeys.map { attributes[$0] ?? "" }).map(clean).joined(
                    separator: "\t"))
        }
        try write(users, "user")
        let itemKeys = Set(dataset.itemInfo.flatMap { $0?.attributes.keys.map { $0 } ?? [] }).sorted()
        var items = [(["item_id:token"] + itemKeys.map { "\($0):token" } + ["genre:token_seq"]).joined(separator: "\t")]
        for i in 0..<dataset.itemCount {
            let item = dataset.itemInfo[i]
            let categories = (item?.categories ?? []).map { clean($0).replacingOccurrences(of: " ", with: "_") }
            items.append(
                ([dataset.items.id(at: Int32(i))] + itemKeys.map { item?.attributes[$0] ?? "" }).map(clean).joined(
                    separator: "\t") + "\t" + categories.joined(separator: " "))
        }
        try write(items, "item")
    }

    /// Each positive followed by one item its user never had in `dataset`.
    static func withSampledNegatives(_ positives: LabeledPairs, dataset: Dataset, seed: UInt64) -> LabeledPairs {
        var out = LabeledPairs()
        var generator = SplitMix64(seed: seed)
        for k in 0..<positives.count {
            let user = positives.users[k]
            let time = positives.timestamps[k], scenario = positives.scenarios[k]
            out.append(user: user, item: positives.items[k], label: 1, timestamp: time, scenario: scenario)
            let seen = Set(dataset.sequences.items(of: Int(user)))
            guard seen.count < dataset.itemCount else { continue }
            var j = Int32(generator.nextInt(below: dataset.itemCount))
            while seen.contains(j) { j = Int32(generator.nextInt(below: dataset.itemCount)) }
            out.append(user: user, item: j, label: 0, timestamp: time, scenario: scenario)
        }
        return out
    }

    /// Fits `model` on the training examples (a ``PairScoring`` model keeps its epoch with the
    /// best validation AUC) and reports AUC, GAUC and LogLoss on validation and test.
    public func run(_ model: any Recommender, progress: TrainingProgress? = nil) throws -> ModelReport {
        if let ranker = model as? any PairScoring { ranker.validationPairs = validation }
        let fitStart = Date()
        try model.fit(train, validation: nil, progress: progress)
        let fitSeconds = Date().timeIntervalSince(fitStart)
        let valid = Self.metrics(model, pairs: validation, history: train).metrics
        let testStart = Date()
        let (test, users) = Self.metrics(model, pairs: self.test, history: train)
        return ModelReport(
            valid: valid, test: test, fitSeconds: fitSeconds, epochSeconds: model.epochSeconds,
            testEvalSeconds: Date().timeIntervalSince(testStart), testUsers: users)
    }

    /// AUC, GAUC and (for ``PairScoring`` models) LogLoss of `model` on `pairs`, each user's
    /// state read from `history`; and the number of users.
    public static func metrics(_ model: any Recommender, pairs: LabeledPairs, history: Dataset) -> (
        metrics: [String: Double], users: Int
    ) {
        var byUser: [Int32: [Int]] = [:]
        for k in 0..<pairs.count { byUser[pairs.users[k], default: []].append(k) }
        var scores = [Float](repeating: 0, count: pairs.count)
        let probabilistic = model as? any PairScoring
        if let probabilistic {
            // Each pair from the user's training events before it, as the user was when it happened.
            let readsSequence = probabilistic.inputs.contains(.sequence)
            let states = (0..<pairs.count).map { k -> UserState in
                let user = pairs.users[k]
                let items = history.sequences.items(of: Int(user)), times = history.sequences.timestamps(of: Int(user))
                let end = readsSequence ? times.partitioningIndex { $0 >= pairs.timestamps[k] } : times.startIndex
                return UserState(
                    user: user, items: Array(items[items.startIndex..<(items.startIndex + end - times.startIndex)]),
                    features: history.userInfo[Int(user)]?.attributes ?? [:],
                    scenario: history.scenarioName(pairs.scenarios[k]))
            }
            scores = probabilistic.logits(states: states, items: pairs.items)
        } else {
            for (user, indices) in byUser {
                let all = model.scores(for: UserState(user: user, in: history))
                for k in indices { scores[k] = all[Int(pairs.items[k])] }
            }
        }
        var metrics: [String: Double] = [:]
        metrics["AUC"] = BinaryClassification.auc(scores: scores, labels: pairs.labels)
        metrics["GAUC"] = BinaryClassification.groupAUC(users: pairs.users, scores: scores, labels: pairs.labels)
        if probabilistic != nil {
            metrics["LogLoss"] = BinaryClassification.logLoss(
                probabilities: scores.map { 1 / (1 + Foundation.exp(-$0)) }, labels: pairs.labels)
        }
        return (metrics, byUser.count)
    }
}
