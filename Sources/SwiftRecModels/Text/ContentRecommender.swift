import Foundation
import SwiftRecData
import SwiftRecTensor

/// How ``ContentRecommender`` represents an item's text.
public enum ItemRepresentation: Sendable, Equatable {
    /// Sparse keyword vectors.
    case keywords(TermWeighting)
    /// Dense vectors from a sentence encoder (e.g. MiniLM).
    case encoder(any TextEncoder)

    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.keywords(let x), .keywords(let y)): x == y
        case (.encoder(let x), .encoder(let y)): x === y
        default: false
        }
    }

    var label: String {
        switch self {
        case .keywords(let weighting): weighting.rawValue
        case .encoder: "encoder"
        }
    }
}

/// Options of ``ContentRecommender``.
public struct ContentConfig: ModelConfig {
    public var text = ItemTextSource()
    public var history = 50
    public var decay: Float = 0.9

    public init() {}

    /// The encoder (when one is named) and the item vectors.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        MemoryEstimate.data(shape) + MemoryEstimate.itemText(items: shape.items)
    }

    public static let options: [ConfigOption<Self>] =
        ItemTextSource.options.map { $0.lifted(\.text) } + [
            .value("history", \.history, in: 1...10_000, "The newest items of a user that form the profile."),
            .value("decay", \.decay, in: 1e-3...1, "An item's weight relative to the next newer one."),
        ]
}

/// Recommends items whose text resembles the text of the user's recent items. It needs no
/// interactions for an item, so a brand-new item with only a title is recommendable.
public final class ContentRecommender: Recommender, ItemVectorProviding {
    public let name = "content"
    public let inputs: Set<ModelInput> = [.text, .sequence]
    public let representation: ItemRepresentation
    /// The newest items of a state that form the profile.
    public let historyLength: Int
    /// The weight of an item relative to the next newer one.
    public let recencyDecay: Float
    public private(set) var itemCount = 0

    /// Keyword rows (sparse) or encoder rows ([items, dim]).
    private var keywords: KeywordVectors?
    private(set) var denseRows: Tensor?

    public init(
        representation: ItemRepresentation = .keywords(.bm25), historyLength: Int = 50, recencyDecay: Float = 0.9
    )
        throws
    {
        try ParameterCheck.positive(historyLength, "history")
        guard recencyDecay > 0, recencyDecay <= 1 else {
            throw ModelError.invalidParameter(name: "decay", reason: "must be in (0, 1], got \(recencyDecay)")
        }
        self.representation = representation
        self.historyLength = historyLength
        self.recencyDecay = recencyDecay
    }

    public convenience init(config: ContentConfig) throws {
        try self.init(representation: config.text.make(), historyLength: config.history, recencyDecay: config.decay)
    }

    public var config: ContentConfig {
        var config = ContentConfig()
        config.text.representation = TextRepresentationKind(rawValue: representation.label)
        config.history = historyLength
        config.decay = recencyDecay
        return config
    }

