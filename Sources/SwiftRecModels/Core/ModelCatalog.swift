import Foundation
import SwiftRecData

/// One model the catalogue knows: its name, its config type (through which every option is
/// read, checked and saved), what it reads, how to make it and how to load it.
public struct ModelEntry: Sendable {
    public let name: String
    public let summary: String
    /// What the model reads besides events (a fusion reads what its members read).
    public let inputs: Set<ModelInput>
    /// The options, with their ranges and defaults.
    public let options: [OptionDescription]
    fileprivate let make: @Sendable (ModelCatalog.Options, _ ignoringUnknown: Bool) throws -> any Recommender
    fileprivate let resolve: @Sendable (ModelCatalog.Options, _ ignoringUnknown: Bool) throws -> ModelCatalog.Options
    fileprivate let load: @Sendable (URL) throws -> any Recommender
    fileprivate let estimate: @Sendable (ModelCatalog.Options, _ ignoringUnknown: Bool, DataShape) throws -> Double

    public var optionKeys: [String] { options.map(\.key) }

    /// A model with config `Config`: options decode into it, `make` builds the model from it.
    public static func model<Config: ModelConfig>(
        _ name: String, _ type: Config.Type, reads inputs: Set<ModelInput>, _ summary: String,
        make: @escaping @Sendable (Config) throws -> any Recommender,
        load: @escaping @Sendable (URL) throws -> any Recommender
    ) -> ModelEntry {
        ModelEntry(
            name: name, summary: summary, inputs: inputs, options: OptionDescription.all(Config.self),
            make: { options, ignoring in
                try make(Config(values: ModelCatalog.scoped(options, for: name), ignoringUnknown: ignoring))
            },
            resolve: { options, ignoring in
                try Config(values: ModelCatalog.scoped(options, for: name), ignoringUnknown: ignoring).values
            },
            load: load,
            estimate: { options, ignoring, shape in
                try Config(values: ModelCatalog.scoped(options, for: name), ignoringUnknown: ignoring)
                    .estimatedTrainingBytes(shape)
            })
    }

    /// A fusion: its own options, and every other option passed to each member that has it.
    static func fusion(_ kind: FusionKind, _ summary: String) -> ModelEntry {
        @Sendable func members(_ options: ModelCatalog.Options) throws -> (FusionConfig, [ModelEntry]) {
            let config = try FusionConfig(
                values: ModelCatalog.scoped(options, for: kind.rawValue), ignoringUnknown: true)
            let entries = try config.memberNames(for: kind).map { name -> ModelEntry in
                guard let entry = ModelCatalog.entry(name), !ModelCatalog.fusionNames.contains(name) else {
                    throw ModelError.invalidParameter(
                        name: "members", reason: "'\(name)' cannot be a member; members: \(ModelCatalog.memberNames)")
                }
                return entry
            }
            return (config, entries)
        }
        @Sendable func memberOptions(
            _ options: ModelCatalog.Options, _ entries: [ModelEntry], ignoringUnknown: Bool
        ) throws -> ModelCatalog.Options {
            var rest = ModelCatalog.scoped(options, for: kind.rawValue)
            for key in FusionConfig.optionKeys { rest[key] = nil }
            let known = FusionConfig.optionKeys + entries.flatMap(\.optionKeys)
            let scopedKnown = entries.flatMap { entry in entry.optionKeys.map { "\(entry.name).\($0)" } }
            for key in rest.keys.sorted()
            where !ignoringUnknown && !known.contains(key) && !scopedKnown.contains(key) {
                throw ModelError.invalidParameter(
                    name: key, reason: ConfigKeys.unknown(key, known: known + scopedKnown))
            }
            return rest
        }
        return ModelEntry(
            name: kind.rawValue, summary: summary, inputs: [], options: OptionDescription.all(FusionConfig.self),
            make: { options, ignoring in
                let (config, entries) = try members(options)
                let rest = try memberOptions(options, entries, ignoringUnknown: ignoring)
                return try FusionRecommender(
                    kind: kind, members: entries.map { try $0.make(rest, true) }, weights: config.weights,
                    candidates: config.candidates)
            },
            resolve: { options, ignoring in
                let (config, entries) = try members(options)
                let rest = try memberOptions(options, entries, ignoringUnknown: ignoring)
                var values = config.values
                for entry in entries { values.merge(try entry.resolve(rest, true)) { own, _ in own } }
                return values
            },
            load: { try FusionRecommender.load(from: $0) },
            estimate: { options, ignoring, shape in
                // The members are fitted one after another, but each is kept for the fusion; each
                // member's estimate counts the data once, which the fusion holds once.
                let (_, entries) = try members(options)
                let rest = try memberOptions(options, entries, ignoringUnknown: ignoring)
                let members = try entries.reduce(0) { $0 + (try $1.estimate(rest, true, shape)) }
                return members - Double(entries.count - 1) * MemoryEstimate.data(shape)
            })
    }
}

