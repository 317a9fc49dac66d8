import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels

/// How much a stated wish helps: each test user "asks" for the most specific category of the
/// item they went on to take, and the list blends that query with their model's scores.
struct QueryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "NDCG@10 with a natural-language query (the test item's category) against without, per blend weight.",
        discussion: """
            Leave-one-out by time, full ranking, history excluded, ties pessimistic, as `evaluate`; \
            reported on the validation users (to choose a weight) and the test users. Each user's query is the most specific category of their test item (e.g. "3D Printing \
            Filament"); test users whose item has no category are skipped. The query is matched against \
            every item's text (title, brand, categories, description) with BM25, or with the sentence \
            encoder given by --encoder, and blended with the model's scores (QueryBlend). Also times \
            matching one query against the catalogue and blending it (one thread).
            """)

    @OptionGroup var source: DataOptions
    @Option(help: "The model that scores the user's state.") var model = "sasrec"
    @Option(name: .customLong("set"), help: "A model option as key=value (repeatable).") var settings: [String] = []
    @Option(help: "A sentence-encoder folder (e.g. all-MiniLM-L6-v2) to match queries with; default BM25.")
    var encoder: String?
    @Option(help: "Comma-separated query weights to report (0 = the model alone, 1 = the query alone).")
    var weights = "0,0.1,0.3,0.5,0.7,1"
    @Flag(help: "Print one JSON object as the last line.") var json = false

    func run() throws {
        let blends = try weights.split(separator: ",").map { text -> QueryBlend in
            guard let w = Float(text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--weights: '\(text)' is not a number")
            }
            do { return try QueryBlend(weight: w) } catch { throw ValidationError("--weights: \(error)") }
        }
        let experiment = try ModelRunner.experiment(source, cutoffs: [10])
        let split = experiment.split, dataset = experiment.dataset
        let recommender = try ModelRunner.make(models: [model], options: try ModelRunner.settings(settings))[0]
        let fitStart = ProcessStats.now()
        try recommender.fit(split.train, validation: split.validation, progress: Console.progress)
        Console.log(String(format: "%@: fit %.1f s", model, ProcessStats.now() - fitStart))

        let indexStart = ProcessStats.now()
        let representation: ItemRepresentation =
            try encoder.map { .encoder(try SentenceEncoder(folder: URL(fileURLWithPath: $0))) } ?? .keywords(.bm25)
        let index = QueryIndex(itemTexts: ItemText.all(of: dataset), representation: representation)
        Console.log(
            String(
                format: "query index (%@) over %d items: %.1f s", index.kind, dataset.itemCount,
                ProcessStats.now() - indexStart))

        // Each distinct query is matched once; its time is one query request's matching cost.
        var similarities: [String: [Float]] = [:]
        var matchSeconds: [Double] = [], blendSeconds: [Double] = []
        /// NDCG@10 and HR@10 per blend over the users of `heldOut` whose item has a category.
        func measure(_ heldOut: HeldOut, history: Dataset) throws -> (ndcg: [Double], hr: [Double], users: Int) {
            var hits = [Double](repeating: 0, count: blends.count), gains = hits
            var users = 0
            for (row, user) in heldOut.users.enumerated() {
                let target = heldOut.items[row][0]
                guard let category = dataset.itemInfo[Int(target)]?.categories.last, !category.isEmpty else { continue }
                if similarities[category] == nil {
                    let start = ProcessStats.now()
                    similarities[category] = try index.similarities(to: category)
                    matchSeconds.append(ProcessStats.now() - start)
                }
                let state = UserState(user: user, in: history)
                let scores = recommender.scores(for: state)
                var excluded = [Bool](repeating: false, count: scores.count)
                for i in state.items where i != target { excluded[Int(i)] = true }
                for (k, blend) in blends.enumerated() {
                    let start = ProcessStats.now()
                    let blended = blend.blend(model: scores, query: similarities[category]!).scores
                    if k == blends.count / 2 { blendSeconds.append(ProcessStats.now() - start) }
                    // The evaluator's rank: pessimistic ties, history excluded.
                    let rank = blended.withUnsafeBufferPointer { b in
                        excluded.withUnsafeBufferPointer {
                            RankingOutcome.rank(of: Int(target), scores: b, excluded: $0, limit: 10)
                        }
                    }
                    if rank < 10 { hits[k] += 1 }
                    gains[k] += RankingOutcome.ndcg(rank: rank, k: 10)
                }
                users += 1
            }
            guard users > 0 else { throw ValidationError("no held-out item has a category to ask for") }
            return (gains.map { $0 / Double(users) }, hits.map { $0 / Double(users) }, users)
        }
        // Validation (history: training) to choose a weight; test (history: training + validation) to report.
        let valid = try measure(split.validation, history: split.train)
        let test = try measure(split.test, history: split.trainWithValidation)
        let sortedMatch = matchSeconds.sorted(), sortedBlend = blendSeconds.sorted()
        func percentile(_ values: [Double], _ p: Double) -> Double {
            values.isEmpty ? 0 : values[min(values.count - 1, Int(p * Double(values.count)))]
        }
        var rows: [[String: JSONValue]] = []
        var table: [[String]] = []
        let chosen = valid.ndcg.indices.max { valid.ndcg[$0] < valid.ndcg[$1] }!
        for (k, blend) in blends.enumerated() {
            table.append(
                [String(blend.weight) + (k == chosen ? " (best on valid)" : "")]
                    + [valid.ndcg[k], test.ndcg[k], test.hr[k]].map { String(format: "%.4f", $0) })
            rows.append([
                "model": model.json, "query_index": index.kind.json, "weight": Double(blend.weight).json,
                "valid": .object(["NDCG@10": valid.ndcg[k].json]), "best_on_valid": (k == chosen).json,
                "test": .object(["NDCG@10": test.ndcg[k].json, "HR@10": test.hr[k].json]),
                "valid_users": valid.users.json, "test_users": test.users.json,
                "match_ms_median": (percentile(sortedMatch, 0.5) * 1e3).json,
                "match_ms_p99": (percentile(sortedMatch, 0.99) * 1e3).json,
                "blend_ms_median": (percentile(sortedBlend, 0.5) * 1e3).json,
            ])
        }
        Console.log("")
        Console.log(
            "\(model) with a query of the held-out item's category (\(valid.users) validation, \(test.users) test users), \(index.kind) matching:"
        )
        Console.log(Console.table(["query weight", "valid NDCG@10", "test NDCG@10", "test HR@10"], table))
        Console.log(
            String(
                format:
                    "matching one query against %d items: median %.3f ms, p99 %.3f ms (%d queries); blending: median %.3f ms",
                dataset.itemCount, percentile(sortedMatch, 0.5) * 1e3, percentile(sortedMatch, 0.99) * 1e3,
                sortedMatch.count, percentile(sortedBlend, 0.5) * 1e3))
        Console.log(
            "command: swiftrec bench query --data \(source.data) --format \(source.format.rawValue) --model \(model)"
                + settings.map { " --set \($0)" }.joined() + (encoder.map { " --encoder \($0)" } ?? "")
                + " --weights \(weights)")
        if json { try Console.printResults(rows) }
    }
}
