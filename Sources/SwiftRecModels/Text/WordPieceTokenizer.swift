import Foundation

/// BERT's tokenizer: the same token ids as Hugging Face's `BertTokenizer` for a `vocab.txt`
/// (text cleaning, CJK characters as words, optional lower-casing with accents stripped,
/// punctuation split, then greedy longest-match WordPiece with `##` continuations).
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String: Int32]
    public let lowercase: Bool
    public let unknown: Int32
    public let classifier: Int32
    public let separator: Int32
    public let padding: Int32
    /// Longer words become the unknown token, as in BERT.
    public let maxCharactersPerWord = 100

    /// Reads `vocab.txt`: one token per line, the line number is its id.
    public init(vocabularyFile url: URL, lowercase: Bool = true) throws {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw TextModelError.unreadable(url.path, "\(error)")
        }
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        try self.init(tokens: lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }, lowercase: lowercase)
    }

    public init(tokens: [String], lowercase: Bool = true) throws {
        var vocabulary: [String: Int32] = [:]
        for (id, token) in tokens.enumerated() where vocabulary[token] == nil { vocabulary[token] = Int32(id) }
        func special(_ name: String) throws -> Int32 {
            guard let id = vocabulary[name] else { throw TextModelError.invalid("vocab.txt: no \(name) token") }
            return id
        }
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        unknown = try special("[UNK]")
        classifier = try special("[CLS]")
        separator = try special("[SEP]")
        padding = try special("[PAD]")
    }

    /// `[CLS] tokens [SEP]`, cut to at most `maxLength` ids.
    public func encode(_ text: String, maxLength: Int = 256) -> [Int32] {
        var ids = [classifier]
        for word in basicTokens(text) {
            if ids.count >= maxLength - 1 { break }
            ids += wordPieces(word)
        }
        if ids.count > maxLength - 1 { ids.removeLast(ids.count - (maxLength - 1)) }
        ids.append(separator)
        return ids
    }

    /// Words after cleaning, CJK spacing, lower-casing and punctuation splitting.
    public func basicTokens(_ text: String) -> [String] {
        // Clean: drop NUL, U+FFFD and control characters; any whitespace becomes a space; CJK
        // ideographs become words of their own.
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            if Self.isWhitespace(scalar) {
                cleaned.append(" ")
            } else if Self.isCJK(scalar) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var words: [String] = []
        for token in String(cleaned).split(separator: " ", omittingEmptySubsequences: true) {
            var word = String(token)
            if lowercase {
                word = word.lowercased().decomposedStringWithCanonicalMapping
                word = String(
                    String.UnicodeScalarView(
                        word.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }))
            }
            var current = String.UnicodeScalarView()
            for scalar in word.unicodeScalars {
                if Self.isPunctuation(scalar) {
                    if !current.isEmpty { words.append(String(current)) }
                    current = String.UnicodeScalarView()
                    words.append(String(scalar))
                } else {
                    current.append(scalar)
                }
            }
            if !current.isEmpty { words.append(String(current)) }
        }
        return words
    }

    /// Greedy longest-match pieces of one word; the unknown token when any part has no piece.
    public func wordPieces(_ word: String) -> [Int32] {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count <= maxCharactersPerWord else { return [unknown] }
        var pieces: [Int32] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: Int32?
            while start < end {
                var piece = String(String.UnicodeScalarView(scalars[start..<end]))
                if start > 0 { piece = "##" + piece }
                if let id = vocabulary[piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let found else { return [unknown] }
            pieces.append(found)
            start = end
        }
        return pieces
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.generalCategory == .spaceSeparator
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        let category = s.properties.generalCategory
        return category == .control || category == .format
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        // BERT treats every non-letter/number ASCII symbol as punctuation.
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}

/// Why a text model or its files could not be used.
public enum TextModelError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .invalid(let reason): return reason
        }
    }
}
