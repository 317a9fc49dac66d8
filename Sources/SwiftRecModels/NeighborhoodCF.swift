import Foundation
import SwiftRecData
import SwiftRecTensor

/// How two users (or two items) are compared by the sets they share.
public enum Similarity: String, Sendable, Codable, CaseIterable {
    /// co / (√(n_a·n_b) + shrinkage)
    case cosine
    /// co / (n_a + n_b − co + shrinkage)
    case jaccard

    @inline(__always)
    func value(common: Float, _ na: Float, _ nb: Float, shrinkage: Float) -> Float {
        switch self {
        case .cosine: return common / ((na * nb).squareRoot() + shrinkage)
        case .jaccard: return common / (na + nb - common + shrinkage)
        }
    }
}

/// Checks the settings the neighbourhood models share.
func validateNeighborhood(neighbors: Int, shrinkage: Float) throws {
    try ParameterCheck.positive(neighbors, "neighbors")
    try ParameterCheck.nonNegative(shrinkage, "shrinkage")
}

extension Similarity {
    /// The similarity a manifest names, or an error naming the model.
    init(manifestValue: String?, model: String) throws {
        guard let value = manifestValue.flatMap(Similarity.init(rawValue:)) else {
            throw ModelError.incompatibleArtifact("\(model): unknown similarity '\(manifestValue ?? "")'")
        }
        self = value
    }
}

/// Each user's distinct training items, as CSR.
struct UserItemSets: Sendable {
    var offsets: [Int]
    var items: [Int32]

    init(_ dataset: Dataset) {
        var offsets = [0]
        var items: [Int32] = []
        var mark = [Int](repeating: -1, count: dataset.itemCount)
        for u in 0..<dataset.userCount {
            for i in dataset.sequences.items(of: u) where mark[Int(i)] != u {
                mark[Int(i)] = u
                items.append(i)
            }
            offsets.append(items.count)
        }
        self.offsets = offsets
        self.items = items
    }

    init(offsets: [Int], items: [Int32]) {
        self.offsets = offsets
        self.items = items
    }

    var userCount: Int { offsets.count - 1 }
    func items(of u: Int) -> ArraySlice<Int32> { items[offsets[u]..<offsets[u + 1]] }
}

/// Distinct items of a state, in first-seen order.
func distinctItems(_ state: UserState, itemCount: Int) -> [Int32] {
    var seen = Set<Int32>()
    return state.items.filter { $0 >= 0 && Int($0) < itemCount && seen.insert($0).inserted }
}

/// Item-based collaborative filtering: an item scores by its similarity to the items in the
/// user's state, over each item's `neighbors` most similar items.
public final class ItemKNN: Recommender {
    public let name = "itemknn"
    public let inputs: Set<ModelInput> = [.history]
    public let neighbors: Int
    public let similarity: Similarity
    public let shrinkage: Float
    /// For item i: its neighbours `neighborItems[i*neighbors ..< (i+1)*neighbors]` (−1 = none).
    private(set) var neighborItems: [Int32] = []
    private(set) var neighborWeights: [Float] = []
    public private(set) var itemCount = 0

    public init(neighbors: Int = 100, similarity: Similarity = .cosine, shrinkage: Float = 10) throws {
        try validateNeighborhood(neighbors: neighbors, shrinkage: shrinkage)
        self.neighbors = neighbors
        self.similarity = similarity
        self.shrinkage = shrinkage
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
                parameters: [
                    "neighbors": "\(neighbors)", "similarity": similarity.rawValue, "shrinkage": "\(shrinkage)",
                ],
                itemCount: itemCount),
            tensors: [
                "neighbor_items": Tensor(shape: [itemCount, neighbors], scalars: neighborItems.map(Float.init)),
                "neighbor_weights": Tensor(shape: [itemCount, neighbors], scalars: neighborWeights),
            ], to: directory)
    }

    public static func load(from directory: URL) throws -> ItemKNN {
        let (manifest, weights) = try ModelArtifact.read(from: directory, expecting: "itemknn")
        let similarity = try Similarity(manifestValue: manifest.parameters["similarity"], model: "itemknn")
        let model = try ItemKNN(
            neighbors: manifest.parameter("neighbors"), similarity: similarity,
            shrinkage: manifest.parameter("shrinkage"))
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
        let total = parts.reduce(Float(0)) { $0 + abs($1.weight) }
        guard total > 0 else { return [] }
        return parts.filter { $0.weight > 0 }
            .sorted { ($0.weight, $1.item) > ($1.weight, $0.item) }
            .prefix(top)
            .map { Attribution(item: $0.item, position: newest[$0.item] ?? 0, weight: $0.weight / total) }
    }
}