    /// Reads only the items' text: interactions do not change the vectors.
    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        let texts = ItemText.all(of: dataset)
        itemCount = dataset.itemCount
        switch representation {
        case .keywords(let weighting):
            let vectors = KeywordVectors(documents: texts, weighting: weighting)
            keywords = vectors
        case .encoder(let encoder):
            guard !(encoder is StoredVectors) else {
                throw ModelError.invalidParameter(
                    name: "encoder", reason: "a loaded content model keeps its item vectors; make a new one to refit")
            }
            progress?(.message("content: encoding \(texts.count) item texts"))
            denseRows = encoder.encode(texts)
        }
    }

    /// Dense item vectors (encoder representation only).
    public var itemVectors: Tensor? { denseRows }

    /// The profile weights of the newest items of `state`, newest first, with their positions
    /// in `state.items`.
    private func profile(_ state: UserState) -> [(item: Int, weight: Float, position: Int)] {
        let recent = state.items.enumerated().filter { $0.element >= 0 && Int($0.element) < itemCount }
            .suffix(historyLength)
        var weight: Float = 1
        var entries: [(item: Int, weight: Float, position: Int)] = []
        for (position, item) in recent.reversed() {
            entries.append((Int(item), weight, position))
            weight *= recencyDecay
        }
        return entries
    }

    /// The dot product of two items' text vectors (what one history item adds to a score).
    private func similarity(_ a: Int, _ b: Int) -> Float {
        if let rows = denseRows {
            let dim = rows.shape[1]
            return rows.withUnsafeBufferPointer { r in
                var sum: Float = 0
                for j in 0..<dim { sum += r[a * dim + j] * r[b * dim + j] }
                return sum
            }
        }
        return keywords?.dot(a, b) ?? 0
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= itemCount, "content: score buffer too small")
        for i in 0..<itemCount { scores[i] = 0 }
        let entries = profile(state)
        guard !entries.isEmpty else { return }
        if let rows = denseRows {
            let dim = rows.shape[1]
            var query = [Float](repeating: 0, count: dim)
            rows.withUnsafeBufferPointer { r in
                for (item, weight, _) in entries { for j in 0..<dim { query[j] += weight * r[item * dim + j] } }
                query.withUnsafeBufferPointer { q in
                    GEMM.multiply(
                        transA: false, transB: true, m: 1, n: itemCount, k: dim, a: q.baseAddress!, lda: dim,
                        b: r.baseAddress!, ldb: dim, c: scores.baseAddress!, ldc: itemCount)
                }
            }
        } else if let keywords {
            var query: [Int32: Float] = [:]
            for (item, weight, _) in entries {
                let (terms, weights) = keywords.vector(of: item)
                for (term, w) in zip(terms, weights) { query[term, default: 0] += weight * w }
            }
            keywords.accumulate(query, into: scores)
        }
    }

    public func save(to directory: URL) throws {
        guard itemCount > 0 else { throw ModelError.notFitted(name) }
        var tensors: [String: Tensor] = [:]
        if let denseRows { tensors["item_vectors"] = denseRows }
        if let keywords {
            func floats(_ values: [Float]) -> Tensor {
                Tensor(shape: [max(values.count, 1)], scalars: values.isEmpty ? [0] : values)
            }
            tensors["offsets"] = floats(keywords.offsets.map(Float.init))
            tensors["terms"] = floats(keywords.terms.map(Float.init))
            tensors["weights"] = floats(keywords.weights)
        }
        try ModelArtifact.write(
            manifest: ModelManifest(
                model: name, config: config.values, itemCount: itemCount),
            tensors: tensors, to: directory)
        if let keywords, !keywords.vocabulary.isEmpty { try keywords.savedVocabulary.write(to: directory) }
    }

    public static func load(from directory: URL) throws -> ContentRecommender {
        let (manifest, file) = try ModelArtifact.read(from: directory, expecting: "content")
        let config = try manifest.config(ContentConfig.self)
        let label = config.text.kind.rawValue, history = config.history, decay = config.decay
        let n = manifest.itemCount
        if label == "encoder" {
            let rows = try file.tensor("item_vectors")
            guard rows.rank == 2, rows.shape[0] == n else {
                throw ModelError.incompatibleArtifact("content: item_vectors \(rows.shape) for \(n) items")
            }
            let model = try ContentRecommender(
                representation: .encoder(StoredVectors(dimension: rows.shape[1])), historyLength: history,
                recencyDecay: decay)
            model.denseRows = rows
            model.itemCount = n
            return model
        }
        guard let weighting = TermWeighting(rawValue: label) else {
            throw ModelError.incompatibleArtifact("content: unknown representation '\(label)'")
        }
        let offsets = try file.tensor("offsets").scalars.map { Int($0) }
        guard offsets.count == n + 1, let total = offsets.last else {
            throw ModelError.incompatibleArtifact("content: \(offsets.count) offsets for \(n) items")
        }
        let terms = try file.tensor("terms").scalars.prefix(total).map { Int32($0) }
        let weights = Array(try file.tensor("weights").scalars.prefix(total))
        guard terms.count == total, weights.count == total else {
            throw ModelError.incompatibleArtifact(
                "content: \(terms.count) terms, \(weights.count) weights, \(total) expected")
        }
        let model = try ContentRecommender(
            representation: .keywords(weighting), historyLength: history, recencyDecay: decay)
        model.keywords = KeywordVectors(
            weighting: weighting, offsets: offsets, terms: terms, weights: weights,
            vocabulary: try KeywordVocabulary.read(from: directory))
        model.itemCount = n
        return model
    }
}

extension ContentRecommender: Explaining {
    /// The history items whose text is closest to `item`'s, each weighted by recency as in the
    /// score, which is exactly the sum of these parts (a repeated item's parts are added).
    public func explain(_ item: Int32, for state: UserState, top: Int) -> [Attribution] {
        guard item >= 0, Int(item) < itemCount, top > 0 else { return [] }
        var parts: [Int32: (position: Int, value: Float)] = [:]
        for entry in profile(state) {
            let value = entry.weight * similarity(Int(item), entry.item)
            // Newest first: a repeated item keeps its newest position.
            parts[Int32(entry.item), default: (entry.position, 0)].value += value
        }
        let total = parts.values.reduce(Float(0)) { $0 + abs($1.value) }
        guard total > 0 else { return [] }
        return parts.filter { $0.value.value > 0 }
            .sorted { ($0.value.value, $1.key) > ($1.value.value, $0.key) }
            .prefix(top)
            .map { Attribution(item: $0.key, position: $0.value.position, weight: $0.value.value / total) }
    }
}

