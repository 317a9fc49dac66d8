import Foundation
import SwiftRecData
import SwiftRecTensor

/// User-based collaborative filtering: the state is compared with every training user by
/// the items they share; the `neighbors` most similar users vote for their items.
/// Works for new users and fresh events: similarities are computed from the state.
public final class UserKNN: Recommender {
    public let name = "userknn"
    public let inputs: Set<ModelInput> = [.history]
    /// The options, checked against their ranges.
    public let config: NeighborhoodConfig
    public var neighbors: Int { config.neighbors }
    public var similarity: Similarity { config.similarity }
    public var shrinkage: Float { config.shrinkage }
    private var userItems = UserItemSets(offsets: [0], items: [])
    /// For each item, the training users who have it (CSR).
    private var itemUserOffsets: [Int] = [0]
    private var itemUsers: [Int32] = []
    public private(set) var itemCount = 0

    public init(config: NeighborhoodConfig = .init()) throws { self.config = try config.checked() }

    public convenience init(neighbors: Int = 100, similarity: Similarity = .cosine, shrinkage: Float = 10) throws {
        var config = NeighborhoodConfig()
        (config.neighbors, config.similarity, config.shrinkage) = (neighbors, similarity, shrinkage)
        try self.init(config: config)
    }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        itemCount = dataset.itemCount
        userItems = UserItemSets(dataset)
        buildItemIndex()
        progress?(.message("userknn: indexed \(userItems.userCount) users"))
    }

    private func buildItemIndex() {
        var counts = [Int](repeating: 0, count: itemCount + 1)
        for i in userItems.items { counts[Int(i) + 1] += 1 }
        for i in 0..<itemCount { counts[i + 1] += counts[i] }
        var cursor = counts
        var users = [Int32](repeating: 0, count: userItems.items.count)
        for u in 0..<userItems.userCount {
            for i in userItems.items(of: u) {
                users[cursor[Int(i)]] = Int32(u)
                cursor[Int(i)] += 1
            }
        }
        itemUserOffsets = counts
        itemUsers = users
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= itemCount, "userknn: score buffer of \(scores.count) for \(itemCount) items")
        for j in 0..<itemCount { scores[j] = 0 }
        let mine = distinctItems(state, itemCount: itemCount)
        guard !mine.isEmpty else { return }
        let users = userItems.userCount
        var common = [Float](repeating: 0, count: users)
        for i in mine {
            for v in itemUsers[itemUserOffsets[Int(i)]..<itemUserOffsets[Int(i) + 1]] { common[Int(v)] += 1 }
        }
        // The state's own training row would vote for exactly its history; leave it out.
        if let u = state.user, Int(u) < users { common[Int(u)] = 0 }
        let na = Float(mine.count)
        var sims = [Float](repeating: 0, count: users)
        for v in 0..<users where common[v] > 0 {
            let nb = Float(userItems.offsets[v + 1] - userItems.offsets[v])
            sims[v] = similarity.value(common: common[v], na, nb, shrinkage: shrinkage)
        }
        let top = sims.withUnsafeBufferPointer { topIndices(neighbors, of: $0) }
        for v in top where sims[Int(v)] > 0 {
            let w = sims[Int(v)]
            for j in userItems.items(of: Int(v)) { scores[Int(j)] += w }
        }
    }

    /// Users are scored in parallel: scoring only reads the fitted model.
    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        parallelScoreBatch(self, states, into: scores)
    }

    public func save(to directory: URL) throws {
        guard itemCount > 0 else { throw ModelError.notFitted(name) }
        try ModelArtifact.write(
            manifest: ModelManifest(
                model: name,
                config: config.values,
                userCount: userItems.userCount, itemCount: itemCount),
            tensors: [
                // Indices below 2^24 are exact in Float32.
                "user_offsets": Tensor(userItems.offsets.map(Float.init)),
                "user_items": Tensor(userItems.items.map(Float.init)),
            ], to: directory)
    }

    public static func load(from directory: URL) throws -> UserKNN {
        let (manifest, weights) = try ModelArtifact.read(from: directory, expecting: "userknn")
        let model = try UserKNN(config: manifest.config(NeighborhoodConfig.self))
        model.itemCount = manifest.itemCount
        model.userItems = UserItemSets(
            offsets: try weights.tensor("user_offsets").scalars.map { Int($0) },
            items: try weights.tensor("user_items").scalars.map { Int32($0) })
        model.buildItemIndex()
        return model
    }
}
