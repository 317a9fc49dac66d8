import SwiftRecTensor

/// A causal Transformer over item sequences that predicts the next item over the whole
/// catalogue (SASRec-shaped), for `swiftrec bench transformer` (one block, fixed shapes). The
/// SASRec model itself, with its training loop, is `SASRec` in the models module.
final class NextItemTransformer: Layer {
    let items: Int
    let itemEmbedding: Embedding
    let positionEmbedding: Embedding
    let blocks: [TransformerBlock]
    let finalNorm: LayerNorm
    let embeddingDropout: Dropout
    var isTraining = true

    /// Item ids are 1...items; 0 is padding.
    init(
        items: Int, maxLength: Int, dim: Int, heads: Int, blocks: Int, dropout: Float, generator: inout SeededGenerator
    ) {
        self.items = items
        itemEmbedding = Embedding(count: items + 1, dim: dim, paddingIndex: 0, std: 0.1, generator: &generator)
        positionEmbedding = Embedding(count: maxLength, dim: dim, std: 0.1, generator: &generator)
        self.blocks = (0..<blocks).map { _ in
            TransformerBlock(
                dim: dim, heads: heads, feedForwardDim: 4 * dim, dropout: dropout, causal: true, generator: &generator)
        }
        finalNorm = LayerNorm(dim)
        embeddingDropout = Dropout(dropout, seed: generator.next())
    }

    var children: [(name: String, layer: any Layer)] {
        [("item_embedding", itemEmbedding), ("position_embedding", positionEmbedding)]
            + blocks.enumerated().map { ("blocks.\($0.offset)", $0.element) }
            + [("final_norm", finalNorm), ("embedding_dropout", embeddingDropout)]
    }

    /// Hidden states [batch·length, dim] for left-padded `inputs` (batch·length item ids).
    func hidden(inputs: [Int32], batch: Int) -> Variable {
        let length = inputs.count / batch
        let positions = (0..<(batch * length)).map { Int32($0 % length) }
        var padding = Tensor.zeros([batch, length])
        padding.withUnsafeMutableBufferPointer { p in for (i, v) in inputs.enumerated() where v == 0 { p[i] = 1 } }
        var h = itemEmbedding(inputs, shape: [batch, length]) + positionEmbedding(positions, shape: [batch, length])
        h = embeddingDropout(h)
        for block in blocks { h = block(h, keyPaddingMask: padding) }
        return finalNorm(h).reshaped([batch * length, -1])
    }

    /// Mean cross-entropy of predicting `targets` (item index 0..<items, or -1 to skip) at every position.
    func loss(inputs: [Int32], batch: Int, targets: [Int32]) -> Variable {
        let catalogue = itemEmbedding.weight.slice(axis: 0, 1..<(items + 1))
        return hidden(inputs: inputs, batch: batch).linearCrossEntropy(
            weight: catalogue, targets: targets, ignoreIndex: -1)
    }

    /// Scores over the catalogue (index 0..<items) after the last position of each sequence.
    func nextItemScores(inputs: [Int32], batch: Int) -> Tensor {
        withNoGrad {
            let length = inputs.count / batch
            let h = hidden(inputs: inputs, batch: batch).value
            let last = Tensor.concatenate(
                (0..<batch).map { h.slice(axis: 0, ($0 * length + length - 1)..<($0 * length + length)) }, axis: 0)
            let catalogue = itemEmbedding.weight.value.slice(axis: 0, 1..<(items + 1))
            return Tensor.matmul(last, catalogue, transposeB: true)
        }
    }
}
