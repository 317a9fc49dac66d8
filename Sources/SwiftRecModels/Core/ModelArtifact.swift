import Foundation
import SwiftRecData
import SwiftRecTensor

/// A saved model: `manifest.json` (type, hyper-parameters, id-map fingerprints, metrics)
/// beside `weights.safetensors` in one directory.
public struct ModelManifest: Codable, Sendable, Equatable {
    /// The model's command-line name, e.g. `ease`.
    public var model: String
    public var formatVersion: Int
    /// The model's ``ModelConfig``, every option under its one spelling (what `--set`,
    /// `--config` and `POST /train` take).
    public var config: [String: JSONValue]
    /// What the model derived while fitting and needs to load (not options), e.g. BPR's strata.
    public var parameters: [String: String]
    public var userCount: Int
    public var itemCount: Int
    /// ``IDMap/fingerprint`` of the item ids the model was trained on.
    public var itemFingerprint: String
    public var userFingerprint: String
    /// Training figures (fit seconds, validation metrics, …).
    public var metrics: [String: Double]
    public var createdAt: Date

    public init(
        model: String, config: [String: JSONValue], parameters: [String: String] = [:], dataset: Dataset,
        metrics: [String: Double] = [:], createdAt: Date = Date()
    ) {
        self.init(
            model: model, config: config, parameters: parameters, userCount: dataset.userCount,
            itemCount: dataset.itemCount,
            itemFingerprint: dataset.items.fingerprint, userFingerprint: dataset.users.fingerprint, metrics: metrics,
            createdAt: createdAt)
    }

    /// A manifest for a model that keeps sizes (and optionally fingerprints) itself.
    public init(
        model: String, config: [String: JSONValue], parameters: [String: String] = [:], userCount: Int = 0,
        itemCount: Int,
        itemFingerprint: String = "", userFingerprint: String = "", metrics: [String: Double] = [:],
        createdAt: Date = Date()
    ) {
        self.model = model
        self.formatVersion = ModelArtifact.formatVersion
        self.config = config
        self.parameters = parameters
        self.userCount = userCount
        self.itemCount = itemCount
        self.itemFingerprint = itemFingerprint
        self.userFingerprint = userFingerprint
        self.metrics = metrics
        self.createdAt = createdAt
    }

    /// The saved config, read by the same code that reads `--set` and `--config`.
    public func config<Config: ModelConfig>(_ type: Config.Type) throws -> Config {
        do {
            return try Config(values: config)
        } catch {
            throw ModelError.incompatibleArtifact("manifest of '\(model)': \(error)")
        }
    }

    /// The named derived value, or a clear error.
    public func parameter<T: LosslessStringConvertible>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let text = parameters[name] else {
            throw ModelError.incompatibleArtifact("manifest of '\(model)' lacks parameter '\(name)'")
        }
        guard let value = T(text) else {
            throw ModelError.incompatibleArtifact(
                "manifest of '\(model)': parameter '\(name)' = '\(text)' is not a \(T.self)")
        }
        return value
    }
}

/// Reads and writes model directories.
public enum ModelArtifact {
    /// 2: options moved from `parameters` (mixed spellings) to `config` (the options' own keys).
    public static let formatVersion = 2
    public static let manifestFile = "manifest.json"
    public static let weightsFile = "weights.safetensors"

    /// Writes `manifest` and `tensors` into `directory`, creating it.
    public static func write(manifest: ModelManifest, tensors: [String: Tensor], to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(manifest).write(to: directory.appendingPathComponent(manifestFile), options: .atomic)
        try SafeTensors.write(
            tensors, metadata: ["model": manifest.model, "format": "swiftrec"],
            to: directory.appendingPathComponent(weightsFile))
    }

