import Foundation
import SwiftRecData
import SwiftRecModels

/// One model's figures from an ``Experiment``: the entry under `models.NAME` in the JSON of
/// `swiftrec train`, `evaluate` and `demo`.
public struct ModelReport: Codable, Sendable, Equatable {
    /// Validation metrics: scored from the training data, against each user's second-last item.
    public var valid: [String: Double]
    /// Test metrics: scored from training + validation data, against each user's last item.
    public var test: [String: Double]
    public var fitSeconds: Double
    /// Wall time of each training epoch, for models that train in epochs.
    public var epochSeconds: [Double]
    public var testEvalSeconds: Double
    public var testUsers: Int
    /// With cold items held out: the test figures over cases whose target is a cold item.
    public var testCold: [String: Double]?
    public var testColdUsers: Int?
    /// With cold items held out: the test figures over cases whose target was trained on.
    public var testWarm: [String: Double]?
    public var testWarmUsers: Int?
    /// The model's options in effect (`train` only).
    public var options: [String: JSONValue]?
    /// Where the model was saved (`train --out` only).
    public var savedTo: String?
    /// Peak resident memory of the process after training and evaluation (`train` only).
    public var peakRSSMegabytes: Double?
    /// The fit's estimated peak memory (``ModelConfig/estimatedTrainingBytes(_:)``), in MiB like `peak_rss_mb` (`train` only).
    public var estimatedPeakMegabytes: Double?

    enum CodingKeys: String, CodingKey {
        case valid, test, options
        case fitSeconds = "fit_seconds"
        case epochSeconds = "epoch_seconds"
        case testEvalSeconds = "test_eval_seconds"
        case testUsers = "test_users"
        case testCold = "test_cold"
        case testColdUsers = "test_cold_users"
        case testWarm = "test_warm"
        case testWarmUsers = "test_warm_users"
        case savedTo = "saved_to"
        case peakRSSMegabytes = "peak_rss_mb"
        case estimatedPeakMegabytes = "estimated_peak_mb"
    }

    /// The figures a model registry records: `valid_HR@k`, `valid_NDCG@k`, `test_HR@k`, `test_NDCG@k`.
    public func headline(k: Int = 10) -> [String: Double] {
        var figures: [String: Double] = [:]
        for (part, metrics) in [("valid", valid), ("test", test)] {
            for name in ["HR@\(k)", "NDCG@\(k)"] { figures["\(part)_\(name)"] = metrics[name] }
        }
        return figures
    }
}

/// The JSON report of `train`, `evaluate` and `demo`: each model's figures and the protocol.
public struct ExperimentReport: Codable, Sendable, Equatable {
    public var models: [String: ModelReport]
    public var `protocol`: String

    public init(models: [String: ModelReport], protocol: String) {
        self.models = models
        self.protocol = `protocol`
    }
}

/// Fit on a split, then evaluate validation and test: the one place this runs, for `train`,
/// `evaluate`, `demo` and background training alike.
///
/// Models fit on the training part (the validation part steering early stopping). Validation
/// scores each user from the training data; test scores from training + validation, so the
/// validation item is the newest event, as it would be when serving.
public struct Experiment: Sendable {
    public let dataset: Dataset
    public let split: Split
    /// Cutoffs of the @K metrics; beyond-accuracy metrics use the first.
    public let cutoffs: [Int]
    /// With cold items held out of training, true at those items.
    public let coldItems: [Bool]?

    /// A leave-one-out split by time of `dataset`. With `coldItemFraction`, that fraction of
    /// items is held out of training entirely (see ``Split/leaveOneOutWithColdItems(_:fraction:seed:)``)
    /// and test figures are also reported apart for cold and warm targets.
    public init(dataset: Dataset, cutoffs: [Int] = [10, 20], coldItemFraction: Double? = nil, seed: UInt64 = 1) {
        precondition(!cutoffs.isEmpty && cutoffs.allSatisfy { $0 > 0 }, "Experiment: cutoffs must be positive")
        self.dataset = dataset
        self.cutoffs = cutoffs
        if let coldItemFraction {
            (split, coldItems) = Split.leaveOneOutWithColdItems(dataset, fraction: coldItemFraction, seed: seed)
        } else {
            split = Split.leaveOneOut(dataset)
            coldItems = nil
        }
    }

    /// Fits `model` on the training part and evaluates it.
    public func run(_ model: any Recommender, progress: TrainingProgress? = nil) throws -> ModelReport {
        let fitStart = Date()
        try model.fit(split.train, validation: split.validation, progress: progress)
        return evaluate(model, fitSeconds: Date().timeIntervalSince(fitStart))
    }

    /// Evaluates a model already fitted on the training part (`fitSeconds` is reported as is).
    public func evaluate(_ model: any Recommender, fitSeconds: Double) -> ModelReport {
        let options = EvaluationOptions(ks: cutoffs)
        let valid = Evaluator.evaluate(model, history: split.train, heldOut: split.validation, options: options)
        // Group 0: warm target, group 1: cold target — one scoring pass gives all three figures.
        let group = coldItems.map { cold in split.test.items.map { cold[Int($0[0])] ? 1 : 0 } }
        let test = Evaluator.evaluate(
            model, history: split.trainWithValidation, heldOut: split.test, options: options, group: group,
            groupCount: 2)
        var report = ModelReport(
            valid: valid.metrics, test: test.metrics, fitSeconds: fitSeconds, epochSeconds: model.epochSeconds,
            testEvalSeconds: test.seconds, testUsers: test.users)
        if coldItems != nil {
            report.testWarm = test.groups[0].metrics
            report.testWarmUsers = test.groups[0].users
            report.testCold = test.groups[1].metrics
            report.testColdUsers = test.groups[1].users
        }
        return report
    }
}
