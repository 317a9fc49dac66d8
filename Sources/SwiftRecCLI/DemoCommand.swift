import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import SwiftRecServing
import SwiftRecTensor

/// The one-command tour: generated users with drifting interests, stored in SQLite, models
/// trained and evaluated, then the HTTP service with a few requests to try.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate a catalogue and users with drifting interests, train and evaluate models, then serve them.",
        discussion: """
            Runs unattended: the data goes into a fresh SQLite file (--db), SASRec trains for \
            --seconds of wall time next to popularity, segment popularity, item-kNN, the text model, \
            LightGCN (also over item categories), CFGAN, Caser and the feature rankers FM and DeepFM, \
            an evaluation table is printed \
            (leave-one-out, full ranking), and the service starts on --port with SASRec active. \
            --no-serve stops after the table.
            """)

    @Option(help: "The SQLite file to create (replaced if it exists).") var db = "swiftrec-demo.sqlite"
    @Option(help: "The port to serve on.") var port = 8080
    @Option(help: "Users to generate.") var users = 2000
    @Option(help: "SASRec's training budget in seconds.") var seconds = 30.0
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(name: .customLong("no-serve"), help: "Stop after the evaluation.") var noServe = false
    @Flag(help: "Print one JSON object (the evaluation) as the last line before serving.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() async throws {
        try compute.apply()
        let config = SyntheticConfig(
            users: users, categories: 20, itemsPerCategory: 25, eventsPerUser: 20...60, switches: .probability(0.04),
            popularityExponent: 0.8, sequentialProbability: 0.6, noiseProbability: 0.03, seed: seed,
            attributeAffinity: 0.7)
        let data = SyntheticGenerator.generate(config)
        let dataset = data.dataset
        Console.log(
            "SwiftRec \(SwiftRecInfo.version) demo: \(dataset.userCount) users, \(dataset.itemCount) items in \(config.categories) categories, \(dataset.eventCount) events; kernels \(GEMM.nativeISA), \(Threading.threadCount) threads"
        )

        let modelDirectory = ServeCommand.defaultModelDirectory(db: db)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        try? FileManager.default.removeItem(atPath: modelDirectory)
        let store = try await ImportCommand.store(dataset, in: db)

        let experiment = Experiment(dataset: dataset, cutoffs: [10, 20])
        var sasrec = SASRecConfig()
        sasrec.maxLength = 50
        sasrec.dropout = 0.2
        sasrec.training.learningRate = 2e-3
        sasrec.training.timeBudget = seconds
        sasrec.training.patience = 5
        // The feature rankers read the users' attributes, which drive their interests here.
        var fm = FMConfig()
        fm.training.timeBudget = seconds / 3
        var deepfm = DeepFMConfig()
        deepfm.training.timeBudget = seconds / 3
        // Input dropout pays off over many epochs; in a 10 s budget it only slows the fit.
        deepfm.inputDropout = false
        // The graph model: propagation over the user-item graph, a short budget at a higher rate.
        var lightgcn = LightGCNConfig()
        (lightgcn.learningRate, lightgcn.timeBudget) = (0.01, seconds / 6)
        // The convolutional sequence model, on the same short budget.
        var caser = CaserConfig()
        (caser.training.learningRate, caser.training.timeBudget, caser.dropout) = (1e-2, seconds / 6, 0.2)
        // The same graph with the items' categories as nodes.
        var lightgcnKG = lightgcn
        lightgcnKG.knowledge = true
        // The adversarial model: a generator of purchase vectors against a discriminator. Its
        // defaults need hundreds of rounds; smaller networks at a higher rate fit the short budget.
        var cfgan = CFGANConfig()
        (cfgan.generatorLayers, cfgan.discriminatorLayers) = ([64], [32])
        (cfgan.generatorLearningRate, cfgan.discriminatorLearningRate) = (3e-3, 3e-3)
        (cfgan.generatorSteps, cfgan.discriminatorSteps) = (2, 1)
        (cfgan.timeBudget, cfgan.validateEvery) = (seconds / 6, 2)
        let models: [any Recommender] = [
            Popularity(), try SegmentPopularity(), try ItemKNN(neighbors: 100, similarity: .cosine, shrinkage: 10),
            try ContentRecommender(), try LightGCN(config: lightgcn), try LightGCN(config: lightgcnKG),
            try CFGAN(config: cfgan), try FM(config: fm), try DeepFM(config: deepfm), try Caser(config: caser),
            try SASRec(config: sasrec),
        ]
        var rows: [[String]] = []
        var reports: [String: ModelReport] = [:]
        for model in models {
            let (report, row) = try ModelRunner.run(model, in: experiment)
            rows.append(row)
            reports[model.name] = report
        }
        ModelRunner.printTable(experiment, rows: rows)
        if json { try Console.printJSON(ExperimentReport(models: reports, protocol: experiment.split.name)) }
        if noServe { return }

        // Saved and recorded in the store: `swiftrec serve --db <db>` brings them back.
        let service = RecommendationService(store: store, modelDirectory: URL(fileURLWithPath: modelDirectory))
        for model in models {
            try await service.install(
                ServableModel(name: model.name, model: model, items: dataset.items, users: dataset.users),
                metrics: reports[model.name]?.headline() ?? [:],
                activate: model.name == "sasrec")
        }
        let user = dataset.users.ids[0]
        let clicked = data.categoryNames.count > 3 ? 3 * config.itemsPerCategory + 5 : 0
        let next = dataset.items.ids[clicked]
        let base = "http://127.0.0.1:\(port)"
        // A brand-new item in the clicked item's category: only its text is known.
        let nextCategory = data.categoryNames[data.itemCategory[clicked]]
        let newItem =
            #"{"title": "Just in: \#(nextCategory.lowercased()) starter kit", "description": "Everything for people into \#(nextCategory.lowercased()).", "categories": ["\#(nextCategory)"]}"#
        Console.log(
            """

            Try (SASRec is active; every posted event counts in the next request):
              curl '\(base)/users/\(user)/recommendations?n=5&explain=true'
              curl -X POST \(base)/events -H 'Content-Type: application/json' -d '{"user": "\(user)", "item": "\(next)", "type": "click"}'
              curl '\(base)/users/\(user)/recommendations?n=5'
              curl '\(base)/users/\(user)/interests?window=10'
              curl -X PUT \(base)/users/newcomer -d '{"attributes": {"age": "24", "gender": "female", "location": "\(dataset.userInfo[0]?.attributes["location"] ?? "")"}}'
              curl '\(base)/users/newcomer/recommendations?n=5'
              curl -X POST \(base)/models/deepfm/activate
              curl '\(base)/users/newcomer/recommendations?n=5&explain=true'
              curl -X POST \(base)/models/sasrec/activate
              curl -X POST \(base)/sessions/recommendations -d '{"events": [{"item": "\(next)"}], "n": 5}'
              curl '\(base)/items/\(next)/similar?n=5'
              curl \(base)/models
              curl -X POST \(base)/models/itemknn/activate
              curl -X PUT \(base)/items/new-kit -d '\(newItem)'
              curl -X POST \(base)/models/content/activate
              curl -X POST \(base)/sessions/recommendations -d '{"events": [{"item": "\(next)"}], "n": 5}'
              curl \(base)/metrics
            Ctrl-C stops the server.
            """)
        try await ServeCommand.run(service, host: "127.0.0.1", port: port)
    }
}
