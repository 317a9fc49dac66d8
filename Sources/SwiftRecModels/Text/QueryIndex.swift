import Foundation
import SwiftRecData
import SwiftRecTensor

/// Why a free-text query was refused.
public enum QueryError: Error, Equatable, CustomStringConvertible {
    /// Nothing but spaces.
    case empty
    /// Longer than ``QueryIndex/maxCharacters``.
    case tooLong(characters: Int)

    public var description: String {
        switch self {
        case .empty: "the query is empty"
        case .tooLong(let count): "the query has \(count) characters; at most \(QueryIndex.maxCharacters) are read"
        }
    }
}

/// Matches free-text queries ("something for astronomy") against the catalogue's item texts
/// (``ItemText``): as BM25 keyword vectors over the catalogue's vocabulary, or as sentence-encoder
/// vectors (e.g. MiniLM). Both give each item the cosine similarity of its text to the query.
public final class QueryIndex: Sendable {
    /// The longest query read, in characters.
    public static let maxCharacters = 512

    public let itemCount: Int
    private let keywords: KeywordVectors?
    private let encoder: (any TextEncoder)?
    /// L2-normalised encoder rows, [items, dim].
    private let rows: Tensor?

    /// Indexes `itemTexts` (by item index) with `representation`.
    public init(itemTexts: [String], representation: ItemRepresentation) {
        itemCount = itemTexts.count
        switch representation {
        case .keywords(let weighting):
            keywords = KeywordVectors(documents: itemTexts, weighting: weighting)
            encoder = nil
            rows = nil
        case .encoder(let textEncoder):
            keywords = nil
            encoder = textEncoder
            rows = Self.normalised(textEncoder.encode(itemTexts))
        }
    }

    /// "bm25", "tfidf" or "encoder".
    public var kind: String { keywords.map { $0.weighting.rawValue } ?? "encoder" }

    /// The query as read: trimmed, and checked to be neither empty nor over-long.
    public static func checked(_ query: String) throws(QueryError) -> String {
        let text = query.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw .empty }
        guard text.count <= maxCharacters else { throw .tooLong(characters: text.count) }
        return text
    }

    /// Each item's cosine similarity to `query` (0 for items sharing no known word with it, with
    /// keywords). Throws for an empty or over-long query.
    public func similarities(to query: String) throws(QueryError) -> [Float] {
        let text = try Self.checked(query)
        var scores = [Float](repeating: 0, count: itemCount)
        if let keywords {
            // Only the words that say what is wanted: "something for astronomy" is "astronomy".
            let vector = keywords.vector(for: Self.contentWords(text).joined(separator: " "))
            scores.withUnsafeMutableBufferPointer { keywords.accumulate(vector, into: $0) }
        } else if let encoder, let rows {
            let query = Self.normalised(encoder.encode([text]))
            let dim = rows.shape[1]
            rows.withUnsafeBufferPointer { r in
                query.withUnsafeBufferPointer { q in
                    scores.withUnsafeMutableBufferPointer { s in
                        GEMM.multiply(
                            transA: false, transB: true, m: 1, n: itemCount, k: dim, a: q.baseAddress!, lda: dim,
                            b: r.baseAddress!, ldb: dim, c: s.baseAddress!, ldc: itemCount, threads: 1)
                    }
                }
            }
        }
        return scores
    }

    /// The query's words that `text` (an item's text) also has, in query order: what a keyword
    /// match was made of (for explanations).
    public static func sharedWords(_ query: String, _ text: String) -> [String] {
        let words = Set(KeywordTokenizer().terms(text))
        var seen = Set<String>()
        return contentWords(query).filter { words.contains($0) && seen.insert($0).inserted }
    }

    /// The query's words without the function words of a request ("I would like something for").
    static func contentWords(_ query: String) -> [String] {
        KeywordTokenizer().terms(query).filter { !requestWords.contains($0) }
    }

    /// English function words and the words people wrap a wish in; they match too many item
    /// texts to say anything about what is wanted.
    static let requestWords: Set<String> = [
        "a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "with", "about", "at", "by", "from", "into",
        "i", "me", "my", "we", "us", "our", "you", "your", "it", "its", "this", "that", "these", "those", "is", "are",
        "be", "am", "was", "some", "something", "anything", "thing", "things", "stuff", "want", "wants", "need",
        "needs", "like", "would", "could", "please", "looking", "show", "find", "get", "give", "recommend", "good",
        "best", "new", "more", "any", "what", "which", "do", "does", "can",
    ]

    private static func normalised(_ vectors: Tensor) -> Tensor {
        var out = vectors
        let dim = vectors.shape[1]
        out.withUnsafeMutableBufferPointer { v in
            for r in 0..<(v.count / max(dim, 1)) {
                let row = UnsafeMutableBufferPointer(rebasing: v[(r * dim)..<((r + 1) * dim)])
                let norm = row.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                if norm > 0 { for j in row.indices { row[j] /= norm } }
            }
        }
        return out
    }
}

