import Testing

@testable import SwiftRecTensor

@Suite("Small models learn")
struct TrainingTests {
    @Test func mlpLearnsXOR() {
        var g = SeededGenerator(seed: 1)
        let mlp = MLP(sizes: [2, 8, 1], activation: .tanh, generator: &g)
        let x = Variable(Tensor(shape: [4, 2], scalars: [0, 0, 0, 1, 1, 0, 1, 1]))
        let y = Tensor(shape: [4, 1], scalars: [0, 1, 1, 0])
        let adam = Adam(parameters: mlp.parameters, learningRate: 0.05)
        var loss: Float = 1
        for _ in 0..<400 {
            adam.zeroGrad()
            let l = mlp(x).binaryCrossEntropyWithLogits(targets: y)
            l.backward()
            adam.step()
            loss = l.value.scalar
        }
        let predictions = withNoGrad { mlp(x).value.scalars.map { $0 > 0 ? Float(1) : 0 } }
        #expect(predictions == [0, 1, 1, 0])
        #expect(loss < 0.05)
    }

    /// Second halves repeat first halves, so predicting them needs attention to the right position.
    @Test func causalTransformerOverfitsACopyTask() {
        let vocabulary = 9, half = 4, length = 2 * half, dim = 32, count = 48
        var g = SeededGenerator(seed: 2)
        var sequences: [[Int32]] = []
        for _ in 0..<count {
            let first = (0..<half).map { _ in Int32(1 + g.nextInt(below: vocabulary - 1)) }
            sequences.append(first + first)
        }
        let tokens = Embedding(count: vocabulary, dim: dim, std: 0.3, generator: &g)
        let positions = Embedding(count: length, dim: dim, std: 0.3, generator: &g)
        let blocks = (0..<2).map { _ in
            TransformerBlock(dim: dim, heads: 2, feedForwardDim: 64, dropout: 0, causal: true, generator: &g)
        }
        let norm = LayerNorm(dim)
        let head = Linear(dim, vocabulary, generator: &g)
        let layers: [any Layer] = [tokens, positions, norm, head] + blocks
        let parameters = layers.flatMap(\.parameters)
        let adam = Adam(parameters: parameters, learningRate: 3e-3)
        let inputs = sequences.flatMap { $0 }
        // Position t predicts token t+1; only the copied half (targets at t ≥ half) is learnable.
        let targets: [Int32] = sequences.flatMap { s in
            (0..<length).map { t in t >= half - 1 && t < length - 1 ? s[t + 1] : -1 }
        }
        let positionIds = (0..<(count * length)).map { Int32($0 % length) }
        func logits() -> Variable {
            var h = tokens(inputs, shape: [count, length]) + positions(positionIds, shape: [count, length])
            for block in blocks { h = block(h) }
            return head(norm(h)).reshaped([count * length, vocabulary])
        }
        for _ in 0..<300 {
            adam.zeroGrad()
            let loss = logits().crossEntropy(targets: targets, ignoreIndex: -1)
            loss.backward()
            adam.step()
        }
        let final = withNoGrad { logits().value }
        var correct = 0, total = 0
        for (row, t) in targets.enumerated() where t >= 0 {
            let predicted = (0..<vocabulary).max { final[row, $0] < final[row, $1] }!
            correct += predicted == Int(t) ? 1 : 0
            total += 1
        }
        #expect(Double(correct) / Double(total) >= 0.95, "copy accuracy \(correct)/\(total)")
    }

    /// The answer is the first token of a variable-length sequence: the state must carry it through.
    @Test(arguments: RecurrentCell.allCases)
    func recurrentLayerRemembersTheFirstToken(cell: RecurrentCell) {
        let classes = 4, maxLength = 6, batch = 64
        var g = SeededGenerator(seed: 3)
        let embedding = Embedding(count: classes + 1, dim: 8, paddingIndex: 0, std: 0.5, generator: &g)
        let rnn = RecurrentLayer(cell: cell, inputSize: 8, hiddenSize: 24, generator: &g)
        let head = Linear(24, classes, generator: &g)
        let layers: [any Layer] = [embedding, rnn, head]
        let adam = Adam(parameters: layers.flatMap(\.parameters), learningRate: 1e-2)
        func makeBatch(_ g: inout SeededGenerator) -> (tokens: [Int32], mask: Tensor, targets: [Int32]) {
            var tokens: [Int32] = [], mask: [Float] = [], targets: [Int32] = []
            for _ in 0..<batch {
                let length = 3 + g.nextInt(below: maxLength - 2)
                let seq = (0..<length).map { _ in Int32(1 + g.nextInt(below: classes)) }
                tokens += seq + Array(repeating: 0, count: maxLength - length)
                mask += Array(repeating: 1, count: length) + Array(repeating: 0, count: maxLength - length)
                targets.append(seq[0] - 1)
            }
            return (tokens, Tensor(shape: [batch, maxLength], scalars: mask), targets)
        }
        func finalLogits(_ tokens: [Int32], _ mask: Tensor) -> Variable {
            // Padded steps carry the state, so the last step holds the state after the last real token.
            let states = rnn(embedding(tokens, shape: [batch, maxLength]), mask: mask)
            return head(states.slice(axis: 1, (maxLength - 1)..<maxLength).reshaped([batch, 24]))
        }
        for _ in 0..<250 {
            let (tokens, mask, targets) = makeBatch(&g)
            adam.zeroGrad()
            finalLogits(tokens, mask).crossEntropy(targets: targets).backward()
            adam.step()
        }
        var test = SeededGenerator(seed: 777)
        let (tokens, mask, targets) = makeBatch(&test)
        let logits = withNoGrad { finalLogits(tokens, mask).value }
        let correct = (0..<batch).filter { r in (0..<classes).max { logits[r, $0] < logits[r, $1] }! == Int(targets[r])
        }.count
        #expect(correct >= 58, "\(cell): \(correct)/\(batch) correct on fresh sequences")
    }

