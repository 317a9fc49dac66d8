import ArgumentParser
import Foundation
import Hummingbird
import SwiftRecData
import SwiftRecModels
import SwiftRecServing

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve recommendations over HTTP from a SQLite store and saved models.",
        discussion: """
            Events posted to the API are durable (SQLite WAL, fsync on every commit) before the \
            response and count in the user's next recommendation. Load data with \
            `swiftrec import --db FILE`, models with `swiftrec train --out DIR`. The API is described \
            in docs/openapi.yaml.
            """)

    @Option(help: "The SQLite database (created if needed).") var db = "swiftrec.sqlite"
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on.") var port = 8080
    @Option(help: "Saved model directories, comma-separated; the first is active.") var model: String?
    @Option(name: .customLong("api-key"), help: "Require this key (X-API-Key header) for writes.")
    var apiKey: String?
    @OptionGroup var compute: ComputeOptions

    func run() async throws {
        try compute.apply()
        let service = RecommendationService(store: try SQLiteStore(path: db), limits: ServiceLimits(apiKey: apiKey))
        for directory in (model ?? "").split(separator: ",").map(String.init) {
            let servable = try Self.loadModel(directory)
            service.register(servable)
            Console.log(
                "loaded \(servable.model.name) from \(directory) as '\(servable.name)' (\(servable.items.count) items)")
        }
        try await Self.run(service, host: host, port: port)
    }

    /// Loads a model saved by `swiftrec train --out`, named after its directory.
    static func loadModel(_ directory: String) throws -> ServableModel {
        let url = URL(fileURLWithPath: directory)
        let model = try ModelCatalog.load(from: url)
        return ServableModel(name: url.lastPathComponent, model: model, items: try ModelArtifact.readItemIDs(from: url))
    }

    static func run(_ service: RecommendationService, host: String, port: Int) async throws {
        let app = Application(
            router: service.router(), configuration: .init(address: .hostname(host, port: port), serverName: "swiftrec")
        )
        Console.log(
            "serving on http://\(host):\(port) (events: \(try await service.store.eventCount()), model: \(service.active.current?.name ?? "none"))"
        )
        try await app.runService()
    }
}
