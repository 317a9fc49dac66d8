import Dispatch
import Foundation
import SwiftRecTensor
import Synchronization

/// Turns texts into fixed-size vectors.
public protocol TextEncoder: AnyObject, Sendable {
    /// The vector size.
    var dimension: Int { get }
    /// One vector per text, [texts.count, dimension].
    func encode(_ texts: [String]) -> Tensor
}

/// A BERT-family sentence encoder read from a sentence-transformers folder (`config.json`,
/// `vocab.txt`, `model.safetensors`; optional `sentence_bert_config.json`,
/// `tokenizer_config.json`, `1_Pooling/config.json`, `modules.json`), e.g. all-MiniLM-L6-v2.
/// Its vectors are the pooled last hidden states, L2-normalised when the folder says so, and
/// match sentence-transformers' `encode`. Nothing is downloaded: the caller names the folder.
public final class SentenceEncoder: TextEncoder, @unchecked Sendable {
    /// The parts of `config.json` the encoder reads.
    public struct Configuration: Codable, Sendable, Equatable {
        public var hiddenSize: Int
        public var layers: Int
        public var heads: Int
        public var intermediateSize: Int
        public var maxPositions: Int
        public var vocabularySize: Int
        public var typeVocabularySize: Int
        public var layerNormEpsilon: Float
        public var activation: String

        enum CodingKeys: String, CodingKey {
            case hiddenSize = "hidden_size"
            case layers = "num_hidden_layers"
            case heads = "num_attention_heads"
            case intermediateSize = "intermediate_size"
            case maxPositions = "max_position_embeddings"
            case vocabularySize = "vocab_size"
            case typeVocabularySize = "type_vocab_size"
            case layerNormEpsilon = "layer_norm_eps"
            case activation = "hidden_act"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
            layers = try c.decode(Int.self, forKey: .layers)
            heads = try c.decode(Int.self, forKey: .heads)
            intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
            maxPositions = try c.decodeIfPresent(Int.self, forKey: .maxPositions) ?? 512
            vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
            typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? 2
            layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-12
            activation = try c.decodeIfPresent(String.self, forKey: .activation) ?? "gelu"
        }
    }

    public enum Pooling: String, Sendable { case mean, cls }

    public let configuration: Configuration
    public let tokenizer: WordPieceTokenizer
    public let pooling: Pooling
    public let normalize: Bool
    /// Longer texts are cut to this many tokens, [CLS] and [SEP] included.
    public let maxLength: Int
    /// Texts encoded together (padded to the longest of the batch).
    public var batchSize = 32

    private let wordEmbedding: Tensor
    private let positionEmbedding: Tensor
    private let typeEmbedding: Tensor
    private let embeddingNorm: LayerNorm
    private let blocks: [TransformerBlock]

    public var dimension: Int { configuration.hiddenSize }

