import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdCore
import SwiftRecData
import SwiftRecModels
import SwiftRecServing
import SwiftRecTensor

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
    @Option(help: "Saved model directories to add to the registry, comma-separated; the first becomes active.")
    var model: String?
    @Option(
        name: .customLong("models-dir"),
        help: "Where models trained through the API are saved (default: <db>-models next to the database).")
    var modelsDirectory: String?
    @Option(
        name: .customLong("api-key"),
        help:
            "Require an API key (X-API-Key header) on every route but health, metrics and the document; this one has every scope."
    )
    var apiKey: String?
    @Option(
        name: .customLong("api-keys"),
        help: #"A JSON file of scoped keys: [{"key": "…", "scopes": ["read", "write", "admin"]}, …]."#)
    var apiKeysFile: String?
    @Option(
        name: .customLong("training-memory"),
        help: "The most memory one POST /train fit may be estimated to need (e.g. 8GB; default: half the RAM).")
    var trainingMemory: String?
    @Option(
        name: .customLong("max-training-time"),
        help: "The most seconds one POST /train fit may run (default 6 hours).")
    var maxTrainingTime: Double = 6 * 3600
    @Option(
        name: .customLong("live-memory"),
        help:
            "The most memory users' histories held in memory may take (e.g. 512MB, the default); beyond it the least recently used are dropped and read again from the store when asked for."
    )
    var liveMemory = "512MiB"
    @OptionGroup var privacy: PseudonymOptions
    @Option(
        name: .customLong("popularity-epsilon"),
        help: "Release popularity counts (scenario popularity, pop's scores) with Laplace noise of this ε per count.")
    var popularityEpsilon: Double?
    @Option(
        help: """
            int8: score every loaded model that has int8 scoring (sasrec, bpr, ials, …) with int8 copies of \
            its weights and item table; float: as each model was saved.
            """)
    var quantize: ScoringPrecision?
    @Option(
        name: .customLong("query-encoder"),
        help:
            "A sentence-encoder folder (e.g. all-MiniLM-L6-v2) that matches ?q= queries by meaning; default BM25 keywords."
    )
    var queryEncoder: String?
    @OptionGroup var connections: ConnectionOptions
    @OptionGroup var compute: ComputeOptions

    func run() async throws {
        try compute.apply()
        let (store, pseudonyms) = try await privacy.open(db)
        var limits = try limits()
        limits.pseudonyms = pseudonyms
        if let popularityEpsilon {
            do {
                limits.popularityNoise = try PopularityNoise(
                    epsilon: popularityEpsilon, seed: try await store.storedSecret("popularity_noise"))
            } catch let error as PrivacyError { throw ValidationError("--popularity-epsilon: \(error)") }
        }
        let service = RecommendationService(
            store: store, limits: limits,
            modelDirectory: URL(fileURLWithPath: modelsDirectory ?? Self.defaultModelDirectory(db: db)),
            liveBytes: try liveBytes(),
            queryEncoder: try queryEncoder.map { try SentenceEncoder(folder: URL(fileURLWithPath: $0)) })
        for failure in try await service.restoreModels() {
            Console.log("warning: registered model '\(failure.name)' could not be loaded: \(failure.reason)")
        }
        for entry in service.models {
            setPrecision(of: entry.servable)
            Console.log("restored '\(entry.record.name)' (\(entry.record.type), \(entry.servable.items.count) items)")
        }
        for (k, directory) in (model ?? "").split(separator: ",").map(String.init).enumerated() {
            let url = URL(fileURLWithPath: directory)
            let servable = try ServableModel.load(from: url)
            setPrecision(of: servable)
            try await service.install(servable, directory: url, activate: k == 0)
            Console.log(
                "loaded \(servable.model.name) from \(directory) as '\(servable.name)' (\(servable.items.count) items)")
        }
        let (extended, failures) = try await service.extendCataloguesFromStore()
        for name in extended { Console.log("'\(name)' takes in items stored after it was trained") }
        for failure in failures {
            Console.log("warning: '\(failure.name)' cannot take in new items: \(failure.reason)")
        }
        try await Self.run(
            service, host: host, port: port, idleTimeout: connections.idleTimeout,
            maxConnections: connections.maxConnections)
    }

    /// Applies `--quantize` to a model before it serves.
    func setPrecision(of servable: ServableModel) {
        guard let quantize else { return }
        guard let switching = precisionSwitching(of: servable.model) else {
            Console.log("'\(servable.name)' (\(servable.model.name)) scores at float: it has no int8 scoring")
            return
        }
        switching.setScoringPrecision(quantize)
        Console.log(
            "'\(servable.name)' scores at \(quantize.rawValue) (item table \(switching.scoringTableBytes / 1024) KiB)")
    }

    /// `--live-memory` in bytes.
    func liveBytes() throws -> Int {
        guard let bytes = MemoryEstimate.parse(liveMemory), bytes >= 1_048_576, bytes < 1e15 else {
            throw ValidationError("--live-memory: '\(liveMemory)' is not a size of at least 1MiB such as 512MB or 2GiB")
        }
        return Int(bytes)
    }

    /// The keys and training limits the flags give.
    func limits() throws -> ServiceLimits {
        var limits = ServiceLimits(apiKey: apiKey, apiKeys: try scopedKeys())
        if let trainingMemory {
            guard let bytes = MemoryEstimate.parse(trainingMemory) else {
                throw ValidationError("--training-memory: '\(trainingMemory)' is not a size such as 8GB, 512MB or 2GiB")
            }
            limits.maxTrainingBytes = bytes
        }
        guard maxTrainingTime > 0, maxTrainingTime <= 1e7 else {
            throw ValidationError("--max-training-time: expected seconds from 0 to 10000000, got \(maxTrainingTime)")
        }
        limits.maxTrainingSeconds = maxTrainingTime
        return limits
    }

    /// The keys of `--api-keys`, checked: each non-empty, with at least one scope.
    func scopedKeys() throws -> [APIKey] {
        guard let apiKeysFile else { return [] }
        guard let data = FileManager.default.contents(atPath: apiKeysFile) else {
            throw ValidationError("--api-keys: cannot read \(apiKeysFile)")
        }
        let keys: [APIKey]
        do { keys = try JSONDecoder().decode([APIKey].self, from: data) } catch {
            throw ValidationError(
                #"--api-keys: \#(apiKeysFile) is not a list of {"key": "…", "scopes": ["read", "write", "admin"]}: \#(error)"#
            )
        }
        for (k, key) in keys.enumerated() where key.key.isEmpty || key.scopes.isEmpty {
            throw ValidationError("--api-keys: key \(k + 1) has an empty key or no scope")
        }
        return keys
    }

    /// `<db without extension>-models` next to the database.
    static func defaultModelDirectory(db: String) -> String {
        URL(fileURLWithPath: db).deletingPathExtension().path + "-models"
    }

    /// Serves `service` until the process is stopped. Plain values, not ``ConnectionOptions``:
    /// an option group made in code (as `demo` would) traps when read.
    static func run(
        _ service: RecommendationService, host: String, port: Int, idleTimeout: Double = 30, maxConnections: Int = 4096
    ) async throws {
        let app = Application(
            router: service.router(),
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(idleTimeout * 1000)))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "swiftrec",
                availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)))
        Console.log(
            "serving on http://\(host):\(port) (events: \(try await service.store.eventCount()), model: \(service.active.current?.name ?? "none"))"
        )
        HeapTrimming.limitArenas()
        let trimming = Task { await HeapTrimming.run() }
        defer { trimming.cancel() }
        try await app.runService()
        // Models that took items in since their last save are written before the process ends.
        await service.flushPendingSaves()
    }
}

/// How many connections the server holds and how long an idle one may stay.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("idle-timeout"),
        help:
            "Seconds a connection may stay without a complete request (half-sent headers included) before it is closed."
    )
    var idleTimeout = 30.0
    @Option(
        name: .customLong("max-connections"),
        help: "Open connections at most; beyond it new ones wait in the listen backlog.")
    var maxConnections = 4096

    func validate() throws {
        guard idleTimeout > 0, idleTimeout <= 86_400 else {
            throw ValidationError("--idle-timeout: expected seconds from 0 to 86400, got \(idleTimeout)")
        }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections: at least 1") }
    }
}
