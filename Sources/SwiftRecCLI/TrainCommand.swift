import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train one model on a leave-one-out split, report validation and test metrics, and save it.",
        discussion: """
            Each user's last item is the test target and the second last the validation target; \
            sequence models validate NDCG@10 after every epoch, stop early after --patience rounds \
            without improvement and keep their best weights. Options come from --config (a JSON \
            object such as {"dim": 64, "loss": "ce"}), then the flags below, then --set key=value.
            """)

    @Option(help: "The model (\(ModelCatalog.names.joined(separator: ", "))).") var model: String
    @OptionGroup var source: DataOptions
    @Option(help: "Save the trained model into this directory (manifest.json + weights.safetensors).")
    var out: String?
    @Option(help: "A JSON file of model options, e.g. {\"dim\": 64, \"blocks\": 2}.") var config: String?
    @Option(help: "Loss of SASRec: ce (full softmax), sampled, bce.") var loss: String?
    @Option(help: "Most epochs.") var epochs: Int?
    @Option(help: "Sequences per batch.") var batch: Int?
    @Option(help: "Embedding and hidden size.") var dim: Int?
    @Option(help: "Transformer blocks.") var blocks: Int?
    @Option(help: "Attention heads.") var heads: Int?
    @Option(name: .customLong("max-len"), help: "Longest history read.") var maxLength: Int?
    @Option(help: "Learning rate.") var lr: Double?
    @Option(help: "Dropout probability.") var dropout: Double?
    @Option(help: "Validation rounds without improvement before stopping.") var patience: Int?
    @Option(
        name: .customLong("time-budget"),
        help: "Stop training after this much wall time: seconds, or with a unit (90s, 30m, 1h).")
    var timeBudget: String?
    @Option(help: "Random seed.") var seed: UInt64?
    @Option(name: .customLong("set"), help: "Any other model option as key=value (repeatable).")
    var settings: [String] = []
    @Option(help: "Comma-separated cutoffs for the @K metrics.") var k = "10,20"
    @Flag(help: "Print one JSON object as the last line.") var json = false
    @OptionGroup var compute: ComputeOptions

    /// Options in priority order: config file, flags, --set.
    func options() throws -> ModelCatalog.Options {
        var options: ModelCatalog.Options = [:]
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else {
                throw ValidationError("--config: cannot read \(config)")
            }
            guard let object = try? JSONDecoder().decode(ModelCatalog.Options.self, from: data) else {
                throw ValidationError("--config: \(config) is not a JSON object of option names to values")
            }
            options = object
        }
        let flags: [(String, JSONValue?)] = [
            ("loss", loss.map(JSONValue.string)), ("epochs", epochs.map(\.json)), ("batch", batch.map(\.json)),
            ("dim", dim.map(\.json)), ("blocks", blocks.map(\.json)), ("heads", heads.map(\.json)),
            ("max-len", maxLength.map(\.json)), ("lr", lr.map(\.json)), ("dropout", dropout.map(\.json)),
            ("patience", patience.map(\.json)), ("time-budget", try timeBudget.map { try Self.seconds($0).json }),
            ("seed", seed.map(\.json)),
        ]
        for case (let key, let value?) in flags { options[key] = value }
        options.merge(try ModelRunner.settings(settings)) { $1 }
        return options
    }

    /// "90", "90s", "30m", "1.5h" → seconds.
    static func seconds(_ text: String) throws -> Double {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        var number = Substring(text.trimmingCharacters(in: .whitespaces)), scale = 1.0
        if let last = number.last, let unit = units[last] {
            scale = unit
            number = number.dropLast()
        }
        guard let value = Double(number), value > 0, value.isFinite else {
            throw ValidationError("--time-budget: '\(text)' is not a duration such as 90, 90s, 30m or 1h")
        }
        return value * scale
    }

    func run() throws {
        try compute.apply()
        let cutoffs = try ModelRunner.cutoffs(k)
        let options = try options()
        let recommender = try ModelRunner.make(models: [model], options: options, source: "option")[0]
        let experiment = try ModelRunner.experiment(source, cutoffs: cutoffs)
        let estimate = try ModelCatalog.estimatedTrainingBytes(
            model, options: options, shape: DataShape(experiment.dataset))
        Console.log("the fit's estimated peak memory: \(MemoryEstimate.describe(estimate))")
        var (report, row) = try ModelRunner.run(recommender, in: experiment, label: model)
        report.options = try ModelCatalog.resolve(model, options: options)
        if let out {
            let directory = URL(fileURLWithPath: out)
            try recommender.save(to: directory)
            try ModelArtifact.writeItemIDs(experiment.dataset.items, to: directory)
            try ModelArtifact.writeUserIDs(experiment.dataset.users, to: directory)
            report.savedTo = out
            Console.log("saved \(model) to \(out)")
        }
        report.peakRSSMegabytes = ProcessStats.peakRSSMegabytes()
        report.estimatedPeakMegabytes = (estimate / 1_048_576 * 10).rounded() / 10
        ModelRunner.printTable(experiment, rows: [row])
        if json { try Console.printJSON(ExperimentReport(models: [model: report], protocol: experiment.split.name)) }
    }
}
