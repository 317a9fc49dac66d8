import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecTensor

/// How alike two items are, for diversity: by shared categories or by their vectors.
public enum ItemSimilarity: Sendable {
    /// Jaccard overlap of category sets (category ids per item index).
    case categories([[Int32]])
    /// Cosine of item vectors, [items, dim].
    case vectors(Tensor)

    /// The categories of a dataset's items, as ids, each item's in its own order (so `first`
    /// is the item's first category).
    public static func categories(of dataset: Dataset) -> ItemSimilarity {
        var ids: [String: Int32] = [:]
        var lists: [[Int32]] = []
        for i in 0..<dataset.itemCount {
            let names = dataset.itemInfo.indices.contains(i) ? dataset.itemInfo[i]?.categories ?? [] : []
            var list: [Int32] = []
            for name in names {
                let id = ids[name] ?? Int32(ids.count)
                ids[name] = id
                if !list.contains(id) { list.append(id) }
            }
            lists.append(list)
        }
        return .categories(lists)
    }

    public func similarity(_ a: Int32, _ b: Int32) -> Float {
        switch self {
        case .categories(let lists):
            let x = lists[Int(a)], y = lists[Int(b)]
            guard !x.isEmpty || !y.isEmpty else { return 0 }
            let shared = x.filter { y.contains($0) }.count
            return Float(shared) / Float(x.count + y.count - shared)
        case .vectors(let table):
            let dim = table.shape[1]
            return table.withUnsafeBufferPointer { t in
                var dot: Float = 0, na: Float = 0, nb: Float = 0
                for j in 0..<dim {
                    let u = t[Int(a) * dim + j], v = t[Int(b) * dim + j]
                    dot += u * v
                    na += u * u
                    nb += v * v
                }
                return na > 0 && nb > 0 ? dot / (na * nb).squareRoot() : 0
            }
        }
    }
}

/// Re-ranking for varied lists: maximal marginal relevance (MMR) with weight `lambda` on
/// relevance, and at most `categoryCap` items sharing a first category.
public struct Diversification: Sendable, Equatable {
    /// 1 keeps the model's order; lower values trade relevance for variety.
    public var lambda: Double
    /// The most items of one (first) category in a list, or nil for no cap.
    public var categoryCap: Int?

    public init(lambda: Double = 1, categoryCap: Int? = nil) {
        self.lambda = lambda
        self.categoryCap = categoryCap
    }

    /// Whether this changes anything.
    public var isActive: Bool { lambda < 1 || categoryCap != nil }

    /// Picks `count` of `candidates` (best first) by MMR: each step takes the item maximising
    /// λ·relevance − (1 − λ)·(its highest similarity to the items already taken), relevance
    /// being the score scaled to 0…1 over the candidates. `category` gives an item's first
    /// category for the cap.
    public func rerank(
        _ candidates: [Int32], scores: [Float], count: Int, similarity: ItemSimilarity,
        category: (Int32) -> Int32? = { _ in nil }
    ) -> [Int32] {
        guard isActive, candidates.count > 1 else { return Array(candidates.prefix(count)) }
        let relevance = candidates.map { scores[Int($0)] }
        let low = relevance.min()!, high = relevance.max()!
        let scaled = relevance.map { high > low ? Double(($0 - low) / (high - low)) : 1 }
        var taken: [Int32] = []
        var closest = [Double](repeating: 0, count: candidates.count)
        var used = [Bool](repeating: false, count: candidates.count)
        var perCategory: [Int32: Int] = [:]
        while taken.count < count {
            var best = -1
            var bestValue = -Double.infinity
            for k in candidates.indices where !used[k] {
                if let cap = categoryCap, let c = category(candidates[k]), perCategory[c, default: 0] >= cap {
                    continue
                }
                let value = lambda * scaled[k] - (1 - lambda) * closest[k]
                if value > bestValue {
                    bestValue = value
                    best = k
                }
            }
            guard best >= 0 else { break }
            used[best] = true
            let item = candidates[best]
            taken.append(item)
            if let c = category(item) { perCategory[c, default: 0] += 1 }
            if lambda < 1 {
                for k in candidates.indices where !used[k] {
                    closest[k] = max(closest[k], Double(similarity.similarity(candidates[k], item)))
                }
            }
        }
        return taken
    }

