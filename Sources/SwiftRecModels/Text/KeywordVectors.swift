import Foundation
import SwiftRecData

/// Splits text into keyword terms for any script: letters and digits make words (lower-cased,
/// accents removed); CJK, kana and Hangul text has no spaces, so each character and each
/// pair of neighbouring characters is a term.
public struct KeywordTokenizer: Sendable {
    public init() {}

    public func terms(_ text: String) -> [String] {
        var terms: [String] = []
        var word = String.UnicodeScalarView()
        var previousIdeograph: Unicode.Scalar?
        func flushWord() {
            if !word.isEmpty { terms.append(String(word)) }
            word = String.UnicodeScalarView()
        }
        let folded = text.lowercased().decomposedStringWithCanonicalMapping
        for scalar in folded.unicodeScalars {
            if Self.isUnspaced(scalar) {
                flushWord()
                terms.append(String(scalar))
                if let previous = previousIdeograph { terms.append(String(previous) + String(scalar)) }
                previousIdeograph = scalar
                continue
            }
            previousIdeograph = nil
            let properties = scalar.properties
            if properties.generalCategory == .nonspacingMark { continue }
            if properties.isAlphabetic || properties.numericType != nil {
                word.append(scalar)
            } else {
                flushWord()
            }
        }
        flushWord()
        return terms
    }

    /// Scripts written without spaces between words.
    static func isUnspaced(_ s: Unicode.Scalar) -> Bool {
        WordPieceTokenizer.isCJK(s) || (0x3040...0x30FF).contains(s.value) || (0xAC00...0xD7AF).contains(s.value)
    }
}

/// How keyword counts become weights.
public enum TermWeighting: String, Codable, Sendable, CaseIterable {
    /// (1 + ln tf) · idf with idf = ln((1 + N) / (1 + df)) + 1.
    case tfidf
    /// Okapi BM25 document weights: idf · tf·(k1 + 1) / (tf + k1·(1 − b + b·length/average)).
    case bm25
}

/// What a fitted ``KeywordVectors`` needs to vectorise new text the same way: the vocabulary
/// (term per column) and the term statistics of the documents it was fitted on. Saved with
/// models, so a trained model can take in items added after training.
public struct KeywordVocabulary: Codable, Sendable, Equatable {
    public var weighting: TermWeighting
    /// Terms in column order.
    public var terms: [String]
    public var inverseFrequency: [Float]
    public var averageLength: Float

    public static let fileName = "text_vocabulary.json"

    public func write(to directory: URL) throws {
        try JSONEncoder().encode(self).write(to: directory.appendingPathComponent(Self.fileName), options: .atomic)
    }

    /// The vocabulary saved in `directory`, or nil when there is none (models saved before it existed).
    public static func read(from directory: URL) throws -> KeywordVocabulary? {
        let url = directory.appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url) else { return nil }
        do {
            let vocabulary = try JSONDecoder().decode(KeywordVocabulary.self, from: data)
            guard vocabulary.terms.count == vocabulary.inverseFrequency.count else {
                throw ModelError.incompatibleArtifact(
                    "\(url.path): \(vocabulary.terms.count) terms, \(vocabulary.inverseFrequency.count) frequencies")
            }
            return vocabulary
        } catch let error as ModelError {
            throw error
        } catch {
            throw ModelError.incompatibleArtifact("\(url.path) is not a keyword vocabulary: \(error)")
        }
    }
}

/// L2-normalised sparse keyword vectors of documents (items' texts), with an inverted index
/// so one query vector scores every document in time proportional to the postings it touches.
public struct KeywordVectors: Sendable {
    public let weighting: TermWeighting
    /// Term → column.
    public let vocabulary: [String: Int32]
    /// Per term: ln-based inverse document frequency as `weighting` defines it.
    public let inverseFrequency: [Float]
    public let documentCount: Int
    let averageLength: Float
    static let k1: Float = 1.2
    static let b: Float = 0.75
    /// Documents as rows: `terms[offsets[d]..<offsets[d + 1]]` with `weights` alongside.
    let offsets: [Int]
    let terms: [Int32]
    let weights: [Float]
    /// Terms as rows: the documents containing each term with its weight.
    let postingOffsets: [Int]
    let postingDocuments: [Int32]
    let postingWeights: [Float]

