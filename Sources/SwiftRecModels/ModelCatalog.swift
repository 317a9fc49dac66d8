import Foundation

/// The models the command line knows by name, how to make them and how to load them.
public enum ModelCatalog {
    /// Hyper-parameters given on the command line or in a config, by name.
    public typealias Options = [String: String]

    /// Every model name, in the order reports list them.
    public static let names = [
        "pop", "itemknn", "userknn", "cf-fusion", "ease", "bpr", "ials", "sasrec", "bert4rec", "gru4rec", "lstm",
    ]

    /// Options every sequence model reads.
    static let sequenceKeys: Set<String> = [
        "epochs", "batch", "lr", "weight-decay", "patience", "time-budget", "validate-every", "seed", "dim", "max-len",
        "dropout", "length-buckets",
    ]

    /// The option keys each model reads.
    public static let optionKeys: [String: Set<String>] = [
        "pop": ["half-life"],
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
        case "sasrec":
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
            return try SASRec(config: config)
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
        default:
            throw ModelError.invalidParameter(
                name: "model", reason: "unknown model '\(name)'; known: \(names.joined(separator: ", "))")
        }
    }

    /// Loads a saved model of any known type from its directory.
    public static func load(from directory: URL) throws -> any Recommender {
        let (manifest, _) = try ModelArtifact.read(from: directory)
        switch manifest.model {
        case "pop": return try Popularity.load(from: directory)
        case "itemknn": return try ItemKNN.load(from: directory)
        case "userknn": return try UserKNN.load(from: directory)
        case "cf-fusion": return try CFFusion.load(from: directory)
        case "ease": return try EASE.load(from: directory)
        case "bpr": return try BPR.load(from: directory)
        case "ials": return try ImplicitALS.load(from: directory)
        case "sasrec": return try SASRec.load(from: directory)
        case "bert4rec": return try BERT4Rec.load(from: directory)
        case "gru4rec", "lstm": return try GRU4Rec.load(from: directory)
        default: throw ModelError.incompatibleArtifact("\(directory.path) holds an unknown model '\(manifest.model)'")
        }
    }
}