    @Test func fusedLinearCrossEntropyEqualsComposedOps() {
        var g = SeededGenerator(seed: 4)
        let hidden = Variable(Tensor.randomNormal([37, 8], generator: &g), requiresGrad: true)
        let weight = Variable(Tensor.randomNormal([23, 8], generator: &g), requiresGrad: true)
        let targets = (0..<37).map { i in i % 7 == 0 ? Int32(-1) : Int32(g.nextInt(below: 23)) }
        let fused = hidden.linearCrossEntropy(
            weight: weight, targets: targets, ignoreIndex: -1, labelSmoothing: 0.05, blockRows: 8)
        fused.backward()
        let fusedGrads = (hidden.grad!, weight.grad!)
        hidden.grad = nil
        weight.grad = nil
        let composed = hidden.matmul(weight, transposeOther: true).crossEntropy(
            targets: targets, ignoreIndex: -1, labelSmoothing: 0.05)
        composed.backward()
        #expect(abs(fused.value.scalar - composed.value.scalar) < 1e-5)
        #expect(fusedGrads.0.maxAbsDifference(hidden.grad!) < 1e-5)
        #expect(fusedGrads.1.maxAbsDifference(weight.grad!) < 1e-5)
    }

    /// Each initialisation draws from its own law: uniform within ±1/√in with a drawn bias,
    /// Xavier-normal at std √(2 / (in + out)) with a zero bias.
    @Test func linearInitialisationsFollowTheirLaws() {
        var g = SeededGenerator(seed: 3)
        let inputs = 200, outputs = 100
        let uniform = Linear(inputs, outputs, initialization: .uniform, generator: &g)
        let xavier = Linear(inputs, outputs, initialization: .xavier, generator: &g)
        let bound = 1 / Float(inputs).squareRoot()
        #expect(uniform.weight.value.scalars.allSatisfy { abs($0) <= bound })
        #expect(uniform.bias!.value.scalars.contains { $0 != 0 })
        let weights = xavier.weight.value.scalars
        let std = (weights.map { $0 * $0 }.reduce(0, +) / Float(weights.count)).squareRoot()
        let expected = (2 / Float(inputs + outputs)).squareRoot()
        #expect(abs(std - expected) < 0.03 * expected)
        #expect(weights.contains { abs($0) > bound })
        #expect(xavier.bias!.value.scalars.allSatisfy { $0 == 0 })
        let mlp = MLP(sizes: [4, 6, 1], initialization: .xavier, generator: &g)
        #expect(mlp.layers.allSatisfy { $0.bias!.value.scalars.allSatisfy { $0 == 0 } })
    }

    /// With `dropsInput`, training drops input elements (a one-layer MLP has no other dropout),
    /// and evaluation reads the whole input.
    @Test func mlpCanDropItsInput() {
        var g = SeededGenerator(seed: 4)
        let dropping = MLP(sizes: [64, 1], dropout: 0.5, dropsInput: true, generator: &g)
        let x = Variable(Tensor(shape: [8, 64], scalars: (0..<512).map { Float($0 % 7) - 3 }))
        let exact = withNoGrad { x.linear(weight: dropping.layers[0].weight, bias: dropping.layers[0].bias) }
        dropping.setTraining(true)
        let trained = withNoGrad { dropping(x) }
        #expect(zip(trained.value.scalars, exact.value.scalars).filter { abs($0 - $1) > 1e-4 }.count >= 6)
        dropping.setTraining(false)
        let evaluated = withNoGrad { dropping(x) }
        #expect(zip(evaluated.value.scalars, exact.value.scalars).allSatisfy { abs($0 - $1) < 1e-4 })
        let keeping = MLP(sizes: [64, 1], dropout: 0.5, generator: &g)
        keeping.setTraining(true)
        let plain = withNoGrad {
            (keeping(x), x.linear(weight: keeping.layers[0].weight, bias: keeping.layers[0].bias))
        }
        #expect(zip(plain.0.value.scalars, plain.1.value.scalars).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test func noGradRecordsNothing() {
        let w = Variable(Tensor([1, 2]), requiresGrad: true)
        let y = withNoGrad { (w * 3).exp() }
        #expect(!y.requiresGrad && y.isLeaf)
        #expect((w * 3).requiresGrad)
    }
}

@Suite("Inference reuses buffers")
struct BufferReuseTests {
    @Test func repeatedNoGradForwardAllocatesNoNewLargeBuffers() {
        var g = SeededGenerator(seed: 5)
        let block = TransformerBlock(dim: 40, heads: 2, feedForwardDim: 168, dropout: 0.1, causal: true, generator: &g)
        block.setTraining(false)
        let x = Variable(Tensor.randomNormal([3, 301, 40], generator: &g))
        let (first, _) = BufferPool.countingFreshAllocations { withNoGrad { block(x).value } }
        // The counter does see fresh buffers.
        let (_, counted) = BufferPool.countingFreshAllocations { Tensor.zeros([3_000_017]).count }
        #expect(counted == 1)
        // Tests run concurrently and share the pool's size classes, so another test may now and
        // then take a buffer between two calls; without reuse every call would allocate.
        var cleanCalls = 0
        for _ in 0..<6 {
            let (again, fresh) = BufferPool.countingFreshAllocations { withNoGrad { block(x).value } }
            #expect(again.scalars == first.scalars)
            if fresh == 0 { cleanCalls += 1 }
        }
        #expect(cleanCalls >= 3)
    }
}
