import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecModels

/// The tiny random BERT written by `Benchmarks/peers/make_tiny_bert.py`, with
/// sentence-transformers' token ids and embeddings for its sentences.
private struct TinyBERT {
    let folder: URL
    let sentences: [String]
    let ids: [[Int32]]
    let embeddings: [[Float]]

    init() throws {
        let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/tiny-bert")
        folder = base
        let expected = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathComponent("expected.json")))
                as? [String: Any])
        sentences = try #require(expected["sentences"] as? [String])
        ids = try #require(expected["ids"] as? [[Int]]).map { $0.map(Int32.init) }
        embeddings = try #require(expected["embeddings"] as? [[Double]]).map { $0.map(Float.init) }
    }
}

@Suite("Text encoders")
struct TextEncoderTests {
    @Test func wordPieceMatchesTheReferenceTokenizer() throws {
        let tiny = try TinyBERT()
        let encoder = try SentenceEncoder(folder: tiny.folder)
        #expect(encoder.maxLength == 48)
        for (sentence, ids) in zip(tiny.sentences, tiny.ids) {
            #expect(encoder.tokenize(sentence) == ids, "\(sentence)")
        }
    }

    @Test func sentenceEmbeddingsMatchSentenceTransformers() throws {
        let tiny = try TinyBERT()
        let encoder = try SentenceEncoder(folder: tiny.folder)
        #expect(encoder.dimension == 32 && encoder.pooling == .mean && encoder.normalize)
        for batchSize in [1, 3, 32] {
            encoder.batchSize = batchSize
            let vectors = encoder.encode(tiny.sentences)
            #expect(vectors.shape == [tiny.sentences.count, 32])
            for (row, expected) in tiny.embeddings.enumerated() {
                let got = Array(vectors.scalars[(row * 32)..<((row + 1) * 32)])
                let cosine = zip(got, expected).reduce(0) { $0 + $1.0 * $1.1 }
                let largest = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
                #expect(cosine > 0.99999 && largest < 1e-4, "sentence \(row), batch \(batchSize): \(cosine) \(largest)")
            }
        }
    }

    @Test func batchesEncodedSideBySideMatchOneThread() throws {
        let tiny = try TinyBERT()
        let encoder = try SentenceEncoder(folder: tiny.folder)
        encoder.batchSize = 2
        let texts = tiny.sentences + tiny.sentences.reversed()
        let outside = Threading.threadCount
        let alone = Threading.withThreadCount(1) { encoder.encode(texts) }
        // Three threads with more than six batches: whole batches run side by side.
        #expect(texts.count > 12)
        let sideBySide = Threading.withThreadCount(3) { encoder.encode(texts) }
        #expect(sideBySide.scalars == alone.scalars)
        #expect(Threading.withThreadCount(3) { Threading.threadCount } == 3)
        #expect(Threading.threadCount == outside)
    }

    @Test func unusableFoldersAreNamed() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/model")
        #expect(throws: TextModelError.self) { try SentenceEncoder(folder: missing) }
        do {
            _ = try SentenceEncoder(folder: missing)
        } catch {
            #expect("\(error)".contains("config.json"))
        }
        #expect(throws: TextModelError.invalid("vocab.txt: no [UNK] token")) {
            try WordPieceTokenizer(tokens: ["[PAD]", "[CLS]", "[SEP]"])
        }
    }

    @Test func contentAwareSASRecWithEncoderVectorsSavesAndLoads() throws {
        let encoder = try SentenceEncoder(folder: try TinyBERT().folder)
        let data = SyntheticGenerator.generate(
            SyntheticConfig(users: 40, categories: 3, itemsPerCategory: 6, eventsPerUser: 6...10, seed: 4)
        ).dataset
        var config = SASRecConfig()
        config.dim = 16
        config.blocks = 1
        config.heads = 1
        config.maxLength = 10
        config.training.epochs = 1
        config.itemText = ItemTextSettings(representation: "encoder")
        let model = try SASRec(config: config, itemText: .encoder(encoder))
        try model.fit(data, validation: nil, progress: nil)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-enc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        // Loaded without the encoder: it scores from its saved text vectors, and says what a
        // refit or a new item would need.
        let loaded = try #require(try ModelCatalog.load(from: dir) as? SASRec)
        let state = UserState(items: [0, 1, 2])
        #expect(loaded.scores(for: state) == model.scores(for: state))
        #expect(throws: ModelError.self) { try loaded.fit(data, validation: nil, progress: nil) }
        #expect(throws: ModelError.self) { try loaded.extended(with: [Item(id: "new", title: "a new thing")]) }
        #expect(try model.extended(with: [Item(id: "new", title: "a new thing")]).itemCount == data.itemCount + 1)
    }
}