/// How a query's similarities and a model's scores make one ranking:
/// `blended = (1 − weight) · rank(model) + weight · similarity / best similarity`, where
/// `rank(model)` is the share of the catalogue the model scores below the item (0…1) and
/// negative similarities count as 0. Both parts lie in [0, 1] whatever the model's scale or the
/// number of items that match, so with weight above 0.5 an item that matches the query as well as
/// any beats every item that does not match it, and items that match equally keep the user's
/// model order. Items a model rules out (non-finite scores) stay as they are.
public struct QueryBlend: Sendable, Equatable {
    /// The query's weight, in [0, 1]: 0 ignores the query, 1 ranks by it alone.
    public var weight: Float

    public init(weight: Float = 0.5) throws(QueryBlendError) {
        guard weight >= 0, weight <= 1 else { throw QueryBlendError.weightOutOfRange(weight) }
        self.weight = weight
    }

    /// The blended scores and, per item, the query's part of the blended score as a share of
    /// the whole (0…1).
    public func blend(model: [Float], query: [Float]) -> (scores: [Float], queryShare: [Float]) {
        precondition(model.count == query.count, "QueryBlend: \(model.count) model scores, \(query.count) similarities")
        let ranks = Self.rankShares(model)
        let best = query.reduce(Float(0)) { $1.isFinite ? max($0, $1) : $0 }
        var scores = model, shares = [Float](repeating: 0, count: model.count)
        for i in model.indices where model[i].isFinite {
            let similarity = best > 0 && query[i].isFinite ? max(query[i], 0) / best : 0
            let fromModel = (1 - weight) * ranks[i], fromQuery = weight * similarity
            scores[i] = fromModel + fromQuery
            shares[i] = scores[i] > 0 ? fromQuery / scores[i] : 0
        }
        return (scores, shares)
    }

    /// For each finite value, the share of the other finite values below it (ties share the
    /// lower rank), in [0, 1]; 0 for non-finite values.
    static func rankShares(_ values: [Float]) -> [Float] {
        // Sorting integer keys (the value's bits in an order-preserving form, then the index)
        // needs no comparison closure: several times faster than sorting indices by value.
        var keys = [UInt64]()
        keys.reserveCapacity(values.count)
        for (i, v) in values.enumerated() where v.isFinite {
            let bits = (v == 0 ? Float(0) : v).bitPattern
            let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
            keys.append(UInt64(ordered) << 32 | UInt64(i))
        }
        keys.sort()
        var shares = [Float](repeating: 0, count: values.count)
        guard keys.count > 1 else { return shares }
        let top = Float(keys.count - 1)
        var start = 0
        for k in keys.indices where k == keys.count - 1 || keys[k + 1] >> 32 != keys[k] >> 32 {
            for j in start...k { shares[Int(keys[j] & 0xFFFF_FFFF)] = Float(start) / top }
            start = k + 1
        }
        return shares
    }
}

/// Why a query blend could not be made.
public enum QueryBlendError: Error, Equatable, CustomStringConvertible {
    case weightOutOfRange(Float)

    public var description: String {
        switch self {
        case .weightOutOfRange(let w): "query weight: expected a number from 0 to 1, got \(w)"
        }
    }
}
