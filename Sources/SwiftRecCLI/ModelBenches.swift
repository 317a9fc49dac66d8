import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import SwiftRecTensor

struct InterestSwitchBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interest-switch",
        abstract: "How many new events each model needs before half its top 10 follows a user's new interest.",
        discussion: """
            Generates users whose interest switches category at known times, trains each model on \
            80% of the users, then replays the other users as new users: from the events before a \
            switch, adding one new event at a time, until at least half of the top 10 (history \
            excluded) is in the new category.
            """)

    @Option(help: "Comma-separated model names.")
    var models = "pop,itemknn,userknn,cf-fusion,ease,bpr,ials,sasrec,gru4rec,lstm,bert4rec"
    @Option(help: "Generated users.") var users = 3000
    @Option(help: "Categories.") var categories = 20
    @Option(name: .customLong("items-per-category"), help: "Items per category.") var itemsPerCategory = 50
    @Option(name: .customLong("max-events"), help: "The most new events replayed after a switch.")
    var maxEvents = 10
    @Option(help: "Epochs for the sequence models.") var epochs = 20
    @Option(name: .customLong("set"), help: "A model option as key=value (repeatable).") var settings: [String] = []
    @Option(help: "Generator seed.") var seed: UInt64 = 7
    @Flag(help: "Print one JSON object as the last line.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        let names = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let options = try ModelRunner.settings(settings)
        _ = try ModelRunner.make(models: names, options: options)  // bad names and options fail before the data
        let data = SyntheticGenerator.generate(
            SyntheticConfig(
                users: users, categories: categories, itemsPerCategory: itemsPerCategory, eventsPerUser: 30...80,
                switches: .perUser(2), popularityExponent: 1.0, sequentialProbability: 0.3, noiseProbability: 0.05,
                seed: seed))
        let trainUsers = (0..<users).filter { $0 % 5 != 0 }
        let probeUsers = (0..<users).filter { $0 % 5 == 0 }
        let train = InterestSwitchProbe.trainingData(data, users: trainUsers)
        let cases = InterestSwitchProbe.cases(data, users: probeUsers, maxEvents: maxEvents).count
        Console.log(
            "generated \(users) users, \(data.dataset.itemCount) items in \(categories) categories; training on \(trainUsers.count) users, probing \(cases) switches of \(probeUsers.count) new users"
        )
        var rows: [[String: JSONValue]] = []
        var table: [[String]] = []
        for name in names {
            var modelOptions = options
            if ModelCatalog.acceptedKeys(name).contains("epochs"), modelOptions["epochs"] == nil {
                modelOptions["epochs"] = .number(Double(epochs))
            }
            let model = try ModelCatalog.make(name, options: modelOptions, ignoringUnknown: true)
            let start = ProcessStats.now()
            try model.fit(train, validation: nil, progress: Console.progress)
            let fitSeconds = ProcessStats.now() - start
            let result = InterestSwitchProbe.measure(model, data: data, users: probeUsers, maxEvents: maxEvents)
            rows.append([
                "model": name.json, "cases": result.cases.json, "mean_events_to_half": result.meanEvents.json,
                "median_events_to_half": result.medianEvents.json, "never_reached": result.neverReached.json,
                "new_category_share_after": result.shareAfter.json, "fit_seconds": fitSeconds.json,
            ])
            table.append(
                [
                    name, String(format: "%.2f", result.meanEvents), String(format: "%.1f", result.medianEvents),
                    String(result.neverReached),
                ] + [0, 1, 2, 3, 5].map { String(format: "%.2f", result.shareAfter[min($0, maxEvents)]) })
            Console.log(String(format: "%@: mean %.2f new events, fit %.1f s", name, result.meanEvents, fitSeconds))
        }
        Console.log("")
        Console.log("New events after a switch until ≥ 50% of the top 10 is in the new category (\(cases) switches):")
        Console.log(
            Console.table(
                ["model", "mean", "median", "never", "share@0", "share@1", "share@2", "share@3", "share@5"], table))
        Console.log(
            "command: swiftrec bench interest-switch --models \(models) --users \(users) --epochs \(epochs) --seed \(seed)"
        )
        if json { try Console.printResults(rows) }
    }
}

