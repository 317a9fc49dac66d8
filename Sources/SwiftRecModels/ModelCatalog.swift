import Foundation

/// The models the command line knows by name, how to make them and how to load them.
public enum ModelCatalog {
    /// Hyper-parameters given on the command line or in a config, by name.
    public typealias Options = [String: String]

    /// Every model name, in the order reports list them.
    public static let names = [
        "pop", "segment-pop", "itemknn", "userknn", "cf-fusion", "ease", "bpr", "ials", "sasrec", "bert4rec", "gru4rec",
        "lstm",
        "content", "sasrec-content", "blend", "stack", "cascade",
    ]

    /// Options every sequence model reads.
    static let sequenceKeys: Set<String> = [
        "epochs", "batch", "lr", "weight-decay", "patience", "time-budget", "validate-every", "seed", "dim", "max-len",
        "dropout", "length-buckets",
    ]

    /// The option keys each model reads (a fusion also passes its members' options on).
    public static let optionKeys: [String: Set<String>] = {
        var keys = memberOptionKeys
        let everyMember = memberOptionKeys.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        for fusion in FusionKind.allCases {
            keys[fusion.rawValue] = everyMember.union(["members", "weights", "candidates"])
        }
        return keys
    }()

    static let memberOptionKeys: [String: Set<String>] = [
        "pop": ["half-life"],
        "segment-pop": ["smoothing", "attributes"],
        "itemknn": ["neighbors", "similarity", "shrinkage"],
        "userknn": ["neighbors", "similarity", "shrinkage"],
        "cf-fusion": ["neighbors", "similarity", "shrinkage", "item-weight"],
        "ease": ["lambda"],
        "bpr": ["factors", "lr", "regularization", "epochs", "fold-in-steps", "seed"],
        "ials": ["factors", "regularization", "alpha", "iterations", "cg-steps", "seed"],
        "sasrec": sequenceKeys.union(["blocks", "heads", "loss", "negatives", "shared-output"]),
        "bert4rec": sequenceKeys.union(["blocks", "heads", "mask-ratio"]),
        "gru4rec": sequenceKeys,
        "lstm": sequenceKeys,
        "content": ["representation", "encoder", "history", "decay"],
        "sasrec-content": sequenceKeys.union([
            "blocks", "heads", "loss", "negatives", "representation", "encoder", "text-dim", "id-dropout",
        ]),
    ]

