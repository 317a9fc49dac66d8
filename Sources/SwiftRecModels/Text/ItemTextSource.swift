import Foundation
import SwiftRecData

/// The kinds of item text vectors.
public enum TextRepresentationKind: String, Sendable, Codable, CaseIterable, OptionChoice {
    case bm25, tfidf, encoder
}

/// Where a text model's item vectors come from: the options `representation` and `encoder`,
/// shared by ``ContentRecommender`` and content-aware ``SASRec``.
public struct ItemTextSource: Sendable, Equatable {
    /// Nil: `encoder` when an encoder folder is named, else `bm25`.
    public var representation: TextRepresentationKind?
    /// A sentence-transformers folder (e.g. MiniLM) for `representation=encoder`.
    public var encoder: String?

    public init(representation: TextRepresentationKind? = nil, encoder: String? = nil) {
        self.representation = representation
        self.encoder = encoder
    }

    /// The representation in effect.
    public var kind: TextRepresentationKind { representation ?? (encoder != nil ? .encoder : .bm25) }

    /// What the `representation` option reads and writes: a saved config names the kind in
    /// effect, so it reads back the same with or without the encoder folder.
    var representationInEffect: TextRepresentationKind? {
        get { kind }
        set { representation = newValue }
    }

    public static let options: [ConfigOption<Self>] = [
        .checked(
            "representation", \.representationInEffect, range: "one of bm25, tfidf, encoder, or none",
            "Item text vectors: keyword weights (bm25, tfidf) or a sentence encoder."),
        .checked("encoder", \.encoder, range: "a folder, or none", "A sentence-transformers folder (e.g. MiniLM)."),
    ]

    /// Keyword weights, or the encoder loaded from its folder.
    public func make() throws -> ItemRepresentation {
        switch kind {
        case .bm25: return .keywords(.bm25)
        case .tfidf: return .keywords(.tfidf)
        case .encoder:
            guard let encoder else {
                throw ModelError.invalidParameter(
                    name: "encoder",
                    reason: "representation=encoder needs encoder=FOLDER (a sentence-transformers folder)")
            }
            do {
                return .encoder(try SentenceEncoder(folder: URL(fileURLWithPath: encoder)))
            } catch {
                throw ModelError.invalidParameter(name: "encoder", reason: "\(error)")
            }
        }
    }
}