/// User-based collaborative filtering: the state is compared with every training user by
/// the items they share; the `neighbors` most similar users vote for their items.
/// Works for new users and fresh events: similarities are computed from the state.
public final class UserKNN: Recommender {
    public let name = "userknn"
    public let inputs: Set<ModelInput> = [.history]
    public let neighbors: Int
    public let similarity: Similarity
    public let shrinkage: Float
    private var userItems = UserItemSets(offsets: [0], items: [])
    /// For each item, the training users who have it (CSR).
    private var itemUserOffsets: [Int] = [0]
    private var itemUsers: [Int32] = []
    public private(set) var itemCount = 0

    public init(neighbors: Int = 100, similarity: Similarity = .cosine, shrinkage: Float = 10) throws {
        try validateNeighborhood(neighbors: neighbors, shrinkage: shrinkage)
        self.neighbors = neighbors
        self.similarity = similarity
        self.shrinkage = shrinkage
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
                parameters: [
                    "neighbors": "\(neighbors)", "similarity": similarity.rawValue, "shrinkage": "\(shrinkage)",
                ],
                userCount: userItems.userCount, itemCount: itemCount),
            tensors: [
                // Indices below 2^24 are exact in Float32.
                "user_offsets": Tensor(userItems.offsets.map(Float.init)),
                "user_items": Tensor(userItems.items.map(Float.init)),
            ], to: directory)
    }

    public static func load(from directory: URL) throws -> UserKNN {
        let (manifest, weights) = try ModelArtifact.read(from: directory, expecting: "userknn")
        let similarity = try Similarity(manifestValue: manifest.parameters["similarity"], model: "userknn")
        let model = try UserKNN(
            neighbors: manifest.parameter("neighbors"), similarity: similarity,
            shrinkage: manifest.parameter("shrinkage"))
        model.itemCount = manifest.itemCount
        model.userItems = UserItemSets(
            offsets: try weights.tensor("user_offsets").scalars.map { Int($0) },
            items: try weights.tensor("user_items").scalars.map { Int32($0) })
        model.buildItemIndex()
        return model
    }
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
            manifest: ModelManifest(model: name, parameters: ["item_weight": "\(itemWeight)"], itemCount: itemCount),
            tensors: [:], to: directory)
    }

    public static func load(from directory: URL) throws -> CFFusion {
        let (manifest, _) = try ModelArtifact.read(from: directory, expecting: "cf-fusion")
        return try CFFusion(
            itemBased: ItemKNN.load(from: directory.appendingPathComponent("itemknn")),
            userBased: UserKNN.load(from: directory.appendingPathComponent("userknn")),
            itemWeight: manifest.parameter("item_weight"))
    }
}

/// Scores rows in parallel; for models whose `score` only reads fitted state.
func parallelScoreBatch(
    _ model: some Recommender, _ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>
) {
    let n = model.itemCount
    precondition(scores.count >= states.count * n, "scoreBatch: buffer too small")
    nonisolated(unsafe) let scores = scores
    nonisolated(unsafe) let model = model
    parallelRanges(states.count, costPerItem: n * 64) { rows in
        for row in rows {
            model.score(states[row], into: UnsafeMutableBufferPointer(rebasing: scores[(row * n)..<((row + 1) * n)]))
        }
    }
}

/// Indices of the `k` largest values, best first (ties to the lower index).
func topIndices(_ k: Int, of values: UnsafeBufferPointer<Float>) -> [Int32] {
    guard k > 0 else { return [] }
    var best: [(value: Float, index: Int32)] = []
    best.reserveCapacity(k + 1)
    for i in 0..<values.count {
        let v = values[i]
        if best.count == k, v <= best[k - 1].value { continue }
        var position = best.count
        while position > 0 && best[position - 1].value < v { position -= 1 }
        best.insert((v, Int32(i)), at: position)
        if best.count > k { best.removeLast() }
    }
    return best.map(\.index)
}