/// An option as `swiftrec info --model M` shows it.
public struct OptionDescription: Codable, Sendable, Equatable {
    public let key: String
    public let help: String
    public let range: String
    /// The default; nil when it is none.
    public let defaultValue: JSONValue?

    static func all<Config: ModelConfig>(_ type: Config.Type) -> [OptionDescription] {
        let defaults = Config().values
        return Config.options.map {
            OptionDescription(key: $0.key, help: $0.help, range: $0.range, defaultValue: defaults[$0.key])
        }
    }
}

/// The models SwiftRec knows by name: the only place a model is listed. The command line,
/// `POST /train` and loading a saved model all go through it.
public enum ModelCatalog {
    /// Options by key, as `--set`, `--config` or a `POST /train` body give them.
    public typealias Options = [String: JSONValue]

    /// One line per model, in the order reports list them.
    public static let entries: [ModelEntry] = [
        .model(
            "pop", PopularityConfig.self, reads: [], "Most events overall, optionally favouring recent ones.",
            make: { Popularity(config: $0) }, load: { try Popularity.load(from: $0) }),
        .model(
            "segment-pop", SegmentPopularityConfig.self, reads: [.features],
            "Most events among users who share the user's attributes.",
            make: { try SegmentPopularity(config: $0) }, load: { try SegmentPopularity.load(from: $0) }),
        .model(
            "itemknn", NeighborhoodConfig.self, reads: [.history], "Item-based collaborative filtering.",
            make: { try ItemKNN(config: $0) }, load: { try ItemKNN.load(from: $0) }),
        .model(
            "userknn", NeighborhoodConfig.self, reads: [.history], "User-based collaborative filtering.",
            make: { try UserKNN(config: $0) }, load: { try UserKNN.load(from: $0) }),
        .model(
            "cf-fusion", CFFusionConfig.self, reads: [.history], "A weighted mix of item- and user-kNN.",
            make: { try CFFusion(config: $0) }, load: { try CFFusion.load(from: $0) }),
        .model(
            "ease", EASEConfig.self, reads: [.history], "EASE, a closed-form linear item-to-item model.",
            make: { try EASE(config: $0) }, load: { try EASE.load(from: $0) }),
        .model(
            "bpr", BPRConfig.self, reads: [.history], "Matrix factorisation trained with BPR.",
            make: { try BPR(config: $0) }, load: { try BPR.load(from: $0) }),
        .model(
            "ials", ImplicitALSConfig.self, reads: [.history], "Implicit alternating least squares.",
            make: { try ImplicitALS(config: $0) }, load: { try ImplicitALS.load(from: $0) }),
        .model(
            "lightgcn", LightGCNConfig.self, reads: [.history],
            "LightGCN: vectors propagated over the user-item graph, trained with BPR.",
            make: { try LightGCN(config: $0) }, load: { try LightGCN.load(from: $0) }),
        .model(
            "lightgcn-kg", LightGCNConfig.self, reads: [.history, .features],
            "LightGCN over users, items and item attributes (categories, brand), for items with few events.",
            make: { config in
                var config = config
                config.knowledge = true
                return try LightGCN(config: config)
            },
            load: { try LightGCN.load(from: $0) }),
        .model(
            "cfgan", CFGANConfig.self, reads: [.history],
            "CFGAN: a generator of whole purchase vectors trained against a discriminator.",
            make: { try CFGAN(config: $0) }, load: { try CFGAN.load(from: $0) }),
        .model(
            "sasrec", SASRecConfig.self, reads: [.sequence], "SASRec, a causal Transformer over the sequence.",
            make: { try SASRec(config: $0) }, load: { try SASRec.load(from: $0) }),
        .model(
            "bert4rec", BERT4RecConfig.self, reads: [.sequence], "BERT4Rec, a bidirectional masked Transformer.",
            make: { try BERT4Rec(config: $0) }, load: { try BERT4Rec.load(from: $0) }),
        .model(
            "gru4rec", GRU4RecConfig.self, reads: [.sequence], "GRU4Rec, a recurrent sequence model.",
            make: { try GRU4Rec(config: $0) },
            load: { try GRU4Rec.load(from: $0) }),
        .model(
            "lstm", GRU4RecConfig.self, reads: [.sequence], "GRU4Rec with an LSTM cell.",
            make: { config in
                var config = config
                config.cell = .lstm
                return try GRU4Rec(config: config)
            },
            load: { try GRU4Rec.load(from: $0) }),
        .model(
            "caser", CaserConfig.self, reads: [.sequence],
            "Caser, horizontal and vertical convolutions over the newest items.",
            make: { try Caser(config: $0) }, load: { try Caser.load(from: $0) }),
        .model(
            "content", ContentConfig.self, reads: [.text, .sequence],
            "Items whose text resembles the user's recent items.",
            make: { try ContentRecommender(config: $0) }, load: { try ContentRecommender.load(from: $0) }),
        .model(
            "sasrec-content", ContentSASRecConfig.self, reads: [.text, .sequence],
            "SASRec whose item vectors also come from the items' text (scores new items).",
            make: { try SASRec(config: $0.withText, itemText: $0.text.make()) }, load: { try SASRec.load(from: $0) }),
        .model(
            "fm", FMConfig.self, reads: [.features], "Factorisation machine over ids and features (CTR).",
            make: { try FM(config: $0) }, load: { try FM.load(from: $0) }),
        .model(
            "deepfm", DeepFMConfig.self, reads: [.features], "DeepFM: a factorisation machine plus a deep network.",
            make: { try DeepFM(config: $0) }, load: { try DeepFM.load(from: $0) }),
        .model(
            "widedeep", WideDeepConfig.self, reads: [.features], "Wide & Deep: a linear model plus a deep network.",
            make: { try WideDeep(config: $0) }, load: { try WideDeep.load(from: $0) }),
        .model(
            "dcnv2", DCNv2Config.self, reads: [.features], "DCN-v2: cross layers next to a deep network.",
            make: { try DCNv2(config: $0) }, load: { try DCNv2.load(from: $0) }),
        .model(
            "din", DINConfig.self, reads: [.features, .sequence],
            "DIN: attention of the candidate over the recent items, with features.",
            make: { try DIN(config: $0) }, load: { try DIN.load(from: $0) }),
        .model(
            "star", STARConfig.self, reads: [.features],
            "STAR: one multi-scenario network, shared weights times each scenario's own.",
            make: { try STAR(config: $0) }, load: { try STAR.load(from: $0) }),
        .fusion(.blend, "A weighted sum of the members' standardised scores."),
        .fusion(.stack, "A logistic ranker over the members' scores and ranks."),
        .fusion(.cascade, "The first member retrieves, the second orders."),
    ]