    public init(documents: [String], weighting: TermWeighting, tokenizer: KeywordTokenizer = .init()) {
        self.weighting = weighting
        documentCount = documents.count
        var vocabulary: [String: Int32] = [:]
        var counted: [[(term: Int32, count: Int)]] = []
        var frequency: [Int] = []
        var totalLength = 0
        for text in documents {
            var counts: [Int32: Int] = [:]
            let words = tokenizer.terms(text)
            totalLength += words.count
            for word in words {
                let id: Int32
                if let known = vocabulary[word] {
                    id = known
                } else {
                    id = Int32(vocabulary.count)
                    vocabulary[word] = id
                    frequency.append(0)
                }
                counts[id, default: 0] += 1
            }
            for term in counts.keys { frequency[Int(term)] += 1 }
            counted.append(counts.map { ($0.key, $0.value) }.sorted { $0.term < $1.term })
        }
        self.vocabulary = vocabulary
        let average = Float(totalLength) / Float(max(documents.count, 1))
        averageLength = average
        let n = Float(documents.count)
        let idf = frequency.map { df -> Float in
            switch weighting {
            case .tfidf: Foundation.log((1 + n) / (1 + Float(df))) + 1
            case .bm25: Foundation.log(1 + (n - Float(df) + 0.5) / (Float(df) + 0.5))
            }
        }
        inverseFrequency = idf
        var offsets = [0], terms: [Int32] = [], weights: [Float] = []
        for counts in counted {
            let length = Float(counts.reduce(0) { $0 + $1.count })
            let row = counts.map { entry in
                Self.weight(
                    count: Float(entry.count), length: length, idf: idf[Int(entry.term)], weighting: weighting,
                    average: average)
            }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            terms += counts.map(\.term)
            weights += row.map { norm > 0 ? $0 / norm : 0 }
            offsets.append(terms.count)
        }
        self.offsets = offsets
        self.terms = terms
        self.weights = weights
        (postingOffsets, postingDocuments, postingWeights) = Self.invert(
            offsets: offsets, terms: terms, weights: weights, termCount: vocabulary.count)
    }

    /// Saved rows: vectors of documents as written by a fitted instance, with its vocabulary
    /// when saved (without it, ``vector(for:tokenizer:)`` knows no words).
    init(
        weighting: TermWeighting, offsets: [Int], terms: [Int32], weights: [Float],
        vocabulary saved: KeywordVocabulary? = nil
    ) {
        let columns = Dictionary(
            (saved?.terms ?? []).enumerated().map { ($0.element, Int32($0.offset)) }, uniquingKeysWith: { a, _ in a })
        let termCount = max(Int(terms.max() ?? -1) + 1, saved?.terms.count ?? 0)
        self.init(
            weighting: weighting, columns: columns,
            inverseFrequency: saved?.inverseFrequency ?? [Float](repeating: 0, count: termCount),
            averageLength: saved?.averageLength ?? 0, offsets: offsets, terms: terms, weights: weights)
    }

    /// No documents yet: a fitted vocabulary, ready to vectorise new texts with ``appending(_:tokenizer:)``.
    public init(vocabulary: KeywordVocabulary) {
        self.init(weighting: vocabulary.weighting, offsets: [0], terms: [], weights: [], vocabulary: vocabulary)
    }

    private init(
        weighting: TermWeighting, columns: [String: Int32], inverseFrequency: [Float], averageLength: Float,
        offsets: [Int], terms: [Int32], weights: [Float]
    ) {
        self.weighting = weighting
        documentCount = offsets.count - 1
        vocabulary = columns
        self.inverseFrequency = inverseFrequency
        self.averageLength = averageLength
        self.offsets = offsets
        self.terms = terms
        self.weights = weights
        (postingOffsets, postingDocuments, postingWeights) = Self.invert(
            offsets: offsets, terms: terms, weights: weights,
            termCount: max(inverseFrequency.count, Int(terms.max() ?? -1) + 1))
    }

    /// The vocabulary and statistics that vectorise new text as this instance does.
    public var savedVocabulary: KeywordVocabulary {
        var terms = [String](repeating: "", count: vocabulary.count)
        for (term, column) in vocabulary { terms[Int(column)] = term }
        return KeywordVocabulary(
            weighting: weighting, terms: terms, inverseFrequency: inverseFrequency, averageLength: averageLength)
    }

    /// These documents followed by `texts`, vectorised with the fitted vocabulary and
    /// statistics (words it does not know are dropped; the existing rows do not change).
    public func appending(_ texts: [String], tokenizer: KeywordTokenizer = .init()) -> KeywordVectors {
        var offsets = self.offsets, terms = self.terms, weights = self.weights
        for text in texts {
            for (term, weight) in vector(for: text, tokenizer: tokenizer).sorted(by: { $0.key < $1.key }) {
                terms.append(term)
                weights.append(weight)
            }
            offsets.append(terms.count)
        }
        return KeywordVectors(
            weighting: weighting, columns: vocabulary, inverseFrequency: inverseFrequency,
            averageLength: averageLength, offsets: offsets, terms: terms, weights: weights)
    }

