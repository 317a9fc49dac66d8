import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels

/// One multi-scenario model against one model per scenario and one shared model, on the CTR
/// protocol, AUC per scenario.
struct ScenarioBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenarios",
        abstract: "Compare the multi-scenario model (star) with one model per scenario and one shared model.",
        discussion: """
            The CTR split (evaluate --protocol ctr) once; a user's scenario is the group their \
            --attribute falls in (--groups, e.g. ML-1M's three age domains 1|18,25,35|45|50|56). \
            star trains once over every scenario; the --baseline model trains once on everything \
            (shared) and once on each scenario's training examples alone (per scenario). Each is \
            judged on each scenario's test examples: AUC, GAUC, LogLoss.
            """)

    @OptionGroup var source: DataOptions
    @Option(help: "The user attribute that names a user's scenario.") var attribute = "age"
    @Option(help: "Scenarios as comma-separated groups of |-separated attribute values.")
    var groups = "1|18,25,35|45|50|56"
    @Option(help: "The single-scenario model for the shared and per-scenario baselines.") var baseline = "deepfm"
    @Option(
        name: .customLong("set"),
        help: "A model option as key=value (repeatable; star.… and the baseline's name.… scope it).")
    var settings: [String] = []
    @Option(help: "Random seed of the split.") var seed: UInt64 = 1
    @Flag(help: "Print one JSON object as the last line.") var json = false

    func run() throws {
        let groupList = groups.split(separator: ",").map(String.init)
        guard !groupList.isEmpty, groupList.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("--groups: give at least one group of |-separated values")
        }
        guard let entry = ModelCatalog.entry(baseline), entry.inputs.contains(.features) else {
            throw ValidationError("--baseline: '\(baseline)' is not a feature model (fm, deepfm, widedeep, dcnv2, din)")
        }
        var options = try ModelRunner.settings(settings)
        options["star.scenario-attribute"] = .string(attribute)
        options["star.scenario-groups"] = .string(groups)
        _ = try ModelRunner.make(models: ["star", baseline], options: options)
        let dataset = try ModelRunner.load(source)
        let experiment = CTRExperiment(dataset: dataset, seed: seed)
        // The grouping star uses, so the bench's scenarios are the model's.
        let scenarios = ScenarioGroups(attribute: attribute, groups: groupList)
        let userScenario = (0..<dataset.userCount).map {
            scenarios.scenario(features: dataset.userInfo[$0]?.attributes ?? [:])
        }
        func parts(_ pairs: LabeledPairs) -> [LabeledPairs] {
            groupList.indices.map { s in
                pairs.subset((0..<pairs.count).filter { userScenario[Int(pairs.users[$0])] == Int32(s) })
            }
        }
        let testParts = parts(experiment.test), validationParts = parts(experiment.validation)
        Console.log(
            "\(experiment.name); scenarios by \(attribute): "
                + groupList.indices.map { "\(groupList[$0]) \(testParts[$0].count) test examples" }
                .joined(separator: ", "))

        var rows: [[String: JSONValue]] = []
        var table: [[String]] = []
        func record(_ variant: String, _ s: Int, _ metrics: [String: Double], fitSeconds: Double) {
            rows.append([
                "model": variant.json, "scenario": groupList[s].json, "AUC": (metrics["AUC"] ?? 0).json,
                "GAUC": (metrics["GAUC"] ?? 0).json, "LogLoss": (metrics["LogLoss"] ?? 0).json,
                "fit_seconds": fitSeconds.json,
            ])
            table.append(
                [variant, groupList[s]] + ["AUC", "GAUC", "LogLoss"].map { String(format: "%.4f", metrics[$0] ?? 0) }
                    + [String(format: "%.1f", fitSeconds)])
        }
        // Trained once over every scenario: star, and the shared baseline.
        for name in ["star", baseline] {
            let model = try ModelCatalog.make(name, options: options, ignoringUnknown: true)
            let report = try experiment.run(model, progress: Console.progress)
            for s in groupList.indices {
                let metrics = CTRExperiment.metrics(model, pairs: testParts[s], history: experiment.train)
                record(
                    name == baseline ? "\(baseline) (shared)" : name, s, metrics.metrics, fitSeconds: report.fitSeconds)
            }
        }
        // One baseline per scenario, on that scenario's training examples only.
        for s in groupList.indices {
            let train = experiment.train.sharingMaps(
                keeping: experiment.train.log.users.map { userScenario[Int($0)] == Int32(s) })
            let model = try ModelCatalog.make(baseline, options: options, ignoringUnknown: true)
            (model as? any PairScoring)?.validationPairs = validationParts[s]
            let start = Date()
            try model.fit(train, validation: nil, progress: Console.progress)
            let metrics = CTRExperiment.metrics(model, pairs: testParts[s], history: experiment.train)
            record("\(baseline) (scenario's own)", s, metrics.metrics, fitSeconds: Date().timeIntervalSince(start))
        }
        Console.log(Console.table(["model", "scenario", "AUC", "GAUC", "LogLoss", "fit s"], table))
        Console.log(
            "command: swiftrec bench scenarios --data \(source.data) --format \(source.format.rawValue) --attribute \(attribute) --groups '\(groups)' --baseline \(baseline) --seed \(seed)\(settings.map { " --set \($0)" }.joined())\(json ? " --json" : "")"
        )
        if json { try Console.printResults(rows) }
    }
}
