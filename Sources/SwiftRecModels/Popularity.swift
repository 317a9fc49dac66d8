import Foundation
import SwiftRecData
import SwiftRecTensor

/// Recommends what most users interacted with, optionally favouring recent events:
/// with a half-life h, an event t seconds older than the newest one weighs 2^(−t/h).
public final class Popularity: Recommender {
    public let name = "pop"
    public let inputs: Set<ModelInput> = []
    /// Seconds for an event's weight to halve; nil counts every event fully.
    public let halfLife: Double?
    public private(set) var counts: [Float] = []

    public init(halfLife: Double? = nil) throws {
        if let halfLife, !(halfLife > 0) {
            throw ModelError.invalidParameter(
                name: "halfLife", reason: "must be a positive number of seconds, got \(halfLife)")
        }
        self.halfLife = halfLife
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
                model: name, parameters: ["half_life": halfLife.map { String($0) } ?? "none"], itemCount: counts.count),
            tensors: ["counts": Tensor(counts)], to: directory)
    }

    public static func load(from directory: URL) throws -> Popularity {
        let (manifest, weights) = try ModelArtifact.read(from: directory, expecting: "pop")
        let halfLife = manifest.parameters["half_life"].flatMap(Double.init)
        let model = try Popularity(halfLife: halfLife)
        model.counts = try weights.tensor("counts").scalars
        return model
    }
}