    /// These vectors with the rows in `rows` (row index → new text) weighted afresh against the
    /// fitted vocabulary, as ``appending(_:tokenizer:)`` weights new rows; the others unchanged.
    public func replacing(_ rows: [Int: String], tokenizer: KeywordTokenizer = .init()) -> KeywordVectors {
        var offsets = [0], terms: [Int32] = [], weights: [Float] = []
        terms.reserveCapacity(self.terms.count)
        weights.reserveCapacity(self.weights.count)
        for row in 0..<documentCount {
            if let text = rows[row] {
                for (term, weight) in vector(for: text, tokenizer: tokenizer).sorted(by: { $0.key < $1.key }) {
                    terms.append(term)
                    weights.append(weight)
                }
            } else {
                terms += self.terms[self.offsets[row]..<self.offsets[row + 1]]
                weights += self.weights[self.offsets[row]..<self.offsets[row + 1]]
            }
            offsets.append(terms.count)
        }
        return KeywordVectors(
            weighting: weighting, columns: vocabulary, inverseFrequency: inverseFrequency,
            averageLength: averageLength, offsets: offsets, terms: terms, weights: weights)
    }

    /// Documents per term (the rows' transpose).
    private static func invert(offsets: [Int], terms: [Int32], weights: [Float], termCount: Int) -> (
        [Int], [Int32], [Float]
    ) {
        let byTerm = BinaryInteractions(userOffsets: offsets, items: terms, counts: weights, itemCount: termCount)
            .byItem()
        return (byTerm.offsets, byTerm.users, byTerm.counts)
    }

    static func weight(
        count: Float, length: Float, idf: Float, weighting: TermWeighting, average: Float
    ) -> Float {
        switch weighting {
        case .tfidf: return (1 + Foundation.log(count)) * idf
        case .bm25:
            let (k1, b) = (Self.k1, Self.b)
            return idf * count * (k1 + 1) / (count + k1 * (1 - b + b * length / max(average, 1)))
        }
    }

    /// Document `d`'s terms and weights.
    public func vector(of d: Int) -> (terms: ArraySlice<Int32>, weights: ArraySlice<Float>) {
        (terms[offsets[d]..<offsets[d + 1]], weights[offsets[d]..<offsets[d + 1]])
    }

    /// The dot product of documents `a` and `b` (their term lists are sorted: one merge).
    public func dot(_ a: Int, _ b: Int) -> Float {
        let (termsA, weightsA) = vector(of: a)
        let (termsB, weightsB) = vector(of: b)
        var i = termsA.startIndex, j = termsB.startIndex
        var sum: Float = 0
        while i < termsA.endIndex && j < termsB.endIndex {
            if termsA[i] == termsB[j] {
                sum += weightsA[i] * weightsB[j]
                i += 1
                j += 1
            } else if termsA[i] < termsB[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return sum
    }

    /// A new text's vector over the known vocabulary (unknown words are dropped).
    public func vector(for text: String, tokenizer: KeywordTokenizer = .init()) -> [Int32: Float] {
        var counts: [Int32: Float] = [:]
        let words = tokenizer.terms(text)
        for word in words { if let t = vocabulary[word] { counts[t, default: 0] += 1 } }
        let vector = Dictionary(
            uniqueKeysWithValues: counts.map { t, count in
                (
                    t,
                    Self.weight(
                        count: count, length: Float(words.count), idf: inverseFrequency[Int(t)], weighting: weighting,
                        average: averageLength)
                )
            })
        let norm = vector.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? vector.mapValues { $0 / norm } : [:]
    }

    /// Adds `query · document` for every document into `scores` (length `documentCount`).
    public func accumulate(_ query: [Int32: Float], into scores: UnsafeMutableBufferPointer<Float>) {
        postingDocuments.withUnsafeBufferPointer { documents in
            postingWeights.withUnsafeBufferPointer { weights in
                // In term order, so sums do not depend on the dictionary's (per-process) layout.
                for (term, q) in query.sorted(by: { $0.key < $1.key })
                where term >= 0 && Int(term) < postingOffsets.count - 1 {
                    for k in postingOffsets[Int(term)]..<postingOffsets[Int(term) + 1] {
                        scores[Int(documents[k])] += q * weights[k]
                    }
                }
            }
        }
    }
}

/// The text an item's encoders read: title, brand, categories and description.
public enum ItemText {
    /// The text of every item of `dataset`, by item index (empty for items without information).
    public static func all(of dataset: Dataset) -> [String] {
        (0..<dataset.itemCount).map { of(dataset.itemInfo.indices.contains($0) ? dataset.itemInfo[$0] : nil) }
    }

    public static func of(_ item: Item?) -> String {
        guard let item else { return "" }
        var parts: [String] = []
        if let title = item.title, !title.isEmpty { parts.append(title) }
        if let brand = item.attributes["brand"], !brand.isEmpty { parts.append(brand) }
        if !item.categories.isEmpty { parts.append(item.categories.joined(separator: ", ")) }
        if let description = item.description, !description.isEmpty { parts.append(description) }
        return parts.joined(separator: ". ")
    }
}
