import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels

/// What MMR re-ranking and category caps buy in variety and cost in accuracy.
struct DiversityBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diversity",
        abstract: "Fit a model, then re-rank each test user's top candidates with MMR at several λ and caps.",
        discussion: """
            Leave-one-out by time. For every test user the model's best --pool items (history \
            excluded) are re-ranked to 10; reported per setting: NDCG@10, HR@10, intra-list \
            diversity (1 − Jaccard of category sets, mean over pairs), distinct categories per list, \
            and catalogue coverage.
            """)

    @OptionGroup var source: DataOptions
    @Option(help: "The model.") var model = "itemknn"
    @Option(name: .customLong("set"), help: "A model option as key=value (repeatable).") var settings: [String] = []
    @Option(help: "Comma-separated λ values (1 = no MMR).") var lambdas = "1,0.9,0.8,0.7,0.5,0.3"
    @Option(help: "Comma-separated per-category caps to add at λ = 1 (0 = none).") var caps = "2,3"
    @Option(help: "MMR similarity: category or embedding (the model's item vectors).") var by = "category"
    @Option(help: "Candidates re-ranked per user.") var pool = 100
    @Flag(help: "Print one JSON object as the last line.") var json = false

    func run() throws {
        let lambdaList = try lambdas.split(separator: ",").map { text -> Double in
            guard let v = Double(text), v >= 0, v <= 1 else {
                throw ValidationError("--lambdas: '\(text)' is not in 0…1")
            }
            return v
        }
        let capList = try caps.split(separator: ",").map { text -> Int in
            guard let v = Int(text), v >= 0 else { throw ValidationError("--caps: '\(text)' is not a count") }
            return v
        }.filter { $0 > 0 }
        guard by == "category" || by == "embedding" else { throw ValidationError("--by: category or embedding") }
        let options = try ModelRunner.settings(settings)
        let recommender = try ModelRunner.make(models: [model], options: options)[0]
        let experiment = try ModelRunner.experiment(source, cutoffs: [10])
        let (dataset, split) = (experiment.dataset, experiment.split)
        try recommender.fit(split.train, validation: split.validation, progress: Console.progress)
        let similarity: ItemSimilarity
        if by == "embedding" {
            guard let vectors = (recommender as? any ItemVectorProviding)?.itemVectors else {
                throw ValidationError("--by embedding: \(model) has no item vectors")
            }
            similarity = .vectors(vectors)
        } else {
            similarity = .categories(of: dataset)
        }
        let settingsList =
            lambdaList.map { Diversification(lambda: $0) } + capList.map { Diversification(lambda: 1, categoryCap: $0) }
        let rows = DiversityEvaluation.run(
            recommender, split: split, settings: settingsList, pool: pool, similarity: similarity, dataset: dataset)
        let base = rows.first { $0.lambda == 1 && $0.categoryCap == nil }?.ndcg
        Console.log(
            Console.table(
                ["λ", "cap", "NDCG@10", "HR@10", "ΔNDCG", "ILD", "categories/list", "coverage"],
                rows.map { row in
                    [
                        String(format: "%.2f", row.lambda), row.categoryCap.map(String.init) ?? "-",
                        String(format: "%.4f", row.ndcg), String(format: "%.4f", row.hitRate),
                        base.map { String(format: "%+.1f%%", 100 * (row.ndcg - $0) / max($0, 1e-12)) } ?? "",
                        String(format: "%.4f", row.diversity), String(format: "%.2f", row.categoriesPerList),
                        String(format: "%.4f", row.coverage),
                    ]
                }))
        Console.log(
            "command: swiftrec bench diversity --data \(source.data) --format \(source.format.rawValue) --model \(model) --lambdas \(lambdas) --caps \(caps) --by \(by) --pool \(pool)"
        )
        if json {
            try Console.printJSON([
                "results": rows.map { row -> [String: JSONValue] in
                    [
                        "model": model.json, "lambda": row.lambda.json, "category_cap": (row.categoryCap ?? 0).json,
                        "ndcg@10": row.ndcg.json,
                        "hr@10": row.hitRate.json, "intra_list_diversity": row.diversity.json,
                        "categories_per_list": row.categoriesPerList.json, "coverage": row.coverage.json, "by": by.json,
                    ]
                }
            ])
        }
    }
}
