import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecTensor

/// Sentence-encoder throughput on a dataset's item texts, and the vectors for a parity check.
struct EncoderBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Encode every item text of a dataset with a sentence encoder folder; report sentences/s.",
        discussion: """
            With --out, writes texts.jsonl (one JSON string per item, the text the encoder read) and \
            embeddings.f32 (little-endian float32, items × dim) so a peer can compare \
            (Benchmarks/peers/compare_encoder.py).
            """)

    @Option(help: "A sentence-transformers folder (config.json, vocab.txt, model.safetensors).") var encoder: String
    @OptionGroup var source: DataOptions
    @Option(help: "Texts per batch.") var batch = 32
    @Option(help: "Kernel threads.") var threads = 2
    @Option(help: "Folder for texts.jsonl and embeddings.f32.") var out: String?
    @Flag(help: "Print one JSON object as the last line.") var json = false

    func run() throws {
        guard threads >= 1, batch >= 1 else { throw ValidationError("--threads and --batch must be at least 1") }
        Threading.setThreadCount(threads)
        let loadStart = ProcessStats.now()
        let model = try SentenceEncoder(folder: URL(fileURLWithPath: encoder))
        model.batchSize = batch
        let loadSeconds = ProcessStats.now() - loadStart
        let dataset = try ModelRunner.load(source)
        let texts = ItemText.all(of: dataset)
        let tokens = texts.reduce(0) { $0 + model.tokenize($1).count }
        _ = model.encode(Array(texts.prefix(batch)))  // warm-up: page in the weights
        let start = ProcessStats.now()
        let vectors = model.encode(texts)
        let seconds = ProcessStats.now() - start
        let rate = Double(texts.count) / seconds
        Console.log(
            String(
                format:
                    "encoder %@: %d texts, %d tokens (max %d per text), %.2f s, %.1f sentences/s at %d threads; load %.2f s",
                encoder, texts.count, tokens, model.maxLength, seconds, rate, threads, loadSeconds))
        if let out {
            let folder = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let lines = try texts.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(
                to: folder.appendingPathComponent("texts.jsonl"))
            let bytes = vectors.scalars.withUnsafeBufferPointer { Data(buffer: $0) }
            try bytes.write(to: folder.appendingPathComponent("embeddings.f32"))
            Console.log("wrote \(out)/texts.jsonl and embeddings.f32 (\(texts.count) × \(model.dimension))")
        }
        Console.log(
            "command: swiftrec bench encoder --encoder \(encoder) --data \(source.data) --format \(source.format.rawValue) --batch \(batch) --threads \(threads)"
        )
        if json {
            try Console.printJSON([
                "results": [
                    [
                        "texts": texts.count.json, "tokens": tokens.json, "seconds": seconds.json,
                        "sentences_per_second": rate.json,
                        "threads": threads.json, "batch": batch.json, "dimension": model.dimension.json,
                        "load_seconds": loadSeconds.json,
                    ]
                ]
            ])
        }
    }
}
