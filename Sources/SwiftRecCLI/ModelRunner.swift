import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels

/// What `evaluate`, `train` and `demo` share around ``Experiment``: option parsing, logging, the table.
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

    /// Makes each model with `options`, failing on an unknown model, an option none of the
    /// models reads (naming the closest one) or a value outside its range, before any data is read.
    static func make(models names: [String], options: ModelCatalog.Options, source: String = "--set") throws
        -> [any Recommender]
    {
        for name in names where ModelCatalog.entry(name) == nil {
            do { _ = try ModelCatalog.require(name) } catch { throw ValidationError("--model: \(error)") }
        }
        let known = Array(Set(names.flatMap(ModelCatalog.acceptedKeys)))
        for key in options.keys.sorted() where !known.contains(key) && !ModelCatalog.isScopedKey(key, for: names) {
            throw ValidationError(
                "\(source) \(key): "
                    + (names.count == 1
                        ? "\(names[0]) has no such option" : "none of \(names.joined(separator: ", ")) has it")
                    + "; " + ConfigKeys.hint(key, known: known))
        }
        return try names.map { name in
            do { return try ModelCatalog.make(name, options: options, ignoringUnknown: names.count > 1) } catch {
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

    /// Reads the data and splits it leave-one-out by time (see ``Experiment``).
    static func experiment(_ source: DataOptions, cutoffs: [Int], coldItems: Double? = nil) throws -> Experiment {
        let start = ProcessStats.now()
        let experiment = Experiment(dataset: try load(source), cutoffs: cutoffs, coldItemFraction: coldItems)
        log(experiment, seconds: ProcessStats.now() - start)
        return experiment
    }

    static func log(_ experiment: Experiment, seconds: Double) {
        let (dataset, split) = (experiment.dataset, experiment.split)
        Console.log(
            String(
                format: "%@: %d users, %d items, %d training events; %d validation and %d test users (%.1f s)",
                split.name, dataset.userCount, dataset.itemCount, split.train.eventCount, split.validation.users.count,
                split.test.users.count, seconds))
    }

    static func columns(_ cutoffs: [Int]) -> [String] {
        cutoffs.flatMap { ["HR@\($0)", "NDCG@\($0)", "MRR@\($0)"] } + ["MRR", "AUC", "Coverage@\(cutoffs[0])"]
    }

    /// Runs `model` through `experiment`, logging its progress. Returns its report and a table row.
    static func run(_ model: any Recommender, in experiment: Experiment, label: String? = nil) throws -> (
        report: ModelReport, row: [String]
    ) {
        row(model, try experiment.run(model, progress: Console.progress), in: experiment, label: label)
    }

    /// Evaluates a fitted model again (e.g. at another precision) and gives its table row.
    static func evaluate(_ model: any Recommender, in experiment: Experiment, fitSeconds: Double, label: String) -> (
        report: ModelReport, row: [String]
    ) {
        row(model, experiment.evaluate(model, fitSeconds: fitSeconds), in: experiment, label: label)
    }

    private static func row(_ model: any Recommender, _ report: ModelReport, in experiment: Experiment, label: String?)
        -> (report: ModelReport, row: [String])
    {
        Console.log(
            String(
                format: "%@: fit %.2f s, test evaluation %.2f s over %d users", model.name, report.fitSeconds,
                report.testEvalSeconds, report.testUsers))
        let cutoffs = experiment.cutoffs
        let split = [report.testCold, report.testWarm].compactMap { $0 }
        let row =
            [label ?? model.name] + columns(cutoffs).map { String(format: "%.4f", report.test[$0] ?? .nan) }
            + split.map { String(format: "%.4f", $0["NDCG@\(cutoffs[0])"] ?? .nan) }
            + [String(format: "%.1f", report.fitSeconds)]
        return (report, row)
    }

    static func printTable(_ experiment: Experiment, rows: [[String]]) {
        let (dataset, split, cutoffs) = (experiment.dataset, experiment.split, experiment.cutoffs)
        let coldColumns = experiment.coldItems != nil
        Console.log("")
        Console.log(
            "Test, \(split.name), full ranking over \(dataset.itemCount) items, history excluded, ties pessimistic:")
        let cold = coldColumns ? ["cold NDCG@\(cutoffs[0])", "warm NDCG@\(cutoffs[0])"] : []
        Console.log(Console.table(["model"] + columns(cutoffs) + cold + ["fit s"], rows))
    }
}
