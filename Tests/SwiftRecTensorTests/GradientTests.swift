import Testing

@testable import SwiftRecTensor

/// A finite-difference check for every differentiable operation and layer.
@Suite("Gradients match finite differences")
struct GradientTests {
    @Test func arithmeticWithBroadcasting() {
        let a = leaf([3, 4], seed: 1), b = leaf([4], seed: 2), c = leaf([3, 1], seed: 3)
        let d = leaf([3, 4], seed: 4, low: 0.5, high: 2)
        checkGradients("add", [a, b]) { a + b }
        checkGradients("sub", [a, c]) { a - c }
        checkGradients("mul", [a, b, c]) { a * b * c }
        checkGradients("div", [a, d]) { a / d }
        checkGradients("div broadcast", [b, d]) { b / d }
        checkGradients("scalar ops", [a]) { (a * 3 + 1) / 2 - 0.5 }
        checkGradients("negate", [a]) { -a }
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matmul(transposeA: Bool, transposeB: Bool) {
        let a = leaf(transposeA ? [5, 3] : [3, 5], seed: 5)
        let b = leaf(transposeB ? [4, 5] : [5, 4], seed: 6)
        checkGradients("matmul \(transposeA) \(transposeB)", [a, b]) {
            a.matmul(b, transposeSelf: transposeA, transposeOther: transposeB)
        }
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func batchedMatmul(transposeA: Bool, transposeB: Bool) {
        let a = leaf(transposeA ? [2, 4, 3] : [2, 3, 4], seed: 7)
        let b = leaf(transposeB ? [2, 5, 4] : [2, 4, 5], seed: 8)
        checkGradients("bmm \(transposeA) \(transposeB)", [a, b]) {
            a.batchedMatmul(b, transposeSelf: transposeA, transposeOther: transposeB)
        }
    }

    @Test func linearAndReductions() {
        let x = leaf([2, 3, 4], seed: 9), w = leaf([5, 4], seed: 10), bias = leaf([5], seed: 11)
        checkGradients("linear", [x, w, bias]) { x.linear(weight: w, bias: bias) }
        checkGradients("sum axis 1", [x]) { x.sum(axes: [1]) }
        checkGradients("sum axes keepDims", [x]) { x.sum(axes: [0, 2], keepDims: true) }
        checkGradients("sum all", [x]) { x.sum() }
        checkGradients("mean axis -1", [x]) { x.mean(axes: [-1]) }
        checkGradients("mean all", [x]) { x.mean() }
    }

    @Test func elementwiseFunctions() {
        let x = leaf([3, 5], seed: 12, low: -2, high: 2)
        let positive = leaf([3, 5], seed: 13, low: 0.3, high: 2)
        // ReLU: keep values away from the kink at 0.
        let awayFromZero = Variable(x.value.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }, requiresGrad: true)
        checkGradients("exp", [x]) { x.exp() }
        checkGradients("log", [positive]) { positive.log() }
        checkGradients("sqrt", [positive]) { positive.sqrt() }
        checkGradients("pow", [positive]) { positive.pow(2.5) }
        checkGradients("relu", [awayFromZero]) { awayFromZero.relu() }
        // PReLU: both sides of the kink, slopes of either sign, the slope's gradient summed over rows.
        let slope = Variable(Tensor([0.25, -0.5, 1.5, 0, 0.1]), requiresGrad: true)
        checkGradients("prelu", [awayFromZero, slope]) { awayFromZero.prelu(slope: slope) }
        // Eleven columns: eight at a time, then a tail of three.
        let wide = leaf([4, 11], seed: 15, low: -2, high: 2)
        let wideInput = Variable(wide.value.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }, requiresGrad: true)
        let wideSlope = leaf([11], seed: 16, low: -1, high: 1)
        checkGradients("prelu, 11 columns", [wideInput, wideSlope]) { wideInput.prelu(slope: wideSlope) }
        // Enough rows for several chunks: the slope's gradient has the same bits on 1 and 2 threads.
        let many = leaf([8_000, 11], seed: 14, low: -2, high: 2)
        let slopeGradients = [1, 2].map { threads in
            Threading.withThreadCount(threads) {
                wideSlope.grad = nil
                many.prelu(slope: wideSlope).sum().backward()
                return wideSlope.grad!.scalars
            }
        }
        #expect(slopeGradients[0] == slopeGradients[1])
        checkGradients("gelu", [x]) { x.gelu() }
        checkGradients("sigmoid", [x]) { x.sigmoid() }
        checkGradients("tanh", [x]) { x.tanh() }
        checkGradients("softmax", [x]) { x.softmax() }
        checkGradients("logSoftmax", [x]) { x.logSoftmax() }
    }

