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

    @OptionGroup var source: DataOptions
    @Option(help: "Comma-separated model names (\(ModelCatalog.names.joined(separator: ", "))).")
    var models = "pop,itemknn"
    @Option(help: "Comma-separated cutoffs for the @K metrics.") var k = "10,20"
    @Option(
        name: .customLong("set"),
        help: "A model option as key=value (repeatable), e.g. --set neighbors=50 --set similarity=jaccard.")
    var settings: [String] = []
    @Option(
        help: """
            Hold this fraction of items out of training entirely (their events are removed except as \
            a user's last item) and report test_cold / test_warm metrics by the test target's kind.
            """)
    var coldItems: Double?
    @Flag(help: "Print one JSON object as the last line.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        let cutoffs = try ModelRunner.cutoffs(k)
        let options = try ModelRunner.settings(settings)
        let names = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let made = try ModelRunner.make(models: names, options: options)
        if let coldItems, !(coldItems > 0 && coldItems < 1) {
            throw ValidationError("--cold-items: expected a fraction between 0 and 1, got \(coldItems)")
        }
        let experiment = try ModelRunner.experiment(source, cutoffs: cutoffs, coldItems: coldItems)
        var reports: [String: ModelReport] = [:]
        var rows: [[String]] = []
        for (name, model) in zip(names, made) {
            let (report, row) = try ModelRunner.run(model, in: experiment, label: name)
            reports[name] = report
            rows.append(row)
        }
        ModelRunner.printTable(experiment, rows: rows)
        if json { try Console.printJSON(ExperimentReport(models: reports, protocol: experiment.split.name)) }
    }
}
