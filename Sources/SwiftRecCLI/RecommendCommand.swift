import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecServing

/// One user's list from a saved model, through the service's ranking steps, optionally steered
/// by what they ask for in words.
struct RecommendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Top items for one user of a data file from a saved model, optionally steered by a query in words.",
        discussion: """
            The user's state is their whole history in --data, as the evaluator and the service build it; \
            seen items are excluded. With --query, the query is matched against the items' text (BM25, or \
            the sentence encoder of --encoder) and blended with the model's scores (docs/serving.md, "Queries").
            """)

    @Option(name: .customLong("model-dir"), help: "A saved model directory (swiftrec train --out).")
    var modelDirectory: String
    @OptionGroup var source: DataOptions
    @Option(help: "The user's id in --data.") var user: String
    @Option(help: "What the user asks for in words, e.g. \"something for astronomy\".") var query: String?
    @Option(name: .customLong("query-weight"), help: "The query's weight in the blend, 0 to 1.")
    var queryWeight: Float = RecommendationRequest.defaultQueryWeight
    @Option(help: "A sentence-encoder folder (e.g. all-MiniLM-L6-v2) to match the query with; default BM25.")
    var encoder: String?
    @Option(help: "How many items.") var n = 10
    @Flag(help: "Say which history items and which query words drove each item.") var explain = false
    @Flag(help: "Print one JSON object as the last line.") var json = false

    func run() throws {
        guard (1...1000).contains(n) else { throw ValidationError("--n: expected 1 to 1000, got \(n)") }
        guard queryWeight >= 0, queryWeight <= 1 else {
            throw ValidationError("--query-weight: expected a number from 0 to 1, got \(queryWeight)")
        }
        var request = RecommendationRequest(count: n, explain: explain)
        request.queryWeight = queryWeight
        if let query {
            do { request.query = try QueryIndex.checked(query) } catch { throw ValidationError("--query: \(error)") }
        }
        let servable = try ServableModel.load(from: URL(fileURLWithPath: modelDirectory))
        let dataset = try ModelRunner.load(source)
        guard let u = dataset.users.index(of: user) else {
            throw ValidationError("--user: no user '\(user)' in --data")
        }
        let events = zip(dataset.sequences.items(of: Int(u)), dataset.sequences.timestamps(of: Int(u))).map {
            Event(user: user, item: dataset.items.id(at: $0.0), timestamp: $0.1)
        }
        let state = servable.state(user: user, history: UserHistory(events))
        // The model's catalogue order, with each item's text from --data.
        var texts = [String](repeating: "", count: servable.items.count)
        for k in 0..<servable.items.count {
            if let i = dataset.items.index(of: servable.items.id(at: Int32(k))) {
                texts[k] = ItemText.of(dataset.itemInfo.indices.contains(Int(i)) ? dataset.itemInfo[Int(i)] : nil)
            }
        }
        let index =
            request.query == nil
            ? nil
            : QueryIndex(
                itemTexts: texts,
                representation: try encoder.map { .encoder(try SentenceEncoder(folder: URL(fileURLWithPath: $0))) }
                    ?? .keywords(.bm25))
        let list = try RecommendationPipeline.list(
            servable, state: state, request: request, queryIndex: index, itemTexts: texts)
        let titles = list.map { recommendation in
            dataset.items.index(of: recommendation.item).flatMap { dataset.itemInfo[Int($0)]?.title } ?? ""
        }
        Console.log(
            "\(servable.model.name) for \(user) (\(events.count) events)"
                + (request.query.map { ", query \"\($0)\"" } ?? "")
                + ":")
        Console.log(
            Console.table(
                ["#", "item", "score", "query share", "title"],
                list.enumerated().map { k, r in
                    [
                        String(k + 1), r.item, String(format: "%.4f", r.score),
                        r.query.map { String(format: "%.2f", $0.share) } ?? "-", String(titles[k].prefix(60)),
                    ]
                }))
        if json { try Console.printJSON(RecommendationList(user: user, model: servable.name, recommendations: list)) }
    }
}