struct InferenceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inference",
        abstract: "Time scoring all items for one user (one thread) and for a batch of users, with a saved model.")

    @Option(name: .customLong("model-dir"), help: "A saved model directory (swiftrec train --out).")
    var modelDirectory: String
    @OptionGroup var source: DataOptions
    @Option(help: "Users in the batch measurement.") var batch = 256
    @Option(help: "Threads for the batch measurement.") var threads = 2
    @Option(help: "Seconds of repeats per measurement (with --quantize int8: per precision, in four turns).")
    var seconds = 2.0
    @Option(
        help: """
            int8: measure the model at float, then with int8 copies of its weights and item table \
            (models with a quantize option), in the same run.
            """)
    var quantize: ScoringPrecision = .float
    @Option(
        name: .customLong("int8-kernel"),
        help: "The int8 product's code path (amx, avx512-vnni, avx2, portable, neon); default: the best here.")
    var int8Kernel: QuantizedKernelPath?
    @Flag(help: "Print one JSON object as the last line.") var json = false

    func run() throws {
        if let int8Kernel, !QuantizedKernelPath.use(int8Kernel) {
            throw ValidationError("--int8-kernel \(int8Kernel): this CPU cannot run it")
        }
        let model = try ModelCatalog.load(from: URL(fileURLWithPath: modelDirectory))
        let dataset = try ModelRunner.load(source)
        guard dataset.itemCount == model.itemCount else {
            throw ValidationError("--data has \(dataset.itemCount) items, the model \(model.itemCount)")
        }
        let switching = precisionSwitching(of: model)
        if quantize == .int8, switching == nil {
            throw ValidationError("--quantize int8: \(model.name) has no int8 scoring")
        }
        // The longest histories: the worst case for sequence models.
        let users = (0..<dataset.userCount).sorted {
            dataset.sequences.items(of: $0).count > dataset.sequences.items(of: $1).count
        }
        let states = users.prefix(batch).map { UserState(user: Int32($0), in: dataset) }
        var rows: [[String: JSONValue]] = []
        var table: [[String]] = []
        let precisions = quantize == .int8 ? [ScoringPrecision.float, .int8] : [.float]
        // Precisions take turns (float, int8, float, int8, …), each turn a quarter of the time,
        // so that a slow stretch of a shared machine falls on both sides of the ratio.
        let turns = precisions.count > 1 ? 4 : 1
        var times = [(one: Double, many: Double)](repeating: (.infinity, .infinity), count: precisions.count)
        for _ in 0..<turns {
            for (index, precision) in precisions.enumerated() {
                switching?.setScoringPrecision(precision)
                let (one, many) = measure(model, states, seconds: seconds / Double(turns))
                times[index] = (min(times[index].one, one), min(times[index].many, many))
            }
        }
        for (precision, (one, many)) in zip(precisions, times) {
            switching?.setScoringPrecision(precision)
            let tableBytes = switching?.scoringTableBytes
            let history = states[0].items.count
            table.append([
                precision.rawValue, String(format: "%.3f", one * 1e3), String(format: "%.1f", many * 1e3),
                String(format: "%.3f", many * 1e3 / Double(states.count)),
                tableBytes.map { String(format: "%.2f", Double($0) / 1e6) } ?? "-",
            ])
            rows.append([
                "model": model.name.json, "precision": precision.rawValue.json, "items": model.itemCount.json,
                "history": history.json, "one_user_ms": (one * 1e3).json, "batch": states.count.json,
                "batch_ms": (many * 1e3).json, "threads": threads.json,
                "item_table_mb": tableBytes.map { (Double($0) / 1e6).json } ?? .null,
                "peak_rss_mb": (ProcessStats.peakRSSMegabytes() ?? -1).json,
                "int8_kernel": (precision == .int8 ? QuantizedKernelPath.current.description.json : .null),
            ])
        }
        Console.log(
            "\(model.name): all \(model.itemCount) items for the user with the longest history (\(states[0].items.count) events) on 1 thread, and for \(states.count) users on \(threads) threads:"
        )
        Console.log(Console.table(["precision", "one user ms", "batch ms", "ms/user", "item table MB"], table))
        if times.count == 2 {
            Console.log(
                String(
                    format: "int8 speed-up: %.2fx for one user, %.2fx for the batch (int8 kernel: %@)",
                    times[0].one / times[1].one, times[0].many / times[1].many, QuantizedKernelPath.current.description)
            )
        }
        Console.log(
            "command: swiftrec bench inference --model-dir \(modelDirectory) --data \(source.data) --format \(source.format.rawValue) --batch \(batch) --threads \(threads)"
                + (quantize == .int8 ? " --quantize int8" : "") + (int8Kernel.map { " --int8-kernel \($0)" } ?? ""))
        if json { try Console.printResults(rows) }
    }

    /// Best times of scoring one state on one thread and all `states` on `threads`, repeated for
    /// `seconds` each.
    private func measure(_ model: any Recommender, _ states: [UserState], seconds: Double) -> (
        one: Double, many: Double
    ) {
        var scores = [Float](repeating: 0, count: states.count * model.itemCount)
        Threading.setThreadCount(1)
        let one = scores.withUnsafeMutableBufferPointer { buffer in
            bestTime(seconds: seconds) {
                model.score(states[0], into: UnsafeMutableBufferPointer(rebasing: buffer[0..<model.itemCount]))
            }
        }
        Threading.setThreadCount(threads)
        let many = scores.withUnsafeMutableBufferPointer { buffer in
            bestTime(seconds: seconds) { model.scoreBatch(states, into: buffer) }
        }
        return (one, many)
    }
}

extension QuantizedKernelPath: ExpressibleByArgument {
    public init?(argument: String) {
        guard let path = Self.allCases.first(where: { $0.description == argument }) else { return nil }
        self = path
    }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}
