import Foundation
import SwiftRecData
import SwiftRecTensor

/// How two users (or two items) are compared by the sets they share.
public enum Similarity: String, Sendable, Codable, CaseIterable, OptionChoice {
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

/// Options of the neighbourhood models, ``ItemKNN`` and ``UserKNN``.
public struct NeighborhoodConfig: ModelConfig {
    public var neighbors = 100
    public var similarity = Similarity.cosine
    public var shrinkage: Float = 10

    public init() {}

    /// The larger of item-kNN's fit (the dense binary `users × items` matrix and its `items × items`
    /// co-occurrence product, a neighbour list of index and weight per item, and a similarity
    /// row per thread) and user-kNN's (the events indexed both ways).
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let items = Double(shape.items), users = Double(shape.users), f = MemoryEstimate.float
        let threads = Double(ProcessInfo.processInfo.activeProcessorCount)
        let itemKNN =
            users * items * f + items * items * f + items * Double(min(neighbors, shape.items)) * 8 + threads * items
            * f
        let userKNN = Double(shape.events) * 16 + threads * users * f * 2
        return MemoryEstimate.data(shape) + max(itemKNN, userKNN)
    }

    public static let options: [ConfigOption<Self>] = [
        .value(
            "neighbors", \.neighbors, in: 1...10_000,
            "Neighbours kept per item (item-kNN) or voting per user (user-kNN)."),
        .choice("similarity", \.similarity, "How two items or users are compared by what they share."),
        .value("shrinkage", \.shrinkage, in: 0...1e6, "Added to the similarity's denominator, damping rare overlaps."),
    ]
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