    /// Mean pairwise dissimilarity (1 − similarity) of a list.
    public static func intraListDiversity(_ list: [Int32], similarity: ItemSimilarity) -> Double {
        guard list.count > 1 else { return 0 }
        var total = 0.0
        for i in list.indices {
            for j in list.indices where j > i { total += 1 - Double(similarity.similarity(list[i], list[j])) }
        }
        return total / Double(list.count * (list.count - 1) / 2)
    }
}

/// A model's lists with and without diversification, over the test users of a split.
public enum DiversityEvaluation {
    public struct Row: Sendable {
        public var lambda: Double
        public var categoryCap: Int?
        public var ndcg: Double
        public var hitRate: Double
        /// Mean intra-list diversity: 1 − Jaccard overlap of category sets, over pairs.
        public var diversity: Double
        /// Mean number of distinct first categories per list.
        public var categoriesPerList: Double
        /// Distinct items recommended to anyone, over the catalogue.
        public var coverage: Double
    }

    /// Scores each test user once, takes the top `pool` candidates (history excluded) and
    /// re-ranks them to `k` for every setting.
    public static func run(
        _ model: any Recommender, split: Split, settings: [Diversification], k: Int = 10, pool: Int = 100,
        similarity: ItemSimilarity, dataset: Dataset
    ) -> [Row] {
        let byCategory = ItemSimilarity.categories(of: dataset)
        let first: [Int32?] = {
            guard case .categories(let lists) = byCategory else { return [] }
            return lists.map(\.first)
        }()
        var rows = settings.map {
            Row(
                lambda: $0.lambda, categoryCap: $0.categoryCap, ndcg: 0, hitRate: 0, diversity: 0, categoriesPerList: 0,
                coverage: 0)
        }
        var covered = settings.map { _ in Set<Int32>() }
        let users = split.test.users
        let history = split.trainWithValidation
        let batch = 256
        var scores = [Float](repeating: 0, count: batch * model.itemCount)
        for start in stride(from: 0, to: users.count, by: batch) {
            let chunk = Array(users[start..<min(start + batch, users.count)])
            let states = chunk.map { UserState(user: $0, in: history) }
            scores.withUnsafeMutableBufferPointer { model.scoreBatch(states, into: $0) }
            for (row, state) in states.enumerated() {
                let own = Array(scores[(row * model.itemCount)..<((row + 1) * model.itemCount)])
                let candidates = TopK.select(pool, from: own, excluding: state.items)
                let target = split.test.items[start + row][0]
                for (s, setting) in settings.enumerated() {
                    let list = setting.rerank(
                        candidates, scores: own, count: k, similarity: similarity,
                        category: { first.indices.contains(Int($0)) ? first[Int($0)] : nil })
                    if let rank = list.firstIndex(of: target) {
                        rows[s].hitRate += 1
                        rows[s].ndcg += 1 / log2(Double(rank) + 2)
                    }
                    rows[s].diversity += Diversification.intraListDiversity(list, similarity: byCategory)
                    rows[s].categoriesPerList += Double(Set(list.compactMap { first[Int($0)] }).count)
                    covered[s].formUnion(list)
                }
            }
        }
        let n = Double(max(users.count, 1))
        for s in rows.indices {
            rows[s].ndcg /= n
            rows[s].hitRate /= n
            rows[s].diversity /= n
            rows[s].categoriesPerList /= n
            rows[s].coverage = Double(covered[s].count) / Double(max(model.itemCount, 1))
        }
        return rows
    }
}