    /// Reads a model directory, checking that it holds the expected model type.
    public static func read(from directory: URL, expecting model: String? = nil) throws -> (ModelManifest, SafeTensors)
    {
        let manifestURL = directory.appendingPathComponent(manifestFile)
        guard let data = try? Data(contentsOf: manifestURL) else {
            throw ModelError.incompatibleArtifact("no \(manifestFile) in \(directory.path)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        // The version first, so an old manifest gets "train it again", not a decoding error.
        struct Version: Decodable { let formatVersion: Int }
        guard let version = try? decoder.decode(Version.self, from: data).formatVersion else {
            throw ModelError.incompatibleArtifact("\(manifestURL.path) is not a valid manifest (no formatVersion)")
        }
        guard version <= formatVersion else {
            throw ModelError.incompatibleArtifact("format version \(version) is newer than this SwiftRec reads")
        }
        guard version == formatVersion else {
            throw ModelError.incompatibleArtifact(
                "\(directory.path) was saved in format \(version) by an older SwiftRec, which kept options "
                    + "under other names; train it again")
        }
        let manifest: ModelManifest
        do {
            manifest = try decoder.decode(ModelManifest.self, from: data)
        } catch {
            throw ModelError.incompatibleArtifact("\(manifestURL.path) is not a valid manifest: \(error)")
        }
        if let model, manifest.model != model {
            throw ModelError.incompatibleArtifact("\(directory.path) holds a '\(manifest.model)' model, not '\(model)'")
        }
        let weights = try SafeTensors(contentsOf: directory.appendingPathComponent(weightsFile))
        return (manifest, weights)
    }

    public static let itemIDsFile = "item_ids.json"

    /// Saves the item ids a model's scores refer to (index order), so a server can map them.
    public static func writeItemIDs(_ ids: IDMap, to directory: URL) throws {
        try JSONEncoder().encode(ids.ids).write(to: directory.appendingPathComponent(itemIDsFile), options: .atomic)
    }

    /// The item ids saved with a model, checked against its manifest's item count and fingerprint.
    public static func readItemIDs(from directory: URL) throws -> IDMap {
        let (manifest, _) = try read(from: directory)
        let url = directory.appendingPathComponent(itemIDsFile)
        guard let data = try? Data(contentsOf: url) else {
            throw ModelError.incompatibleArtifact(
                "no \(itemIDsFile) in \(directory.path): save the model with `swiftrec train --out`")
        }
        guard let ids = try? JSONDecoder().decode([String].self, from: data) else {
            throw ModelError.incompatibleArtifact("\(url.path) is not a JSON array of item ids")
        }
        let map = IDMap(ids)
        guard map.count == manifest.itemCount else {
            throw ModelError.incompatibleArtifact(
                "\(url.path) has \(map.count) ids for a model of \(manifest.itemCount) items")
        }
        if !manifest.itemFingerprint.isEmpty && manifest.itemFingerprint != map.fingerprint {
            throw ModelError.incompatibleArtifact("\(url.path) does not match the item ids the model was trained on")
        }
        return map
    }

    public static let userIDsFile = "user_ids.json"

    /// Saves the user ids a model's user indices refer to (index order), so a server serves a
    /// trained user with the state the evaluator gave them.
    public static func writeUserIDs(_ ids: IDMap, to directory: URL) throws {
        try JSONEncoder().encode(ids.ids).write(to: directory.appendingPathComponent(userIDsFile), options: .atomic)
    }

    /// The user ids saved with a model, checked against its manifest (count and fingerprint when
    /// it records them); nil when the model was saved without them.
    public static func readUserIDs(from directory: URL) throws -> IDMap? {
        let url = directory.appendingPathComponent(userIDsFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let (manifest, _) = try read(from: directory)
        guard let data = try? Data(contentsOf: url), let ids = try? JSONDecoder().decode([String].self, from: data)
        else {
            throw ModelError.incompatibleArtifact("\(url.path) is not a JSON array of user ids")
        }
        let map = IDMap(ids)
        if manifest.userCount > 0 && manifest.userCount != map.count {
            throw ModelError.incompatibleArtifact(
                "\(url.path) has \(map.count) ids for a model of \(manifest.userCount) users")
        }
        if !manifest.userFingerprint.isEmpty && manifest.userFingerprint != map.fingerprint {
            throw ModelError.incompatibleArtifact("\(url.path) does not match the user ids the model was trained on")
        }
        return map
    }
}
