import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``SegmentPopularity``.
public struct SegmentPopularityConfig: ModelConfig {
    public var smoothing: Float = 20
    /// The attributes read; nil: those with enough users per value.
    public var attributes: [String]?

    public init() {}

    /// The counts per item of each segment; segments are bounded by the attribute values seen.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        MemoryEstimate.data(shape) + Double(shape.items) * Double(min(shape.users, 256)) * MemoryEstimate.float
    }

    public static let options: [ConfigOption<Self>] = [
        .value("smoothing", \.smoothing, in: 1e-3...1e6, "Average users of overall popularity added to every segment."),
        .checked(
            "attributes", \.attributes, range: "attribute names, comma-separated, or none",
            "The user attributes read (none: those with at least 20 users per value)."),
    ]
}

/// Recommends what users who share the user's stated attributes (age, gender, location,
/// occupation, …) interacted with most — for a user with no history yet. For each attribute
/// the user states, the item's share of the events of users with that value is smoothed toward
/// its overall share (as if `smoothing` average users were added to every value, so a value
/// few users have counts little); the shares of all stated values are added (a mixture, which
/// stays sound when attributes repeat each other, as age and age group do). A user who states nothing gets
/// overall popularity.
public final class SegmentPopularity: Recommender {
    public let name = "segment-pop"
    public let inputs: Set<ModelInput> = [.features]
    /// Average users of overall popularity added to every segment.
    public let smoothing: Float
    /// Events per user in the training data (turns `smoothing` into pseudo-events).
    private var eventsPerUser: Float = 1
    /// The attributes read (nil: every attribute with at least `minimumUsersPerValue` users per
    /// value on average, so near-unique ones such as a postcode are left out).
    public let attributes: Set<String>?
    public static let minimumUsersPerValue = 20
    /// The attributes fitting chose to read.
    public private(set) var readAttributes: Set<String> = []

    /// Items' shares of all events.
    public private(set) var overall: [Float] = []
    /// Per `key=value`: the items its users interacted with, their event counts and the total.
    private var segments: [String: Segment] = [:]

    struct Segment: Codable, Equatable {
        var items: [Int32]
        var counts: [Float]
        var total: Float
    }

    public init(smoothing: Float = 20, attributes: Set<String>? = nil) throws {
        guard smoothing > 0, smoothing.isFinite else {
            throw ModelError.invalidParameter(name: "smoothing", reason: "must be a positive number, got \(smoothing)")
        }
        self.smoothing = smoothing
        self.attributes = attributes
    }

    public convenience init(config: SegmentPopularityConfig) throws {
        try self.init(smoothing: config.smoothing, attributes: config.attributes.map(Set.init))
    }

    public var config: SegmentPopularityConfig {
        var config = SegmentPopularityConfig()
        config.smoothing = smoothing
        config.attributes = attributes?.sorted()
        return config
    }

    public var itemCount: Int { overall.count }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        // Only users with events say anything about tastes (a split may keep the others' attributes).
        let active = (0..<dataset.userCount).filter { !dataset.sequences.items(of: $0).isEmpty }
        if let attributes {
            readAttributes = attributes
        } else {
            var values: [String: Set<String>] = [:], users: [String: Int] = [:]
            for u in active {
                for (key, value) in dataset.userInfo[u]?.attributes ?? [:] {
                    values[key, default: []].insert(value)
                    users[key, default: 0] += 1
                }
            }
            readAttributes = Set(
                values.keys.filter { users[$0]! >= Self.minimumUsersPerValue * values[$0]!.count })
        }
        // Each segment's counts (sparse: a catalogue can be large), found once per user.
        var counts = [Float](repeating: 0, count: dataset.itemCount)
        var segmentIndex: [String: Int] = [:]
        var rows: [[Int32: Float]] = []
        for u in active {
            let items = dataset.sequences.items(of: u)
            for item in items { counts[Int(item)] += 1 }
            for key in segmentKeys(dataset.userInfo[u]?.attributes ?? [:]) {
                let k =
                    segmentIndex[key]
                    ?? {
                        rows.append([:])
                        segmentIndex[key] = rows.count - 1
                        return rows.count - 1
                    }()
                for item in items { rows[k][item, default: 0] += 1 }
            }
        }
        let total = max(counts.reduce(0, +), 1)
        overall = counts.map { $0 / total }
        eventsPerUser = total / Float(max(active.count, 1))
        segments = segmentIndex.mapValues { k in
            let items = rows[k].keys.sorted()
            let counts = items.map { rows[k][$0]! }
            return Segment(items: items, counts: counts, total: counts.reduce(0, +))
        }
        progress?(
            .message(
                "segment-pop: \(segments.count) values of \(readAttributes.sorted().joined(separator: ", ")) over \(active.count) users with events"
            ))
    }

    /// `key=value` for each attribute read.
    private func segmentKeys(_ features: [String: String]) -> [String] {
        features.keys.sorted().filter { readAttributes.contains($0) }.map { "\($0)=\(features[$0]!)" }
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= itemCount, "segment-pop: score buffer too small")
        let known = segmentKeys(state.features).compactMap { segments[$0] }
        let pseudo = smoothing * eventsPerUser
        // Σ over values of (count + p·overall) / (total + p) = overall · Σ p/(total + p) + Σ count/(total + p).
        let overallWeight = known.isEmpty ? 1 : known.reduce(Float(0)) { $0 + pseudo / ($1.total + pseudo) }
        for i in 0..<itemCount { scores[i] = overallWeight * overall[i] }
        for segment in known {
            let scale = 1 / (segment.total + pseudo)
            for (item, count) in zip(segment.items, segment.counts) { scores[Int(item)] += count * scale }
        }
    }

    public static let segmentsFile = "segments.json"

    public func save(to directory: URL) throws {
        guard !overall.isEmpty else { throw ModelError.notFitted(name) }
        let parameters = [
            "events_per_user": "\(eventsPerUser)", "read_attributes": readAttributes.sorted().joined(separator: ","),
        ]
        try ModelArtifact.write(
            manifest: ModelManifest(model: name, config: config.values, parameters: parameters, itemCount: itemCount),
            tensors: ["overall": Tensor(overall)], to: directory)
        try JSONEncoder().encode(segments).write(
            to: directory.appendingPathComponent(Self.segmentsFile), options: .atomic)
    }

    public static func load(from directory: URL) throws -> SegmentPopularity {
        let (manifest, weights) = try ModelArtifact.read(from: directory, expecting: "segment-pop")
        let model = try SegmentPopularity(config: manifest.config(SegmentPopularityConfig.self))
        model.overall = try weights.tensor("overall").scalars
        model.eventsPerUser = try manifest.parameter("events_per_user")
        model.readAttributes = Set(
            (manifest.parameters["read_attributes"] ?? "").split(separator: ",").map(String.init))
        let url = directory.appendingPathComponent(segmentsFile)
        do {
            model.segments = try JSONDecoder().decode([String: Segment].self, from: Data(contentsOf: url))
        } catch {
            throw ModelError.incompatibleArtifact("segment-pop: \(url.path) is unreadable: \(error)")
        }
        let count = model.itemCount
        guard model.segments.values.allSatisfy({ $0.items.allSatisfy { $0 >= 0 && Int($0) < count } }) else {
            throw ModelError.incompatibleArtifact("segment-pop: \(url.path) names items beyond \(count)")
        }
        return model
    }
}
