import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels

/// How well users with no history yet are served from their stated attributes alone.
struct NewUserBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new-users",
        abstract: "Hold out a share of users entirely; rank each one's first items from their attributes alone.",
        discussion: """
            A seeded --fraction of the users lose all their events; the models train on everyone \
            else (every user's attributes stay known). For each held-out user the targets are the \
            first --first distinct items they interacted with (by time); every item is ranked, \
            nothing is excluded. Compares popularity with segment-pop (popularity among users who \
            share each stated attribute).
            """)

    @OptionGroup var source: DataOptions
    @Option(help: "Share of users held out as new.") var fraction = 0.2
    @Option(help: "Targets per new user: their first N distinct items.") var first = 10
    @Option(help: "Models, comma-separated.") var models = "pop,segment-pop"
    @Option(name: .customLong("set"), help: "A model option as key=value (repeatable).") var settings: [String] = []
    @Option(help: "Random seed of the user split.") var seed: UInt64 = 1
    @Flag(help: "Print one JSON object as the last line.") var json = false

    func run() throws {
        guard fraction > 0, fraction < 1 else { throw ValidationError("--fraction: must be between 0 and 1") }
        guard first >= 1 else { throw ValidationError("--first: must be at least 1") }
        let names = models.split(separator: ",").map(String.init)
        let options = try ModelRunner.settings(settings)
        let made = try ModelRunner.make(models: names, options: options)
        let dataset = try ModelRunner.load(source)
        guard dataset.userInfo.contains(where: { !($0?.attributes.isEmpty ?? true) }) else {
            throw ValidationError("--data: no user states any attribute")
        }
        let split = Split.newUsers(dataset, fraction: fraction, first: first, seed: seed)
        let (training, heldOut) = (split.train, split.test)
        Console.log(
            "\(heldOut.users.count) new users (attributes known, no events), \(training.eventCount) training events")

        var rows: [[String: JSONValue]] = []
        var table: [[String]] = []
        for (name, model) in zip(names, made) {
            try model.fit(training, validation: nil, progress: Console.progress)
            let result = Evaluator.evaluate(
                model, history: training, heldOut: heldOut, options: EvaluationOptions(ks: [10, 20]))
            let m = result.metrics
            rows.append([
                "model": name.json, "users": result.users.json, "HR@10": (m["HR@10"] ?? 0).json,
                "NDCG@10": (m["NDCG@10"] ?? 0).json,
                "Recall@10": (m["Recall@10"] ?? 0).json, "NDCG@20": (m["NDCG@20"] ?? 0).json,
                "Recall@20": (m["Recall@20"] ?? 0).json,
            ])
            table.append(
                [name]
                    + ["HR@10", "NDCG@10", "Recall@10", "NDCG@20", "Recall@20"].map {
                        String(format: "%.4f", m[$0] ?? 0)
                    })
        }
        Console.log(Console.table(["model", "HR@10", "NDCG@10", "Recall@10", "NDCG@20", "Recall@20"], table))
        Console.log(
            "command: swiftrec bench new-users --data \(source.data) --format \(source.format.rawValue) --fraction \(fraction) --first \(first) --seed \(seed) --models \(models)\(settings.map { " --set \($0)" }.joined())\(json ? " --json" : "")"
        )
        if json { try Console.printResults(rows) }
    }
}