    /// Every model name, in the order reports list them.
    public static let names = entries.map(\.name)

    static let fusionNames = Set(FusionKind.allCases.map(\.rawValue))
    static var memberNames: String { names.filter { !fusionNames.contains($0) }.joined(separator: ", ") }

    /// `options` as model `name` reads them: a key scoped to it (`name.key`, e.g. `din.epochs`)
    /// overrides the plain `key`; keys scoped to other models stay for them (a fusion's members).
    public static func scoped(_ options: Options, for name: String) -> Options {
        let prefix = name + "."
        var out = options
        for (key, value) in options where key.hasPrefix(prefix) {
            out[key] = nil
            out[String(key.dropFirst(prefix.count))] = value
        }
        return out
    }

    /// Whether `key` is scoped (`model.option`) to a model that `names` runs — one of them, or a
    /// member of a fusion among them — and names an option of that model.
    public static func isScopedKey(_ key: String, for names: [String]) -> Bool {
        guard let dot = key.firstIndex(of: "."), let entry = entry(String(key[..<dot])) else { return false }
        let hasFusion = names.contains { fusionNames.contains($0) }
        guard names.contains(entry.name) || (hasFusion && !fusionNames.contains(entry.name)) else { return false }
        return acceptedKeys(entry.name).contains(String(key[key.index(after: dot)...]))
    }