extension ContentRecommender: CatalogueExtending {
    public var canExtendCatalogue: Bool { true }

    public func extended(with items: [Item]) throws -> any Recommender {
        let model = try emptyCopy()
        let texts = items.map(ItemText.of)
        if let keywords {
            model.keywords = try Self.withVocabulary(keywords).appending(texts)
        } else if let denseRows {
            model.denseRows = Tensor.concatenate([denseRows, try encoder().encode(texts)], axis: 0)
        }
        model.itemCount = itemCount + items.count
        return model
    }

    public func reembedded(_ changes: [Int: Item]) throws -> any Recommender {
        let model = try emptyCopy()
        let rows = changes.keys.sorted()
        precondition(rows.allSatisfy { $0 >= 0 && $0 < itemCount }, "content: re-embedding an unknown item index")
        if let keywords {
            model.keywords = try Self.withVocabulary(keywords).replacing(changes.mapValues(ItemText.of))
        } else if let denseRows {
            model.denseRows = denseRows.replacingRows(
                rows, with: try encoder().encode(rows.map { ItemText.of(changes[$0]!) }))
        }
        model.itemCount = itemCount
        return model
    }

    /// A model with this one's settings and no item rows yet.
    private func emptyCopy() throws -> ContentRecommender {
        guard itemCount > 0 else { throw ModelError.notFitted(name) }
        return try ContentRecommender(
            representation: representation, historyLength: historyLength, recencyDecay: recencyDecay)
    }

    private static func withVocabulary(_ keywords: KeywordVectors) throws -> KeywordVectors {
        guard !keywords.vocabulary.isEmpty else {
            throw ModelError.incompatibleArtifact("content: saved without its vocabulary; retrain it to add items")
        }
        return keywords
    }

    /// The encoder that embeds new text; a loaded model has only its stored vectors.
    private func encoder() throws -> any TextEncoder {
        guard case .encoder(let encoder) = representation, !(encoder is StoredVectors) else {
            throw ModelError.incompatibleArtifact(
                "content: a loaded encoder model cannot embed new items; make one with its encoder folder")
        }
        return encoder
    }
}

/// Stands for the encoder of a loaded content model, whose item vectors were saved with it;
/// such a model scores but cannot be refitted.
final class StoredVectors: TextEncoder {
    let dimension: Int
    init(dimension: Int) { self.dimension = dimension }
    func encode(_ texts: [String]) -> Tensor {
        preconditionFailure("content: a loaded model's encoder is not available; load the encoder folder")
    }
}

/// Dense text vectors of items.
public enum ItemTextVectors {
    /// Keyword vectors projected to `dimension` by a seeded random ±1 matrix (which keeps
    /// cosines approximately), rows unit length. A term's row of the matrix depends only on the
    /// seed and the term's column, so new texts are projected as the fitted ones were; only the
    /// rows of terms that occur are drawn.
    public static func project(_ keywords: KeywordVectors, dimension: Int, seed: UInt64) -> Tensor {
        let base = seed ^ 0x7465_7874
        var signs: [Int32: [Float]] = [:]
        let documents = keywords.documentCount
        var out = Tensor.zeros([documents, dimension])
        out.withUnsafeMutableBufferPointer { o in
            for d in 0..<documents {
                let (terms, weights) = keywords.vector(of: d)
                for (t, w) in zip(terms, weights) {
                    let row =
                        signs[t]
                        ?? {
                            var generator = SplitMix64(seed: base, skipping: UInt64(Int(t) * dimension))
                            let row = (0..<dimension).map { _ in Float(generator.next() & 1 == 0 ? 1 : -1) }
                            signs[t] = row
                            return row
                        }()
                    for j in 0..<dimension { o[d * dimension + j] += w * row[j] }
                }
                var norm: Float = 0
                for j in 0..<dimension { norm += o[d * dimension + j] * o[d * dimension + j] }
                let scale = norm > 0 ? 1 / norm.squareRoot() : 0
                for j in 0..<dimension { o[d * dimension + j] *= scale }
            }
        }
        return out
    }
}
