import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels

/// What `evaluate` and `train` share: option parsing, the split, fitting and scoring a model.
enum ModelRunner {
    /// Parses `--k 10,20`.
    static func cutoffs(_ text: String) throws -> [Int] {
        try text.split(separator: ",").map { part -> Int in
            guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value > 0 else {
                throw ValidationError("--k: '\(part)' is not a positive integer")
            }
            return value
        }
    }

    /// Parses repeated `--set key=value`.
    static func settings(_ settings: [String]) throws -> ModelCatalog.Options {
        var options: ModelCatalog.Options = [:]
        for setting in settings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("--set: '\(setting)' is not key=value")
            }
            options[parts[0]] = .string(parts[1])
        }
        return options
    }

    /// Fails on an unknown model, an option none of the models reads (naming the closest one) or
    /// a value outside its range, before any data is read.
    static func check(models names: [String], options: ModelCatalog.Options, source: String = "--set") throws {
        for name in names where ModelCatalog.entry(name) == nil {
            do { _ = try ModelCatalog.require(name) } catch { throw ValidationError("--model: \(error)") }
        }
        let known = Array(Set(names.flatMap(ModelCatalog.acceptedKeys)))
        for key in options.keys.sorted() where !known.contains(key) {
            throw ValidationError(
                "\(source) \(key): "
                    + (names.count == 1
                        ? "\(names[0]) has no such option" : "none of \(names.joined(separator: ", ")) has it")
                    + "; " + ConfigKeys.hint(key, known: known))
        }
        for name in names {
            do { _ = try ModelCatalog.make(name, options: options, ignoringUnknown: names.count > 1) } catch {
                throw ValidationError("\(source): \(name): \(error)")
            }
        }
    }

    /// Reads the data and logs what the importer kept.
    static func load(_ source: DataOptions) throws -> Dataset {
        let (dataset, report) = try source.read()
        Console.log("imported \(source.data): \(report)")
        return dataset
    }

    /// Reads the data and splits it leave-one-out by time.
    /// With `coldItems`, that fraction of items is held out of training entirely (see
    /// ``Split/leaveOneOutWithColdItems(_:fraction:seed:)``) and the flags are returned.
    static func loadSplit(_ source: DataOptions, coldItems: Double? = nil) throws -> (
        Dataset, Split, cold: [Bool]?
    ) {
        let start = ProcessStats.now()
        let dataset = try load(source)
        var cold: [Bool]?
        let split: Split
        if let coldItems {
            (split, cold) = Split.leaveOneOutWithColdItems(dataset, fraction: coldItems, seed: 1)
        } else {
            split = Split.leaveOneOut(dataset)
        }
        Console.log(
            String(
                format: "%@: %d users, %d items, %d training events; %d validation and %d test users (%.1f s)",
                split.name, dataset.userCount, dataset.itemCount, split.train.eventCount, split.validation.users.count,
                split.test.users.count, ProcessStats.now() - start))
        return (dataset, split, cold)
    }

    static func columns(_ cutoffs: [Int]) -> [String] {
        cutoffs.flatMap { ["HR@\($0)", "NDCG@\($0)", "MRR@\($0)"] } + ["MRR", "AUC", "Coverage@\(cutoffs[0])"]
    }

    /// Fits `model` on the training part (validation steering early stopping) and scores
    /// validation and test. Returns the JSON entry and a table row.
    /// With `cold` item flags, the test cases are also reported apart by whether their target
    /// is a cold item (`test_cold`) or not (`test_warm`).
    static func fitAndEvaluate(
        _ model: any Recommender, split: Split, cutoffs: [Int], label: String? = nil, cold: [Bool]? = nil
    ) throws -> (result: [String: Any], row: [String]) {
        let fitStart = ProcessStats.now()
        try model.fit(split.train, validation: split.validation, progress: Console.progress)
        let fitSeconds = ProcessStats.now() - fitStart
        let evaluation = EvaluationOptions(ks: cutoffs)
        let valid = Evaluator.evaluate(model, history: split.train, heldOut: split.validation, options: evaluation)
        // Testing scores from train + validation as each user's state: the validation item is the
        // newest event, which every model takes into account without refitting.
        let test = Evaluator.evaluate(
            model, history: split.trainWithValidation, heldOut: split.test, options: evaluation)
        Console.log(
            String(
                format: "%@: fit %.2f s, test evaluation %.2f s over %d users", model.name, fitSeconds, test.seconds,
                test.users))
        var result: [String: Any] = [
            "valid": valid.metrics, "test": test.metrics, "fit_seconds": fitSeconds,
            "epoch_seconds": model.epochSeconds, "test_eval_seconds": test.seconds,
        ]
        var extra: [String] = []
        if let cold {
            for (key, wanted) in [("test_cold", true), ("test_warm", false)] {
                var part = HeldOut()
                for (user, items) in zip(split.test.users, split.test.items) where cold[Int(items[0])] == wanted {
                    part.users.append(user)
                    part.items.append(items)
                }
                let metrics = Evaluator.evaluate(
                    model, history: split.trainWithValidation, heldOut: part, options: evaluation
                ).metrics
                result[key] = metrics
                result[key + "_users"] = part.users.count
                extra.append(String(format: "%.4f", metrics["NDCG@\(cutoffs[0])"] ?? .nan))
            }
        }
        let row =
            [label ?? model.name] + columns(cutoffs).map { String(format: "%.4f", test.metrics[$0] ?? .nan) } + extra
            + [String(format: "%.1f", fitSeconds)]
        return (result, row)
    }

    static func printTable(
        _ dataset: Dataset, _ split: Split, cutoffs: [Int], rows: [[String]], coldColumns: Bool = false
    ) {
        Console.log("")
        Console.log(
            "Test, \(split.name), full ranking over \(dataset.itemCount) items, history excluded, ties pessimistic:")
        let cold = coldColumns ? ["cold NDCG@\(cutoffs[0])", "warm NDCG@\(cutoffs[0])"] : []
        Console.log(Console.table(["model"] + columns(cutoffs) + cold + ["fit s"], rows))
    }
}