    /// The keys `name` takes: its options, and for a fusion every option a member can have.
    public static func acceptedKeys(_ name: String) -> [String] {
        guard fusionNames.contains(name) else { return entry(name)?.optionKeys ?? [] }
        let members = entries.filter { !fusionNames.contains($0.name) }.flatMap(\.optionKeys)
        return FusionConfig.optionKeys + Array(Set(members)).sorted()
    }

    /// The entry named `name`, or nil.
    public static func entry(_ name: String) -> ModelEntry? { entries.first { $0.name == name } }

    /// The entry named `name`, or an error listing the known names (and the closest one).
    public static func require(_ name: String) throws -> ModelEntry {
        guard let entry = entry(name) else {
            throw ModelError.invalidParameter(name: "model", reason: "unknown model '\(name)'; " + suggestion(name))
        }
        return entry
    }

    private static func suggestion(_ name: String) -> String {
        let closest = names.min { ConfigKeys.distance(name, $0) < ConfigKeys.distance(name, $1) }!
        let hint = ConfigKeys.distance(name, closest) <= max(1, closest.count / 3) ? "did you mean '\(closest)'? " : ""
        return hint + "known: \(names.joined(separator: ", "))"
    }

    /// A new, unfitted model. Unknown names, unknown keys (unless `ignoringUnknown`: for options
    /// meant for several models) and values outside their ranges throw errors that name them.
    public static func make(
        _ name: String, options: Options = [:], ignoringUnknown: Bool = false
    ) throws -> any Recommender {
        try require(name).make(options, ignoringUnknown)
    }

    /// The config `options` give `name`, every option included, as the manifest saves it.
    public static func resolve(_ name: String, options: Options = [:]) throws -> Options {
        try require(name).resolve(options, false)
    }

    /// An upper estimate of the bytes fitting `name` with `options` on data of `shape` holds at
    /// its peak (``ModelConfig/estimatedTrainingBytes(_:)``); bad names and options throw as in ``make(_:options:ignoringUnknown:)``.
    public static func estimatedTrainingBytes(_ name: String, options: Options = [:], shape: DataShape) throws
        -> Double
    {
        try require(name).estimate(options, false, shape)
    }

    /// Loads a saved model of any known type from its directory.
    public static func load(from directory: URL) throws -> any Recommender {
        let (manifest, _) = try ModelArtifact.read(from: directory)
        guard let entry = entry(manifest.model) else {
            throw ModelError.incompatibleArtifact("\(directory.path) holds an unknown model '\(manifest.model)'")
        }
        return try entry.load(directory)
    }
}
