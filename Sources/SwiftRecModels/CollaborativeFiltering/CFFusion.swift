import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``CFFusion``: the neighbourhood options both halves share, and the mix.
public struct CFFusionConfig: ModelConfig {
    public var neighborhood = NeighborhoodConfig()
    public var itemWeight: Float = 0.5

    public init() {}

    /// Both neighbourhood models.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        2 * neighborhood.estimatedTrainingBytes(shape)
    }

    public static let options: [ConfigOption<Self>] =
        NeighborhoodConfig.options.map { $0.lifted(\.neighborhood) } + [
            .value("item-weight", \.itemWeight, in: 0...1, "The item-kNN share of the mix (the rest is user-kNN).")
        ]
}

/// A weighted fusion of item- and user-based CF: each model's scores are scaled to a
/// maximum of 1 per user, then mixed as `itemWeight·item + (1 − itemWeight)·user`.
public final class CFFusion: Recommender {
    public let name = "cf-fusion"
    public let inputs: Set<ModelInput> = [.history]
    public let itemBased: ItemKNN
    public let userBased: UserKNN
    public let itemWeight: Float

    public init(itemBased: ItemKNN, userBased: UserKNN, itemWeight: Float = 0.5) throws {
        guard (0...1).contains(itemWeight) else {
            throw ModelError.invalidParameter(name: "itemWeight", reason: "must be in [0, 1], got \(itemWeight)")
        }
        self.itemBased = itemBased
        self.userBased = userBased
        self.itemWeight = itemWeight
    }

    public convenience init(config: CFFusionConfig) throws {
        try self.init(
            itemBased: ItemKNN(config: config.neighborhood), userBased: UserKNN(config: config.neighborhood),
            itemWeight: config.itemWeight)
    }

    public var config: CFFusionConfig {
        var config = CFFusionConfig()
        config.neighborhood = itemBased.config
        config.itemWeight = itemWeight
        return config
    }

    public var itemCount: Int { itemBased.itemCount }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        try itemBased.fit(dataset, validation: validation, progress: progress)
        try userBased.fit(dataset, validation: validation, progress: progress)
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        itemBased.score(state, into: scores)
        var other = [Float](repeating: 0, count: itemCount)
        other.withUnsafeMutableBufferPointer { userBased.score(state, into: $0) }
        let itemMax = max(scores.prefix(itemCount).max() ?? 0, 1e-12)
        let userMax = max(other.max() ?? 0, 1e-12)
        for j in 0..<itemCount {
            scores[j] = itemWeight * scores[j] / itemMax + (1 - itemWeight) * other[j] / userMax
        }
    }

    /// Users are scored in parallel: scoring only reads the fitted model.
    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        parallelScoreBatch(self, states, into: scores)
    }

    public func save(to directory: URL) throws {
        try itemBased.save(to: directory.appendingPathComponent("itemknn"))
        try userBased.save(to: directory.appendingPathComponent("userknn"))
        try ModelArtifact.write(
            manifest: ModelManifest(model: name, config: config.values, itemCount: itemCount),
            tensors: [:], to: directory)
    }

    public static func load(from directory: URL) throws -> CFFusion {
        let (manifest, _) = try ModelArtifact.read(from: directory, expecting: "cf-fusion")
        return try CFFusion(
            itemBased: ItemKNN.load(from: directory.appendingPathComponent("itemknn")),
            userBased: UserKNN.load(from: directory.appendingPathComponent("userknn")),
            itemWeight: manifest.config(CFFusionConfig.self).itemWeight)
    }
}