    /// A new, unfitted model. Unknown names and bad options throw errors that say what is wrong.
    public static func make(_ name: String, options: Options = [:]) throws -> any Recommender {
        func number<T: LosslessStringConvertible>(_ key: String, _ fallback: T) throws -> T {
            guard let text = options[key] else { return fallback }
            guard let value = T(text) else {
                throw ModelError.invalidParameter(name: key, reason: "'\(text)' is not a valid \(T.self)")
            }
            return value
        }
        func similarity() throws -> Similarity {
            guard let text = options["similarity"] else { return .cosine }
            guard let s = Similarity(rawValue: text) else {
                throw ModelError.invalidParameter(
                    name: "similarity", reason: "'\(text)' is not one of \(Similarity.allCases.map(\.rawValue))")
            }
            return s
        }
        func training(_ defaults: SequenceTrainingOptions) throws -> SequenceTrainingOptions {
            var t = defaults
            t.epochs = try number("epochs", t.epochs)
            t.batchSize = try number("batch", t.batchSize)
            t.learningRate = try number("lr", t.learningRate)
            t.weightDecay = try number("weight-decay", t.weightDecay)
            t.patience = try number("patience", t.patience)
            t.validateEvery = try number("validate-every", t.validateEvery)
            t.seed = try number("seed", t.seed)
            t.lengthBuckets = try number("length-buckets", t.lengthBuckets)
            if options["time-budget"] != nil { t.timeBudget = try number("time-budget", 0.0) }
            return t
        }
        switch name {
        case "pop":
            return try Popularity(halfLife: options["half-life"].map { Double($0) ?? .nan })
        case "segment-pop":
            return try SegmentPopularity(
                smoothing: number("smoothing", Float(20)),
                attributes: options["attributes"].map { Set($0.split(separator: ",").map(String.init)) })
        case "itemknn":
            return try ItemKNN(
                neighbors: number("neighbors", 100), similarity: similarity(), shrinkage: number("shrinkage", 10))
        case "userknn":
            return try UserKNN(
                neighbors: number("neighbors", 100), similarity: similarity(), shrinkage: number("shrinkage", 10))
        case "cf-fusion":
            return try CFFusion(
                itemBased: ItemKNN(
                    neighbors: number("neighbors", 100), similarity: similarity(), shrinkage: number("shrinkage", 10)),
                userBased: UserKNN(
                    neighbors: number("neighbors", 100), similarity: similarity(), shrinkage: number("shrinkage", 10)),
                itemWeight: number("item-weight", 0.5))
        case "ease":
            return try EASE(lambda: number("lambda", 500))
        case "bpr":
            return try BPR(
                factors: number("factors", 64), learningRate: number("lr", 0.05),
                regularization: number("regularization", 0.01), epochs: number("epochs", 50),
                foldInSteps: number("fold-in-steps", 500), seed: number("seed", 0))
        case "ials":
            return try ImplicitALS(
                factors: number("factors", 64), regularization: number("regularization", 0.1),
                alpha: number("alpha", 1), iterations: number("iterations", 15), cgSteps: number("cg-steps", 3),
                seed: number("seed", 0))
        case "sasrec", "sasrec-content":
            var config = SASRecConfig()
            config.training = try training(config.training)
            config.dim = try number("dim", config.dim)
            config.blocks = try number("blocks", config.blocks)
            config.heads = try number("heads", config.heads)
            config.maxLength = try number("max-len", config.maxLength)
            config.dropout = try number("dropout", config.dropout)
            config.negatives = try number("negatives", config.negatives)
            config.sharedOutput = try number("shared-output", config.sharedOutput)
            if let text = options["loss"] {
                guard let loss = SequenceLoss(rawValue: text) else {
                    throw ModelError.invalidParameter(
                        name: "loss", reason: "'\(text)' is not one of \(SequenceLoss.allCases.map(\.rawValue))")
                }
                config.loss = loss
            }
            guard name == "sasrec-content" else { return try SASRec(config: config) }
            config.itemText = ItemTextSettings(
                dimension: try number("text-dim", 256), idDropout: try number("id-dropout", Float(0.5)))
            return try SASRec(config: config, itemText: itemRepresentation(options))
        case "bert4rec":
            var config = BERT4RecConfig()
            config.training = try training(config.training)
            config.dim = try number("dim", config.dim)
            config.blocks = try number("blocks", config.blocks)
            config.heads = try number("heads", config.heads)
            config.maxLength = try number("max-len", config.maxLength)
            config.dropout = try number("dropout", config.dropout)
            config.maskRatio = try number("mask-ratio", config.maskRatio)
            return try BERT4Rec(config: config)
        case "gru4rec", "lstm":
            var config = GRU4RecConfig()
            config.cell = name == "lstm" ? .lstm : .gru
            config.training = try training(config.training)
            config.dim = try number("dim", config.dim)
            config.maxLength = try number("max-len", config.maxLength)
            config.dropout = try number("dropout", config.dropout)
            return try GRU4Rec(config: config)
        case "blend", "stack", "cascade":
            let kind = FusionKind(rawValue: name)!
            let names = (options["members"] ?? (kind == .cascade ? "ease,sasrec" : "sasrec,ease"))
                .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard names.allSatisfy({ memberOptionKeys[$0] != nil }) else {
                throw ModelError.invalidParameter(
                    name: "members", reason: "'\(options["members"] ?? "")' names a model that cannot be a member")
            }
            var memberOptions = options
            for key in ["members", "weights", "candidates"] { memberOptions[key] = nil }
            let weights = try (options["weights"] ?? "").split(separator: ",").map { text -> Float in
                guard let w = Float(text) else {
                    throw ModelError.invalidParameter(name: "weights", reason: "'\(text)' is not a number")
                }
                return w
            }
            return try FusionRecommender(
                kind: kind, members: names.map { try make($0, options: memberOptions) }, weights: weights,
                candidates: number("candidates", 100))
        case "content":
            return try ContentRecommender(
                representation: itemRepresentation(options), historyLength: number("history", 50),
                recencyDecay: number("decay", 0.9))
        default:
            throw ModelError.invalidParameter(
                name: "model", reason: "unknown model '\(name)'; known: \(names.joined(separator: ", "))")
        }
    }

    /// The item text representation named by `representation` (`bm25` by default, `tfidf`,
    /// or `encoder` with `encoder=FOLDER`, implied by `encoder` alone).
    static func itemRepresentation(_ options: Options) throws -> ItemRepresentation {
        let kind = options["representation"] ?? (options["encoder"] != nil ? "encoder" : "bm25")
        if let weighting = TermWeighting(rawValue: kind) { return .keywords(weighting) }
        guard kind == "encoder" else {
            throw ModelError.invalidParameter(
                name: "representation", reason: "'\(kind)' is not one of tfidf, bm25, encoder")
        }
        guard let folder = options["encoder"] else {
            throw ModelError.invalidParameter(
                name: "encoder", reason: "representation=encoder needs encoder=FOLDER (a sentence-transformers folder)")
        }
        do {
            return .encoder(try SentenceEncoder(folder: URL(fileURLWithPath: folder)))
        } catch {
            throw ModelError.invalidParameter(name: "encoder", reason: "\(error)")
        }
    }

    /// Loads a saved model of any known type from its directory.
    public static func load(from directory: URL) throws -> any Recommender {
        let (manifest, _) = try ModelArtifact.read(from: directory)
        switch manifest.model {
        case "pop": return try Popularity.load(from: directory)
        case "segment-pop": return try SegmentPopularity.load(from: directory)
        case "itemknn": return try ItemKNN.load(from: directory)
        case "userknn": return try UserKNN.load(from: directory)
        case "cf-fusion": return try CFFusion.load(from: directory)
        case "ease": return try EASE.load(from: directory)
        case "bpr": return try BPR.load(from: directory)
        case "ials": return try ImplicitALS.load(from: directory)
        case "sasrec": return try SASRec.load(from: directory)
        case "bert4rec": return try BERT4Rec.load(from: directory)
        case "gru4rec", "lstm": return try GRU4Rec.load(from: directory)
        case "content": return try ContentRecommender.load(from: directory)
        case "blend", "stack", "cascade": return try FusionRecommender.load(from: directory)
        default: throw ModelError.incompatibleArtifact("\(directory.path) holds an unknown model '\(manifest.model)'")
        }
    }
}