    @Test func layerNormDropoutAndMasks() {
        let x = leaf([4, 6], seed: 14, low: -2, high: 2)
        let gamma = leaf([6], seed: 15, low: 0.5, high: 1.5), beta = leaf([6], seed: 16)
        checkGradients("layerNorm", [x, gamma, beta], atol: 1e-2) { x.layerNorm(gamma: gamma, beta: beta) }
        checkGradients("dropout", [x]) {
            var g = SeededGenerator(seed: 5)
            return x.dropout(0.3, training: true, generator: &g)
        }
        let mask = Tensor(shape: [1, 6], scalars: [0, 1, 0, 0, 1, 0])
        checkGradients("maskedFill", [x]) { x.maskedFill(mask, with: -3) }
        let causal = Tensor.causalMask(4)
        #expect(causal.scalars == [0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    }

    /// A 0/1 matrix given by its ones, next to a dense part, times a weight laid out by input:
    /// the dense product's values, and gradients for the weight, bias and dense part.
    @Test func binaryLinearIsTheDenseProduct() {
        let rows = BinaryRows([[0, 3], [], [2, 2, 4]], width: 5)
        #expect(rows.dense().scalars == [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1])
        let dense = leaf([3, 2], seed: 31)
        let weight = leaf([7, 4], seed: 32), bias = leaf([4], seed: 33)
        let y = Variable.binaryLinear(rows, dense: dense, weight: weight, bias: bias).value
        let input = Tensor.concatenate([rows.dense(), dense.value], axis: 1)
        let product = Tensor.matmul(input, weight.value)
        for r in 0..<3 {
            for j in 0..<4 {
                let expected = product.scalars[r * 4 + j] + bias.value.scalars[j]
                #expect(abs(y.scalars[r * 4 + j] - expected) < 1e-5, "row \(r), column \(j)")
            }
        }
        checkGradients("binaryLinear", [weight, bias, dense]) {
            .binaryLinear(rows, dense: dense, weight: weight, bias: bias)
        }
        let sparseOnly = leaf([5, 3], seed: 34)
        checkGradients("binaryLinear without bias or dense part", [sparseOnly]) {
            .binaryLinear(rows, weight: sparseOnly, bias: nil)
        }
    }

    @Test func embeddingWithRepeatsAndPadding() {
        let table = leaf([5, 3], seed: 17)
        let indices: [Int32] = [1, 3, 1, 0, 4, 1]
        // The padding row is read as stored but gets no gradient, so finite differences skip it.
        checkGradients("embedding", [table]) { table.embeddingLookup([1, 3, 1, 2, 4, 1], indexShape: [2, 3]) }
        table.grad = nil
        let out = table.embeddingLookup(indices, indexShape: [2, 3], paddingIndex: 0)
        out.sum().backward()
        let grad = table.grad!
        // Row 1 appears three times; the padding row 0 gets nothing.
        #expect((0..<3).map { grad[1, $0] } == [3, 3, 3])
        #expect((0..<3).map { grad[0, $0] } == [0, 0, 0])
        #expect((0..<3).map { grad[2, $0] } == [0, 0, 0])
    }

    @Test func shapeOperations() {
        let x = leaf([2, 3, 4], seed: 18), y = leaf([2, 2, 4], seed: 19)
        checkGradients("reshape", [x]) { x.reshaped([4, -1]) }
        checkGradients("permute", [x]) { x.permuted([2, 0, 1]) }
        checkGradients("transpose", [x]) { x.transposed() }
        checkGradients("slice", [x]) { x.slice(axis: 1, 1..<3) }
        checkGradients("concatenate", [x, y]) { Variable.concatenate([x, y], axis: 1) }
        checkGradients("stack", [x]) { Variable.stack([x, x * 2], axis: 1) }
    }

    @Test func losses() {
        let logits = leaf([5, 4], seed: 20, low: -2, high: 2)
        let targets: [Int32] = [0, 3, -100, 2, 1]
        checkGradients("crossEntropy", [logits]) { logits.crossEntropy(targets: targets, ignoreIndex: -100) }
        checkGradients("crossEntropy smoothed", [logits]) {
            logits.crossEntropy(targets: targets, ignoreIndex: -100, labelSmoothing: 0.1)
        }
        var g = SeededGenerator(seed: 21)
        let probabilities = Tensor.randomUniform([5, 4], generator: &g)
        checkGradients("bce", [logits]) { logits.binaryCrossEntropyWithLogits(targets: probabilities) }
        checkGradients("mse", [logits]) { logits.meanSquaredError(targets: probabilities) }
        let hidden = leaf([7, 3], seed: 22), weight = leaf([6, 3], seed: 23), bias = leaf([6], seed: 24)
        let classes: [Int32] = [0, 5, 2, -1, 3, 3, 1]
        checkGradients("linearCrossEntropy", [hidden, weight, bias]) {
            hidden.linearCrossEntropy(
                weight: weight, bias: bias, targets: classes, ignoreIndex: -1, labelSmoothing: 0.1, blockRows: 2)
        }
    }

    @Test(arguments: [false, true])
    func fusedAttention(causal: Bool) {
        let q = leaf([2, 4, 6], seed: 25), k = leaf([2, 4, 6], seed: 26), v = leaf([2, 4, 6], seed: 27)
        let padding = Tensor(shape: [2, 4], scalars: [1, 0, 0, 0, 0, 0, 0, 0])
        checkGradients("attention causal=\(causal)", [q, k, v]) {
            Variable.attention(query: q, key: k, value: v, heads: 2, causal: causal, keyPaddingMask: padding)
        }
        checkGradients("attention dropout causal=\(causal)", [q, k, v]) {
            Variable.attention(
                query: q, key: k, value: v, heads: 3, causal: causal, keyPaddingMask: nil, dropout: 0.25, dropoutSeed: 3
            )
        }
    }

    @Test func singleQueryAttention() {
        let q = leaf([2, 6], seed: 40), k = leaf([2, 4, 6], seed: 41), v = leaf([2, 4, 6], seed: 42)
        let padding = Tensor(shape: [2, 4], scalars: [1, 0, 0, 0, 0, 0, 0, 0])
        for heads in [1, 3] {
            checkGradients("singleQueryAttention heads=\(heads)", [q, k, v]) {
                Variable.singleQueryAttention(query: q, key: k, value: v, heads: heads, keyPaddingMask: padding).output
            }
        }
        // It is the last row of causal self-attention, whose last position sees every key.
        let queries = leaf([2, 4, 6], seed: 43)
        let full = Variable.attention(query: queries, key: k, value: v, heads: 2, causal: true, keyPaddingMask: padding)
        let last = Tensor(
            shape: [2, 6], scalars: (0..<2).flatMap { b in (0..<6).map { queries.value.scalars[(b * 4 + 3) * 6 + $0] } }
        )
        let single = Variable.singleQueryAttention(
            query: Variable(last), key: k, value: v, heads: 2, keyPaddingMask: padding)
        for b in 0..<2 {
            for c in 0..<6 {
                #expect(abs(single.output.value.scalars[b * 6 + c] - full.value.scalars[(b * 4 + 3) * 6 + c]) < 1e-5)
            }
            let row = single.weights.weights[(b * 2 * 4)..<(b * 2 * 4 + 4)]  // head 0 of sequence b
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
        }
        #expect(single.weights.weights[0] < 1e-6, "a padded key gets no weight")
    }

    @Test(arguments: RecurrentCell.allCases)
    func recurrentScan(cell: RecurrentCell) {
        let hidden = 3
        let gates = leaf([2, 4, cell.gateCount * hidden], seed: 28)
        let w = leaf([cell.gateCount * hidden, hidden], seed: 29), b = leaf([cell.gateCount * hidden], seed: 30)
        let mask = Tensor(shape: [2, 4], scalars: [1, 1, 1, 1, 1, 1, 0, 0])
        checkGradients("\(cell) scan", [gates, w, b]) {
            Variable.recurrentScan(cell: cell, inputGates: gates, hiddenWeight: w, hiddenBias: b, mask: mask)
        }
    }

    @Test func layers() {
        var g = SeededGenerator(seed: 31)
        let x = leaf([2, 3, 8], seed: 32)
        let linear = Linear(8, 4, generator: &g)
        checkGradients("Linear", [x] + linear.parameters) { linear(x) }
        let mlp = MLP(sizes: [8, 6, 3], activation: .tanh, generator: &g)
        checkGradients("MLP", [x] + mlp.parameters) { mlp(x) }
        let preluMLP = MLP(sizes: [8, 6, 5, 1], activation: .prelu, generator: &g)
        #expect(preluMLP.namedParameters().map(\.name).contains("activations.1.weight"))
        checkGradients("MLP with PReLU", [x] + preluMLP.parameters) { preluMLP(x) }
        let norm = LayerNorm(8)
        checkGradients("LayerNorm", [x] + norm.parameters, atol: 1e-2) { norm(x) }
        let embedding = Embedding(count: 6, dim: 4, paddingIndex: 0, generator: &g)
        checkGradients("Embedding", embedding.parameters) { embedding([1, 2, 2, 5], shape: [2, 2]) }
        for preNorm in [true, false] {
            let block = TransformerBlock(
                dim: 8, heads: 2, feedForwardDim: 12, dropout: 0, causal: true, preNorm: preNorm, generator: &g)
            checkGradients("TransformerBlock preNorm=\(preNorm)", [x] + block.parameters, atol: 1e-2, rtol: 3e-2) {
                block(x)
            }
        }
        let attention = MultiHeadSelfAttention(dim: 8, heads: 4, causal: false, generator: &g)
        checkGradients("MultiHeadSelfAttention", [x] + attention.parameters) { attention(x) }
        for cell in RecurrentCell.allCases {
            let rnn = RecurrentLayer(cell: cell, inputSize: 8, hiddenSize: 5, generator: &g)
            let mask = Tensor(shape: [2, 3], scalars: [1, 1, 1, 1, 1, 0])
            checkGradients("RecurrentLayer \(cell)", [x] + rnn.parameters) { rnn(x, mask: mask) }
        }
    }
}

extension GradientTests {
    @Test func maxOverTheMiddleAxis() {
        let x = leaf([2, 4, 3], seed: 41)
        checkGradients("max over middle axis", [x]) { x.maxOverMiddleAxis() }
        let y = Variable(Tensor(shape: [1, 3, 2], scalars: [1, 5, 4, 2, 3, -1]))
        #expect(y.maxOverMiddleAxis().value.scalars == [4, 5])
    }
}
