import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import SwiftRecTensor

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Fit models on a split of a dataset and rank every item for each held-out user.",
        discussion: """
            The default protocol is leave-one-out by time: each user's last item is the test target, \
            the second last the validation target, the rest is training data. Models fit on the \
            training data; for the test each user's state also holds the validation item. Every item \
            is a candidate except the user's known history; ties count against the target.
            """)

    @Option(help: "The data file or folder.") var data: String
    @Option(help: "The data format (\(DataFormat.allCases.map(\.rawValue).joined(separator: ", "))).")
    var format: String
    @Option(help: "Comma-separated model names (\(ModelCatalog.names.joined(separator: ", "))).")
    var models = "pop,itemknn"
    @Option(help: "Comma-separated cutoffs for the @K metrics.") var k = "10,20"
    @Option(
        name: .customLong("set"),
        help: "A model option as key=value (repeatable), e.g. --set neighbors=50 --set similarity=jaccard.")
    var settings: [String] = []
    @Flag(help: "Print one JSON object as the last line.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        let cutoffs = try k.split(separator: ",").map { text -> Int in
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0 else {
                throw ValidationError("--k: '\(text)' is not a positive integer")
            }
            return value
        }
        guard let dataFormat = DataFormat(rawValue: format) else {
            throw ValidationError(
                "--format: unknown format '\(format)'; known: \(DataFormat.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        var options: ModelCatalog.Options = [:]
        for setting in settings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("--set: '\(setting)' is not key=value")
            }
            options[parts[0]] = parts[1]
        }
        let names = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        // Fail on an unknown model or option before reading any data.
        for name in names { _ = try ModelCatalog.make(name, options: options) }
        let known = names.reduce(into: Set<String>()) { $0.formUnion(ModelCatalog.optionKeys[$1] ?? []) }
        for key in options.keys.sorted() where !known.contains(key) {
            throw ValidationError(
                "--set \(key): none of \(names.joined(separator: ", ")) has this option; they read \(known.sorted().joined(separator: ", "))"
            )
        }

        let loadStart = ProcessStats.now()
        let (dataset, report) = try Importer.read(format: dataFormat, path: URL(fileURLWithPath: data))
        Console.log("imported \(data): \(report)")
        let split = Split.leaveOneOut(dataset)
        Console.log(
            String(
                format: "%@: %d users, %d items, %d training events; %d validation and %d test users (%.1f s)",
                split.name, dataset.userCount, dataset.itemCount, split.train.eventCount, split.validation.users.count,
                split.test.users.count, ProcessStats.now() - loadStart))

        var results: [String: Any] = [:]
        var rows: [[String]] = []
        let columns =
            cutoffs.flatMap { ["HR@\($0)", "NDCG@\($0)", "MRR@\($0)"] } + ["MRR", "AUC", "Coverage@\(cutoffs[0])"]
        for name in names {
            let model = try ModelCatalog.make(name, options: options)
            let fitStart = ProcessStats.now()
            try model.fit(split.train, validation: split.validation) { Console.log("  \($0)") }
            let fitSeconds = ProcessStats.now() - fitStart
            let evaluation = EvaluationOptions(ks: cutoffs)
            let valid = Evaluator.evaluate(model, history: split.train, heldOut: split.validation, options: evaluation)
            // Testing scores from train + validation as each user's state: the validation item is the
            // newest event, which every model takes into account without refitting.
            let test = Evaluator.evaluate(
                model, history: split.trainWithValidation, heldOut: split.test, options: evaluation)
            Console.log(
                String(
                    format: "%@: fit %.2f s, test evaluation %.2f s over %d users", name, fitSeconds, test.seconds,
                    test.users))
            results[name] = [
                "valid": valid.metrics, "test": test.metrics, "fit_seconds": fitSeconds,
                "epoch_seconds": model.epochSeconds,
                "test_eval_seconds": test.seconds,
            ]
            rows.append(
                [name] + columns.map { String(format: "%.4f", test.metrics[$0] ?? .nan) } + [
                    String(format: "%.1f", fitSeconds)
                ])
        }
        Console.log("")
        Console.log(
            "Test, \(split.name), full ranking over \(dataset.itemCount) items, history excluded, ties pessimistic:")
        Console.log(Console.table(["model"] + columns + ["fit s"], rows))
        if json { try Console.printJSON(["models": results, "protocol": split.name]) }
    }
}
