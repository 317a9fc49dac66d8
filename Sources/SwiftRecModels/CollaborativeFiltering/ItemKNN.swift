import Foundation
import SwiftRecData
import SwiftRecTensor

/// Item-based collaborative filtering: an item scores by its similarity to the items in the
/// user's state, over each item's `neighbors` most similar items.
public final class ItemKNN: Recommender {
    public let name = "itemknn"
    public let inputs: Set<ModelInput> = [.history]
    /// The options, checked against their ranges.
    public let config: NeighborhoodConfig
    public var neighbors: Int { config.neighbors }
    public var similarity: Similarity { config.similarity }
    public var shrinkage: Float { config.shrinkage }
    /// For item i: its neighbours `neighborItems[i*neighbors ..< (i+1)*neighbors]` (−1 = none).
    private(set) var neighborItems: [Int32] = []
    private(set) var neighborWeights: [Float] = []
    public private(set) var itemCount = 0

    public init(config: NeighborhoodConfig = .init()) throws { self.config = try config.checked() }

    public convenience init(neighbors: Int = 100, similarity: Similarity = .cosine, shrinkage: Float = 10) throws {
        var config = NeighborhoodConfig()
        (config.neighbors, config.similarity, config.shrinkage) = (neighbors, similarity, shrinkage)
        try self.init(config: config)
    }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        let n = dataset.itemCount, users = dataset.userCount
        itemCount = n
        let sets = UserItemSets(dataset)
        // Co-occurrence counts XᵀX with one GEMM on the dense binary user × item matrix.
        var x = Tensor.zeros([users, n])
        x.withUnsafeMutableBufferPointer { p in
            for u in 0..<users { for i in sets.items(of: u) { p[u * n + Int(i)] = 1 } }
        }
        let co = Tensor.matmul(x, x, transposeA: true)
        var counts = [Float](repeating: 0, count: n)
        co.withUnsafeBufferPointer { c in for i in 0..<n { counts[i] = c[i * n + i] } }
        let k = min(neighbors, max(n - 1, 1))
        var items = [Int32](repeating: -1, count: n * neighbors)
        var weights = [Float](repeating: 0, count: n * neighbors)
        let similarity = self.similarity, shrinkage = self.shrinkage, width = neighbors
        co.withUnsafeBufferPointer { c in
            items.withUnsafeMutableBufferPointer { ip in
                weights.withUnsafeMutableBufferPointer { wp in
                    nonisolated(unsafe) let c = c, ip = ip, wp = wp
                    let counts = counts
                    parallelRanges(n, costPerItem: n * 4) { range in
                        var row = [Float](repeating: 0, count: n)
                        for i in range {
                            for j in 0..<n {
                                let common = c[i * n + j]
                                row[j] =
                                    j == i || common == 0
                                    ? 0 : similarity.value(common: common, counts[i], counts[j], shrinkage: shrinkage)
                            }
                            let top = row.withUnsafeBufferPointer { topIndices(k, of: $0) }
                            for (slot, j) in top.enumerated() where row[Int(j)] > 0 {
                                ip[i * width + slot] = j
                                wp[i * width + slot] = row[Int(j)]
                            }
                        }
                    }
                }
            }
        }
        neighborItems = items
        neighborWeights = weights
        progress?(.message("itemknn: \(k) neighbours for each of \(n) items"))
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= itemCount, "itemknn: score buffer of \(scores.count) for \(itemCount) items")
        for j in 0..<itemCount { scores[j] = 0 }
        for i in distinctItems(state, itemCount: itemCount) {
            let base = Int(i) * neighbors
            for slot in 0..<neighbors {
                let j = neighborItems[base + slot]
                if j < 0 { break }
                scores[Int(j)] += neighborWeights[base + slot]
            }
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
                itemCount: itemCount),
            tensors: [
                "neighbor_items": Tensor(shape: [itemCount, neighbors], scalars: neighborItems.map(Float.init)),
                "neighbor_weights": Tensor(shape: [itemCount, neighbors], scalars: neighborWeights),
            ], to: directory)
    }

    public static func load(from directory: URL) throws -> ItemKNN {
        let (manifest, weights) = try ModelArtifact.read(from: directory, expecting: "itemknn")
        let model = try ItemKNN(config: manifest.config(NeighborhoodConfig.self))
        model.itemCount = manifest.itemCount
        model.neighborItems = try weights.tensor("neighbor_items").scalars.map { Int32($0) }
        model.neighborWeights = try weights.tensor("neighbor_weights").scalars
        guard model.neighborItems.count == model.itemCount * model.neighbors else {
            throw ModelError.incompatibleArtifact("itemknn: neighbour table does not match \(model.itemCount) items")
        }
        return model
    }
}

extension ItemKNN: Explaining {
    /// The history items whose neighbour lists hold `item`, by similarity: the score is exactly
    /// the sum of these similarities. Positions are each item's newest in the history.
    public func explain(_ item: Int32, for state: UserState, top: Int) -> [Attribution] {
        guard item >= 0, Int(item) < itemCount, top > 0 else { return [] }
        var newest: [Int32: Int] = [:]
        for (position, i) in state.items.enumerated() { newest[i] = position }
        var parts: [(item: Int32, weight: Float)] = []
        for i in distinctItems(state, itemCount: itemCount) {
            let base = Int(i) * neighbors
            for slot in 0..<neighbors {
                let j = neighborItems[base + slot]
                if j < 0 { break }
                if j == item {
                    parts.append((i, neighborWeights[base + slot]))
                    break
                }
            }
        }
        return Attribution.shares(parts, newest: newest, top: top)
    }
}