    public init(folder: URL) throws {
        func json(_ name: String) throws -> [String: Any]? {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            do {
                return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            } catch {
                throw TextModelError.unreadable(url.path, "\(error)")
            }
        }
        let configURL = folder.appendingPathComponent("config.json")
        do {
            configuration = try JSONDecoder().decode(Configuration.self, from: Data(contentsOf: configURL))
        } catch {
            throw TextModelError.unreadable(configURL.path, "\(error)")
        }
        let c = configuration
        guard c.activation == "gelu" else {
            throw TextModelError.invalid("config.json: hidden_act '\(c.activation)' is not supported (only gelu)")
        }
        guard c.hiddenSize % c.heads == 0 else {
            throw TextModelError.invalid(
                "config.json: hidden_size \(c.hiddenSize) is not divisible by \(c.heads) heads")
        }
        let tokenizerConfig = try json("tokenizer_config.json")
        tokenizer = try WordPieceTokenizer(
            vocabularyFile: folder.appendingPathComponent("vocab.txt"),
            lowercase: tokenizerConfig?["do_lower_case"] as? Bool ?? true)
        // Older folders flag each pooling mode; newer ones name it.
        let poolingConfig = try json("1_Pooling/config.json") ?? [:]
        let mode =
            poolingConfig["pooling_mode"] as? String
            ?? (poolingConfig["pooling_mode_cls_token"] as? Bool == true ? "cls" : nil)
            ?? (poolingConfig["pooling_mode_max_tokens"] as? Bool == true ? "max" : "mean")
        guard let pooling = Pooling(rawValue: mode) else {
            throw TextModelError.invalid("1_Pooling/config.json: pooling '\(mode)' is not supported (mean or cls)")
        }
        self.pooling = pooling
        let modules = try JSONSerialization.jsonObject(
            with: (try? Data(contentsOf: folder.appendingPathComponent("modules.json"))) ?? Data("[]".utf8))
        normalize =
            (modules as? [[String: Any]])?.contains { ($0["type"] as? String)?.hasSuffix("Normalize") == true }
            ?? false
        let configuredLength =
            try json("sentence_bert_config.json")?["max_seq_length"] as? Int
            ?? tokenizerConfig?["model_max_length"] as? Int
        maxLength = max(2, min(configuredLength ?? c.maxPositions, c.maxPositions))

        let weightsURL = folder.appendingPathComponent("model.safetensors")
        let file: SafeTensors
        do {
            file = try SafeTensors(contentsOf: weightsURL)
        } catch {
            throw TextModelError.unreadable(weightsURL.path, "\(error)")
        }
        // sentence-transformers folders name tensors like BertModel; full checkpoints add "bert.".
        let prefix = file.entries["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard file.entries[prefix + name] != nil else {
                throw TextModelError.invalid("model.safetensors: no tensor '\(prefix + name)'")
            }
            let t = try file.tensor(prefix + name)
            guard t.shape == shape else {
                throw TextModelError.invalid("model.safetensors: '\(prefix + name)' is \(t.shape), expected \(shape)")
            }
            return t
        }
        let d = c.hiddenSize
        wordEmbedding = try tensor("embeddings.word_embeddings.weight", [c.vocabularySize, d])
        positionEmbedding = try tensor("embeddings.position_embeddings.weight", [c.maxPositions, d])
        typeEmbedding = try tensor("embeddings.token_type_embeddings.weight", [c.typeVocabularySize, d])
        embeddingNorm = LayerNorm(d, epsilon: c.layerNormEpsilon)
        embeddingNorm.weight.value = try tensor("embeddings.LayerNorm.weight", [d])
        embeddingNorm.bias.value = try tensor("embeddings.LayerNorm.bias", [d])
        var generator = SeededGenerator(seed: 0)
        var blocks: [TransformerBlock] = []
        for n in 0..<c.layers {
            let block = TransformerBlock(
                dim: d, heads: c.heads, feedForwardDim: c.intermediateSize, dropout: 0, causal: false, preNorm: false,
                activation: .gelu, layerNormEpsilon: c.layerNormEpsilon, generator: &generator)
            let p = "encoder.layer.\(n)."
            let names: [(Variable, String, [Int])] = [
                (block.attention.query.weight, "attention.self.query.weight", [d, d]),
                (block.attention.query.bias!, "attention.self.query.bias", [d]),
                (block.attention.key.weight, "attention.self.key.weight", [d, d]),
                (block.attention.key.bias!, "attention.self.key.bias", [d]),
                (block.attention.value.weight, "attention.self.value.weight", [d, d]),
                (block.attention.value.bias!, "attention.self.value.bias", [d]),
                (block.attention.output.weight, "attention.output.dense.weight", [d, d]),
                (block.attention.output.bias!, "attention.output.dense.bias", [d]),
                (block.norm1.weight, "attention.output.LayerNorm.weight", [d]),
                (block.norm1.bias, "attention.output.LayerNorm.bias", [d]),
                (block.feedForward.layers[0].weight, "intermediate.dense.weight", [c.intermediateSize, d]),
                (block.feedForward.layers[0].bias!, "intermediate.dense.bias", [c.intermediateSize]),
                (block.feedForward.layers[1].weight, "output.dense.weight", [d, c.intermediateSize]),
                (block.feedForward.layers[1].bias!, "output.dense.bias", [d]),
                (block.norm2.weight, "output.LayerNorm.weight", [d]),
                (block.norm2.bias, "output.LayerNorm.bias", [d]),
            ]
            for (parameter, name, shape) in names { parameter.value = try tensor(p + name, shape) }
            block.setTraining(false)
            blocks.append(block)
        }
        self.blocks = blocks
    }

    /// Token ids of each text as the encoder reads them.
    public func tokenize(_ text: String) -> [Int32] { tokenizer.encode(text, maxLength: maxLength) }

    public func encode(_ texts: [String]) -> Tensor {
        let d = dimension
        var out = Tensor.zeros([texts.count, d])
        guard !texts.isEmpty else { return out }
        let tokens = texts.map(tokenize)
        // Longest first, as sentence-transformers does: batches hold similar lengths.
        let order = tokens.indices.sorted { tokens[$0].count > tokens[$1].count }
        let size = max(batchSize, 1)
        let batches = stride(from: 0, to: order.count, by: size).map { Array(order[$0..<min($0 + size, order.count)]) }
        let threads = Threading.threadCount
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let o = buffer.baseAddress!
            let encode: @Sendable ([Int]) -> Void = { members in
                let vectors = withNoGrad { self.encodeBatch(members.map { tokens[$0] }) }
                vectors.withUnsafeBufferPointer { v in
                    for (row, index) in members.enumerated() {
                        (o + index * d).update(from: v.baseAddress! + row * d, count: d)
                    }
                }
            }
            if threads == 1 || batches.count < 2 * threads {
                for members in batches { encode(members) }
                return
            }
            // Whole batches side by side, one thread each: no hand-over between threads
            // inside a batch, and the element-wise steps run in parallel too.
            let next = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                Threading.withThreadCount(1) {
                    while true {
                        let i = next.add(1, ordering: .relaxed).oldValue
                        guard i < batches.count else { return }
                        encode(batches[i])
                    }
                }
            }
        }
        return out
    }

    /// Pooled vectors [batch, dim] of right-padded token rows.
    private func encodeBatch(_ rows: [[Int32]]) -> Tensor {
        let batch = rows.count, length = rows.map(\.count).max() ?? 1, d = dimension
        var input = Tensor(uninitializedShape: [batch, length, d])
        var padding = Tensor.zeros([batch, length])
        input.withUnsafeMutableBufferPointer { x in
            padding.withUnsafeMutableBufferPointer { mask in
                wordEmbedding.withUnsafeBufferPointer { word in
                    positionEmbedding.withUnsafeBufferPointer { position in
                        typeEmbedding.withUnsafeBufferPointer { type in
                            for (b, row) in rows.enumerated() {
                                for t in 0..<length {
                                    let id = t < row.count ? Int(row[t]) : Int(tokenizer.padding)
                                    if t >= row.count { mask[b * length + t] = 1 }
                                    let base = (b * length + t) * d
                                    for j in 0..<d { x[base + j] = word[id * d + j] + position[t * d + j] + type[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
        var h = embeddingNorm(Variable(input))
        for block in blocks { h = block(h, keyPaddingMask: padding) }
        let hidden = h.value
        var pooled = Tensor.zeros([batch, d])
        pooled.withUnsafeMutableBufferPointer { p in
            hidden.withUnsafeBufferPointer { s in
                for (b, row) in rows.enumerated() {
                    let used = pooling == .cls ? 1 : row.count
                    for t in 0..<used {
                        let base = (b * length + t) * d
                        for j in 0..<d { p[b * d + j] += s[base + j] }
                    }
                    var norm: Float = 0
                    for j in 0..<d {
                        p[b * d + j] /= Float(max(used, 1))
                        norm += p[b * d + j] * p[b * d + j]
                    }
                    if normalize {
                        let scale = 1 / max(norm.squareRoot(), 1e-12)
                        for j in 0..<d { p[b * d + j] *= scale }
                    }
                }
            }
        }
        return pooled
    }
}
