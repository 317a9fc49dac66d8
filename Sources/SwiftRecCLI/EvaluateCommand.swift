import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import SwiftRecTensor

/// How `evaluate` judges the models.
enum EvaluationProtocol: String, ExpressibleByArgument, CaseIterable {
    /// Each user's last item is the test target, ranked against every item.
    case leaveOneOut = "leave-one-out"
    /// Labeled (user, item) examples split at random 8:1:1; AUC, GAUC, LogLoss.
    case ctr
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Fit models on a split of a dataset and rank every item for each held-out user.",
        discussion: """
            The default protocol is leave-one-out by time: each user's last item is the test target, \
            the second last the validation target, the rest is training data. Models fit on the \
            training data; for the test each user's state also holds the validation item. Every item \
            is a candidate except the user's known history; ties count against the target.

            --protocol ctr instead labels rated events (rating >= --positive-at positive, below \
            --negative-below negative, between dropped; events positive with one sampled negative \
            each when there are no ratings), splits them at random 8:1:1 and reports AUC, GAUC and \
            LogLoss (the last for models that give probabilities: fm, deepfm, widedeep, dcnv2, din).
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
    @Option(name: .customLong("protocol"), help: "leave-one-out (ranking) or ctr (AUC, GAUC, LogLoss).")
    var evaluationProtocol = EvaluationProtocol.leaveOneOut
    @Option(help: "ctr: the lowest rating that is a positive.") var positiveAt = 4.0
    @Option(help: "ctr: ratings below this are negatives (those between are dropped).") var negativeBelow = 3.0
    @Option(help: "ctr: also write the split as RecBole atomic files into this directory (for a peer run).")
    var exportSplit: String?
    @Option(
        help: """
            Also evaluate each fitted model at these scoring precisions (comma-separated: float, int8), \
            reported as NAME+int8: the same weights, scored with int8 copies (models with a quantize option).
            """)
    var precisions = ""
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
        if evaluationProtocol == .ctr {
            guard coldItems == nil else { throw ValidationError("--cold-items: only with --protocol leave-one-out") }
            return try runCTR(names: names, models: made)
        }
        let experiment = try ModelRunner.experiment(source, cutoffs: cutoffs, coldItems: coldItems)
        var reports: [String: ModelReport] = [:]
        var rows: [[String]] = []
        let extraPrecisions = try precisions.split(separator: ",").map { text in
            guard let precision = ScoringPrecision(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--precisions: '\(text)' is not float or int8")
            }
            return precision
        }
        for (name, model) in zip(names, made) {
            let (report, row) = try ModelRunner.run(model, in: experiment, label: name)
            reports[name] = report
            rows.append(row)
            guard let switching = precisionSwitching(of: model) else {
                if !extraPrecisions.isEmpty { Console.log("\(name): scores at float only (no quantize option)") }
                continue
            }
            let trained = switching.scoringPrecision
            for precision in extraPrecisions where precision != trained {
                switching.setScoringPrecision(precision)
                let label = "\(name)+\(precision.rawValue)"
                let (extra, row) = ModelRunner.evaluate(
                    model, in: experiment, fitSeconds: report.fitSeconds, label: label)
                reports[label] = extra
                rows.append(row)
            }
            switching.setScoringPrecision(trained)
        }
        ModelRunner.printTable(experiment, rows: rows)
        if json { try Console.printJSON(ExperimentReport(models: reports, protocol: experiment.split.name)) }
    }

    func runCTR(names: [String], models: [any Recommender]) throws {
        guard negativeBelow <= positiveAt else {
            throw ValidationError("--negative-below (\(negativeBelow)) must not exceed --positive-at (\(positiveAt))")
        }
        let start = ProcessStats.now()
        let experiment = CTRExperiment(
            dataset: try ModelRunner.load(source), positiveAt: positiveAt, negativeBelow: negativeBelow)
        Console.log(
            String(
                format: "%@: %d training, %d validation, %d test examples (%.1f s)", experiment.name,
                experiment.train.eventCount, experiment.validation.count, experiment.test.count,
                ProcessStats.now() - start))
        if let exportSplit {
            let directory = URL(fileURLWithPath: exportSplit)
            try experiment.writeRecBoleFiles(to: directory, name: directory.lastPathComponent)
            Console.log("wrote the split as RecBole atomic files into \(exportSplit)")
        }
        var reports: [String: ModelReport] = [:]
        var rows: [[String]] = []
        for (name, model) in zip(names, models) {
            let report = try experiment.run(model, progress: Console.progress)
            reports[name] = report
            let perEpoch =
                report.epochSeconds.isEmpty ? 0 : report.epochSeconds.reduce(0, +) / Double(report.epochSeconds.count)
            rows.append(
                [name] + ["AUC", "GAUC", "LogLoss"].map { report.test[$0].map { String(format: "%.4f", $0) } ?? "-" }
                    + [
                        report.valid["AUC"].map { String(format: "%.4f", $0) } ?? "-",
                        String(format: "%.1f", report.fitSeconds), String(format: "%.2f", perEpoch),
                    ])
        }
        Console.log("")
        Console.log("Test, \(experiment.name):")
        Console.log(Console.table(["model", "AUC", "GAUC", "LogLoss", "valid AUC", "fit s", "s/epoch"], rows))
        if json { try Console.printJSON(ExperimentReport(models: reports, protocol: experiment.name)) }
    }
}
