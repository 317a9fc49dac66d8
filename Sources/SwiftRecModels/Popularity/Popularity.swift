import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``Popularity``.
public struct PopularityConfig: ModelConfig {
    /// Seconds for an event's weight to halve; nil counts every event fully.
    public var halfLife: Double?

    public init() {}

    public static let options: [ConfigOption<Self>] = [
        .value(
            "half-life", \.halfLife, in: 1e-3...1e12, "Seconds for an event's weight to halve (none: count all alike).")
    ]
}

/// Recommends what most users interacted with, optionally favouring recent events:
/// with a half-life h, an event t seconds older than the newest one weighs 2^(−t/h).
public final class Popularity: Recommender, CountScoring {
    public let name = "pop"
    public let inputs: Set<ModelInput> = []
    public let config: PopularityConfig
    public var halfLife: Double? { config.halfLife }
    public private(set) var counts: [Float] = []

    public init(config: PopularityConfig = .init()) { self.config = config }

    /// Popularity with events halving in weight every `halfLife` seconds.
    public convenience init(halfLife: Double?) throws {
        var config = PopularityConfig()
        config.halfLife = halfLife
        self.init(config: try PopularityConfig(values: config.values))
    }

    public var itemCount: Int { counts.count }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        var counts = [Float](repeating: 0, count: dataset.itemCount)
        let newest = dataset.log.timestamps.max() ?? 0
        for (item, time) in zip(dataset.log.items, dataset.log.timestamps) {
            let weight = halfLife.map { Float(exp2(-Double(newest - time) / $0)) } ?? 1
            counts[Int(item)] += weight
        }
        self.counts = counts
        progress?(.message("pop: counted \(dataset.eventCount) events over \(dataset.itemCount) items"))
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= counts.count, "pop: score buffer of \(scores.count) for \(counts.count) items")
        _ = scores.update(fromContentsOf: counts)
    }

    public func save(to directory: URL) throws {
        guard !counts.isEmpty else { throw ModelError.notFitted(name) }
        try ModelArtifact.write(
            manifest: ModelManifest(
                model: name, config: config.values, itemCount: counts.count),
            tensors: ["counts": Tensor(counts)], to: directory)
    }

    public static func load(from directory: URL) throws -> Popularity {
        let (manifest, weights) = try ModelArtifact.read(from: directory, expecting: "pop")
        let model = Popularity(config: try manifest.config(PopularityConfig.self))
        model.counts = try weights.tensor("counts").scalars
        return model
    }
}
