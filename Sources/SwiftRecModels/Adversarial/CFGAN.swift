import Foundation
import SwiftRecData
import SwiftRecTensor

/// What the generator minimises against the discriminator.
public enum CFGANGeneratorLoss: String, Sendable, Codable, CaseIterable, OptionChoice {
    /// The paper's objective, log(1 − D(fake)): the generator descends the minimax game itself.
    case minimax
    /// −log D(fake) (Goodfellow et al.'s non-saturating form), which keeps the generator's
    /// gradient large while the discriminator wins easily.
    case nonSaturating = "non-saturating"
}

/// Options of ``CFGAN``. The defaults are the MovieLens configuration of a public
/// re-implementation (E. Dervishaj's GANRec): one hidden layer of 400 sigmoid units in the
/// generator and 125 in the discriminator, Adam at 1e-4, 70 % of each user's unseen items in
/// the zero-reconstruction and partial-masking samples, α = 0.03; with the non-saturating
/// generator loss, which trained better on ML-100K (docs/adversarial-models.md).
public struct CFGANConfig: ModelConfig {
    /// Hidden widths of the generator (items → … → items).
    public var generatorLayers = [400]
    /// Hidden widths of the discriminator (2 × items → … → 1).
    public var discriminatorLayers = [125]
    /// Training rounds; each runs `discriminator-steps` passes of D over the users, then
    /// `generator-steps` passes of G.
    public var epochs = 400
    public var generatorSteps = 4
    public var discriminatorSteps = 2
    public var generatorBatch = 32
    public var discriminatorBatch = 64
    public var generatorLearningRate: Float = 1e-4
    public var discriminatorLearningRate: Float = 1e-4
    /// L2 penalty (λ‖w‖²/2, through Adam's coupled weight decay) on the generator's weights.
    public var generatorRegularization: Float = 1e-3
    public var discriminatorRegularization: Float = 0
    /// S_ZR: the share of a user's unseen items whose generated value is pushed towards 0.
    public var zeroReconstructionRatio: Float = 0.7
    /// S_PM: the share of a user's unseen items the discriminator also sees (k_u).
    public var partialMaskingRatio: Float = 0.7
    /// α: the weight of the zero-reconstruction term.
    public var zeroReconstructionWeight: Float = 0.03
    public var generatorLoss = CFGANGeneratorLoss.nonSaturating
    /// Validation rounds without a better NDCG@10 before training stops.
    public var patience = 20
    public var validateEvery = 5
    /// Stop once this many seconds of training have passed (checked after each step).
    public var timeBudget: Double?
    public var seed: UInt64 = 0

    public init() {}

    /// Both networks with Adam's two moments and a gradient each, the first layers' copies
    /// by input, and a batch's dense condition, masks and activations (about a dozen
    /// [batch, items] tables).
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let n = Double(shape.items)
        let generator = zip([Int(n)] + generatorLayers, generatorLayers + [Int(n)]).reduce(0.0) {
            $0 + Double($1.0 * $1.1)
        }
        let discriminator = zip([Int(2 * n)] + discriminatorLayers, discriminatorLayers + [1]).reduce(0.0) {
            $0 + Double($1.0 * $1.1)
        }
        let batch = Double(max(generatorBatch, discriminatorBatch))
        let firstLayers = n * Double(generatorLayers.first ?? Int(n)) + 2 * n * Double(discriminatorLayers.first ?? 1)
        return MemoryEstimate.data(shape) + ((generator + discriminator) * 4 + firstLayers) * MemoryEstimate.float
            + batch * n * 16 * MemoryEstimate.float
    }

    public static let options: [ConfigOption<Self>] = [
        .widths("generator-layers", \.generatorLayers, "Hidden widths of the generator (sigmoid units)."),
        .widths("discriminator-layers", \.discriminatorLayers, "Hidden widths of the discriminator (sigmoid units)."),
        .value("epochs", \.epochs, in: 0...100_000, "The most training rounds (D passes, then G passes)."),
        .value("generator-steps", \.generatorSteps, in: 1...100, "Passes of the generator over the users per round."),
        .value(
            "discriminator-steps", \.discriminatorSteps, in: 1...100,
            "Passes of the discriminator over the users per round."),
        .value("generator-batch", \.generatorBatch, in: 1...65_536, "Users per generator step."),
        .value("discriminator-batch", \.discriminatorBatch, in: 1...65_536, "Users per discriminator step."),
        .value("generator-lr", \.generatorLearningRate, in: 1e-7...10, "Adam learning rate of the generator."),
        .value(
            "discriminator-lr", \.discriminatorLearningRate, in: 1e-7...10, "Adam learning rate of the discriminator."),
        .value(
            "generator-regularization", \.generatorRegularization, in: 0...100, "L2 penalty on the generator's weights."
        ),
        .value(
            "discriminator-regularization", \.discriminatorRegularization, in: 0...100,
            "L2 penalty on the discriminator's weights."),
        .value(
            "zr-ratio", \.zeroReconstructionRatio, in: 0...1,
            "Share of a user's unseen items pushed towards 0 (zero reconstruction, S_ZR)."),
        .value(
            "pm-ratio", \.partialMaskingRatio, in: 0...1,
            "Share of a user's unseen items the discriminator also sees (partial masking, S_PM)."),
        .value("zr-weight", \.zeroReconstructionWeight, in: 0...1000, "Weight α of the zero-reconstruction term."),
        .choice("generator-loss", \.generatorLoss, "minimax (the paper's log(1 − D)), or non-saturating (−log D)."),
        .value("patience", \.patience, in: 0...1000, "Validation rounds without a better NDCG@10 before stopping."),
        .value("validate-every", \.validateEvery, in: 1...1000, "Validate after every this many rounds."),
        .value(
            "time-budget", \.timeBudget, in: 1e-3...1e7, "Stop after this many seconds of training (none: no limit)."),
        .value("seed", \.seed, in: 0...UInt64.max, "Random seed."),
    ]
}

/// CFGAN (Chae et al., CIKM 2018): a conditional GAN whose generator produces a user's whole
/// purchase vector, trained vector-wise against a discriminator.
///
/// - **Generator** G(c_u): an MLP with sigmoid units from the user's purchase vector c_u
///   (1 for each item the user has) to r̂_u ∈ (0, 1)ⁿ, one value per item.
/// - **Discriminator** D(r | c_u): an MLP with sigmoid units from [c_u; r] to the probability
///   that r is the user's real purchase vector.
/// - **Masking.** Compared as they are, G would win by predicting 1 everywhere, since a real
///   vector is 1 on the user's items and D sees nothing else. So D is shown
///   r̂_u ⊙ (e_u + k_u): e_u is 1 on the user's items and k_u (partial masking, CFGAN_PM) on a
///   `pm-ratio` sample of the unseen ones, where the real vector is 0, so G must keep them low.
/// - **Zero reconstruction** (CFGAN_ZR): α Σⱼ r̂ᵤⱼ² over a `zr-ratio` sample of unseen items
///   is added to G's loss. With both (the paper's CFGAN_ZP, its best variant) the losses are
///   J_D = −Σᵤ [log D(r_u|c_u) + log(1 − D(r̂_u ⊙ (e_u + k_u)|c_u))] and
///   J_G = Σᵤ [log(1 − D(r̂_u ⊙ (e_u + k_u)|c_u)) + α Σⱼ∈ZR r̂ᵤⱼ²], means over a batch.
/// - **Training** alternates `discriminator-steps` passes of D and `generator-steps` passes of
///   G per round, each with Adam and its own batch size; the samples k_u and ZR are drawn
///   afresh for every batch (the reference code draws them once per round; the expectation is
///   the same). Validation NDCG@10 every `validate-every` rounds keeps the best generator.
///
/// This is the paper's user-based CFGAN: the condition is the user's purchase vector, so a
/// state's newest events (and a new user's first ones) change the condition and the scores at
/// once, without retraining. The score of an item is G's output logit (the sigmoid's input),
/// which orders items as r̂ does without the ties a saturated sigmoid would make. The
/// discriminator is needed only to train and is not saved.
public final class CFGAN: Recommender, StoppableTraining, Explaining {
    public let name = "cfgan"
    public let inputs: Set<ModelInput> = [.history]
    public let config: CFGANConfig
    public let stop = TrainingStop()
    public private(set) var itemCount = 0
    public private(set) var userCount = 0
    /// The generator: items → hidden (sigmoid) → … → items (logits).
    public private(set) var generator: MLP?
    /// The generator's first weight matrix by item, [itemCount, firstWidth]: a binary
    /// condition's first layer is the sum of its items' rows.
    private var firstLayerByItem: [Float] = []
    public private(set) var epochSeconds: [Double] = []
    public private(set) var validationNDCG: [Double] = []

    public init(config: CFGANConfig = .init()) throws {
        self.config = try config.checked()
    }

    /// An MLP with sigmoid hidden units and Xavier-uniform weights with zero biases, as both
    /// reference implementations initialise them.
    static func network(_ sizes: [Int], generator rng: inout SeededGenerator) -> MLP {
        let mlp = MLP(sizes: sizes, activation: .sigmoid, generator: &rng)
        for layer in mlp.layers {
            let (rows, columns) = (layer.weight.shape[0], layer.weight.shape[1])
            let bound = (6 / Float(rows + columns)).squareRoot()
            layer.weight.value = .randomUniform([rows, columns], low: -bound, high: bound, generator: &rng)
            if let bias = layer.bias { bias.value = .zeros([rows]) }
        }
        return mlp
    }

    // MARK: Training

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        let n = dataset.itemCount
        let data = BinaryInteractions(dataset)
        var rng = SeededGenerator(seed: config.seed)
        let g = Self.network([n] + config.generatorLayers + [n], generator: &rng)
        let d = Self.network([2 * n] + config.discriminatorLayers + [1], generator: &rng)
        // The first layers train laid out by input (SparseFirstLayers); the MLPs' own first
        // weights are written from them when the generator is read.
        let layers = SparseFirstLayers(generator: g, discriminator: d)
        let generatorOptimizer = Adam(
            parameters: layers.generatorParameters, learningRate: config.generatorLearningRate,
            weightDecay: config.generatorRegularization)
        let discriminatorOptimizer = Adam(
            parameters: layers.discriminatorParameters, learningRate: config.discriminatorLearningRate,
            weightDecay: config.discriminatorRegularization)
        generator = g
        itemCount = n
        userCount = dataset.userCount
        epochSeconds = []
        validationNDCG = []
        var users = (0..<dataset.userCount).filter { data.userOffsets[$0 + 1] > data.userOffsets[$0] }
        let validating = validation.map { !$0.isEmpty } ?? false
        var stopping = EarlyStopping<[String: Tensor]>(patience: config.patience)
        let start = ProcessClock.now()
        var stoppedBy = "epochs"
        let passes = config.discriminatorSteps + config.generatorSteps
        func batches(_ size: Int) -> Int { (users.count + size - 1) / size }
        let stepsPerRound =
            config.discriminatorSteps * batches(config.discriminatorBatch) + config.generatorSteps
            * batches(config.generatorBatch)
        epochs: for epoch in 1...max(config.epochs, 1) where config.epochs > 0 && !users.isEmpty {
            let epochStart = ProcessClock.now()
            var generatorLoss = 0.0, discriminatorLoss = 0.0
            var (generatorBatches, discriminatorBatches, usersSeen) = (0, 0, 0)
            var outOfTime = false
            passes: for pass in 0..<passes {
                let trainsDiscriminator = pass < config.discriminatorSteps
                let batchSize = trainsDiscriminator ? config.discriminatorBatch : config.generatorBatch
                users.shuffle(using: &rng)
                for first in stride(from: 0, to: users.count, by: batchSize) {
                    let batch = Array(users[first..<min(users.count, first + batchSize)])
                    if trainsDiscriminator {
                        discriminatorLoss += discriminatorStep(batch, data: data, layers: layers, rng: &rng)
                        discriminatorOptimizer.step()
                        discriminatorBatches += 1
                    } else {
                        generatorLoss += generatorStep(batch, data: data, layers: layers, rng: &rng)
                        generatorOptimizer.step()
                        generatorBatches += 1
                    }
                    usersSeen += batch.count
                    let now = ProcessClock.now()
                    let budgetLeft = config.timeBudget.map { $0 - (now - start) }
                    progress?(
                        .step(
                            TrainingStatus(
                                model: name, epoch: epoch, epochs: config.epochs,
                                step: generatorBatches + discriminatorBatches, steps: stepsPerRound,
                                loss: generatorLoss / Double(max(generatorBatches, 1)),
                                itemsPerSecond: Double(usersSeen) / max(now - epochStart, 1e-9),
                                epochElapsed: now - epochStart, budgetLeft: budgetLeft)))
                    if let budgetLeft, budgetLeft <= 0 {
                        (outOfTime, stoppedBy) = (true, "time budget")
                        break passes
                    }
                    if stop.isRequested {
                        (outOfTime, stoppedBy) = (true, "a stop request")
                        break passes
                    }
                }
            }
            epochSeconds.append(ProcessClock.now() - epochStart)
            let meanGeneratorLoss = generatorLoss / Double(max(generatorBatches, 1))
            var validated: Double?, isBest = false
            if validating, let validation, epoch % config.validateEvery == 0 || outOfTime {
                layers.writeGeneratorWeight()
                installScoring()
                let ndcg = ValidationRanking.ndcg(self, dataset: dataset, heldOut: validation)
                validated = ndcg
                validationNDCG.append(ndcg)
                isBest = stopping.record(ndcg, epoch: epoch) { g.stateDict() }
            }
            progress?(
                .message(
                    String(
                        format: "%@: round %d, D loss %.4f, G loss %.4f", name, epoch,
                        discriminatorLoss / Double(max(discriminatorBatches, 1)), meanGeneratorLoss)))
            EarlyStopping<[String: Tensor]>.reportEpoch(
                progress, model: name, epoch: epoch, loss: meanGeneratorLoss,
                seconds: epochSeconds.last!, validated: validated, isBest: isBest)
            if outOfTime { break epochs }
            if validating && stopping.shouldStop {
                stoppedBy = "early stopping"
                break epochs
            }
        }
        layers.writeGeneratorWeight()
        if let best = stopping.bestWeights {
            try g.loadStateDict(best)
            progress?(
                .message(
                    String(
                        format: "%@: stopped by %@; keeping round %d (valid NDCG@10 %.4f)", name, stoppedBy,
                        stopping.bestEpoch, stopping.best)))
        }
        g.setTraining(false)
        installScoring()
    }

    /// The batch's condition vectors c_u (1 on each of the user's items), [batch, items].
    static func conditions(_ batch: [Int], data: BinaryInteractions) -> Tensor {
        let n = data.itemCount
        var c = Tensor.zeros([batch.count, n])
        c.withUnsafeMutableBufferPointer { p in
            for (row, u) in batch.enumerated() {
                for k in data.userOffsets[u]..<data.userOffsets[u + 1] { p[row * n + Int(data.items[k])] = 1 }
            }
        }
        return c
    }

    /// A mask that is 1 where `condition` is 1 when `keepingPositives`, and on each other item
    /// with probability `ratio`.
    static func sampledMask(
        _ condition: Tensor, ratio: Float, keepingPositives: Bool, rng: inout SeededGenerator
    ) -> Tensor {
        var mask = Tensor.zeros(condition.shape)
        condition.withUnsafeBufferPointer { c in
            mask.withUnsafeMutableBufferPointer { m in
                for k in 0..<c.count {
                    if c[k] > 0 {
                        m[k] = keepingPositives ? 1 : 0
                    } else if ratio >= 1 || (ratio > 0 && rng.nextUniform() < ratio) {
                        m[k] = 1
                    }
                }
            }
        }
        return mask
    }

    /// One discriminator step's loss (gradients left in D's parameters): real vectors are
    /// labelled 1, generated ones seen through e_u + k_u labelled 0.
    func discriminatorStep(
        _ batch: [Int], data: BinaryInteractions, layers: SparseFirstLayers, rng: inout SeededGenerator
    ) -> Double {
        let c = Self.conditions(batch, data: data)
        let mask = Self.sampledMask(c, ratio: config.partialMaskingRatio, keepingPositives: true, rng: &rng)
        let condition = SparseFirstLayers.rows(batch, data: data)
        let generated = withNoGrad { layers.generate(condition).sigmoid().value } * mask
        let real = layers.discriminate(condition, generated: nil)
        let fake = layers.discriminate(condition, generated: Variable(generated))
        let loss =
            real.binaryCrossEntropyWithLogits(targets: .ones(real.shape))
            + fake.binaryCrossEntropyWithLogits(targets: .zeros(fake.shape))
        layers.zeroDiscriminatorGrad()
        loss.backward()
        return Double(loss.value.scalar)
    }

    /// One generator step's loss (gradients left in G's parameters; D's are not computed).
    func generatorStep(
        _ batch: [Int], data: BinaryInteractions, layers: SparseFirstLayers, rng: inout SeededGenerator
    ) -> Double {
        let c = Self.conditions(batch, data: data)
        let partialMask = Self.sampledMask(c, ratio: config.partialMaskingRatio, keepingPositives: true, rng: &rng)
        let zeroMask = Self.sampledMask(c, ratio: config.zeroReconstructionRatio, keepingPositives: false, rng: &rng)
        let condition = SparseFirstLayers.rows(batch, data: data)
        let generated = layers.generate(condition).sigmoid()
        // D's parameters are constants here: the gradient flows through D to G only.
        let fake = layers.discriminate(condition, generated: generated * Variable(partialMask), constantWeights: true)
        let adversarial =
            switch config.generatorLoss {
            case .minimax: -fake.binaryCrossEntropyWithLogits(targets: .zeros(fake.shape))
            case .nonSaturating: fake.binaryCrossEntropyWithLogits(targets: .ones(fake.shape))
            }
        var loss = adversarial
        if config.zeroReconstructionWeight > 0 && config.zeroReconstructionRatio > 0 {
            let zeroed = generated * Variable(zeroMask)
            loss = loss + (zeroed * zeroed).sum() * (config.zeroReconstructionWeight / Float(batch.count))
        }
        layers.zeroGeneratorGrad()
        loss.backward()
        return Double(loss.value.scalar)
    }

    /// Keeps the generator's first weight matrix by item for sparse scoring.
    private func installScoring() {
        guard let g = generator else { return }
        firstLayerByItem = g.layers[0].weight.value.transposed().scalars  // [items, width]
    }

    // MARK: Scoring

    /// The first hidden layer's pre-activations of each state, [states, width]: the bias plus
    /// the rows of the state's distinct items.
    private func firstPreactivations(_ states: [UserState]) -> Tensor {
        let g = generator!
        let width = g.layers[0].weight.shape[0]
        var out = Tensor.zeros([states.count, width])
        let bias = g.layers[0].bias!.value
        out.withUnsafeMutableBufferPointer { o in
            bias.withUnsafeBufferPointer { b in
                firstLayerByItem.withUnsafeBufferPointer { table in
                    for (r, state) in states.enumerated() {
                        let row = o.baseAddress! + r * width
                        row.update(from: b.baseAddress!, count: width)
                        for i in BinaryInteractions.distinct(state.items, itemCount: itemCount) {
                            VectorKernels.add(table.baseAddress! + Int(i) * width, into: row, count: width)
                        }
                    }
                }
            }
        }
        return out
    }

    /// The generator's last hidden layer for pre-activations of its first.
    private func lastHidden(_ first: Tensor) -> Variable {
        let g = generator!
        var h = Variable(first).sigmoid()
        for layer in g.layers.dropFirst().dropLast() { h = layer(h).sigmoid() }
        return h
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        scoreBatch([state], into: scores)
    }

    /// G's output logits: the first layer summed from the states' items, the rest as matrix products.
    public func scoreBatch(_ states: [UserState], into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(scores.count >= states.count * itemCount, "cfgan: scoreBatch buffer too small")
        guard let g = generator, !states.isEmpty else { return }
        let logits = withNoGrad { g.layers.last!(lastHidden(firstPreactivations(states))).value }
        logits.withUnsafeBufferPointer { scores.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
    }

    // MARK: Explaining

    /// Exact occlusion: each distinct history item's share is how much the target's logit
    /// falls when that item is taken out of the condition vector (only items whose removal
    /// lowers it are listed; shares are divided by the sum of all changes' magnitudes).
    public func explain(_ item: Int32, for state: UserState, top: Int) -> [Attribution] {
        explain([item], for: state, top: top)[0]
    }

    public func explain(_ items: [Int32], for state: UserState, top: Int) -> [[Attribution]] {
        guard let g = generator, top > 0 else { return items.map { _ in [] } }
        let history = BinaryInteractions.distinct(state.items, itemCount: itemCount)
        guard !history.isEmpty else { return items.map { _ in [] } }
        var newest: [Int32: Int] = [:]
        for (position, i) in state.items.enumerated() { newest[i] = position }
        // Row 0 is the whole state, row k + 1 the state without history[k]: the first layer is
        // a sum over items, so that row is row 0 less history[k]'s row.
        let base = firstPreactivations([state])
        let width = base.count
        var first = Tensor.zeros([history.count + 1, width])
        first.withUnsafeMutableBufferPointer { out in
            base.withUnsafeBufferPointer { b in
                firstLayerByItem.withUnsafeBufferPointer { table in
                    for r in 0...history.count {
                        let row = out.baseAddress! + r * width
                        row.update(from: b.baseAddress!, count: width)
                        if r > 0 {
                            VectorKernels.axpy(
                                -1, table.baseAddress! + Int(history[r - 1]) * width, row, count: width)
                        }
                    }
                }
            }
        }
        let hidden = withNoGrad { lastHidden(first).value }
        let weights = g.layers.last!.weight.value
        let lastWidth = hidden.shape[1]
        return items.map { target in
            guard target >= 0, Int(target) < itemCount else { return [] }
            let logits: [Float] = hidden.withUnsafeBufferPointer { h in
                weights.withUnsafeBufferPointer { w in
                    (0...history.count).map {
                        VectorKernels.dot(
                            h.baseAddress! + $0 * lastWidth, w.baseAddress! + Int(target) * lastWidth,
                            count: lastWidth)
                    }
                }
            }
            // Each item's part is how far the target's logit falls without it.
            let drops = history.indices.map { (item: history[$0], weight: logits[0] - logits[$0 + 1]) }
            return Attribution.shares(drops, newest: newest, top: top)
        }
    }

    // MARK: Saving

    public func save(to directory: URL) throws {
        guard let g = generator else { throw ModelError.notFitted(name) }
        var tensors: [String: Tensor] = [:]
        for (key, value) in g.stateDict() { tensors["generator.\(key)"] = value }
        try ModelArtifact.write(
            manifest: ModelManifest(
                model: name, config: config.values, userCount: userCount, itemCount: itemCount,
                metrics: ["epochs": Double(epochSeconds.count)]),
            tensors: tensors, to: directory)
    }

    public static func load(from directory: URL) throws -> CFGAN {
        let (manifest, file) = try ModelArtifact.read(from: directory, expecting: "cfgan")
        let model = try CFGAN(config: manifest.config(CFGANConfig.self))
        let n = manifest.itemCount
        var rng = SeededGenerator(seed: 0)
        let g = network([n] + model.config.generatorLayers + [n], generator: &rng)
        var state: [String: Tensor] = [:]
        for (key, _) in g.stateDict() { state[key] = try file.tensor("generator.\(key)") }
        do {
            try g.loadStateDict(state)
        } catch {
            throw ModelError.incompatibleArtifact("cfgan: \(error)")
        }
        g.setTraining(false)
        model.generator = g
        model.itemCount = n
        model.userCount = manifest.userCount
        model.installScoring()
        return model
    }
}

/// CFGAN's generator and discriminator with their first layers laid out by input, [inputs,
/// width], for training: a condition vector c_u is 0/1 with a few ones, so its share of a
/// first layer is the sum of the rows at the user's items (``Variable/binaryLinear(_:dense:weight:bias:)``)
/// instead of a product with the whole matrix. D's input [c_u; r] is c_u's ones plus r as a
/// dense part, and the real input [c_u; c_u] is ones at i and n + i for each item i. The
/// values are those of the dense layers; only the order of the sums differs.
final class SparseFirstLayers {
    let generator: MLP
    let discriminator: MLP
    /// G's first weight by input, [items, width]; its bias stays the MLP's.
    let generatorFirst: Variable
    /// D's first weight by input, [2 · items, width].
    let discriminatorFirst: Variable

    init(generator: MLP, discriminator: MLP) {
        self.generator = generator
        self.discriminator = discriminator
        generatorFirst = parameter(generator.layers[0].weight.value.transposed())
        discriminatorFirst = parameter(discriminator.layers[0].weight.value.transposed())
    }

    /// What G's optimiser updates: the first weight by input and every other parameter of G.
    var generatorParameters: [Variable] {
        [generatorFirst] + generator.parameters.filter { $0 !== generator.layers[0].weight }
    }

    var discriminatorParameters: [Variable] {
        [discriminatorFirst] + discriminator.parameters.filter { $0 !== discriminator.layers[0].weight }
    }

    /// Each batch user's items as the ones of a 0/1 row over the items.
    static func rows(_ batch: [Int], data: BinaryInteractions) -> BinaryRows {
        BinaryRows(
            batch.map { u in Array(data.items[data.userOffsets[u]..<data.userOffsets[u + 1]]) }, width: data.itemCount)
    }

    /// G's output logits for the conditions `rows`.
    func generate(_ rows: BinaryRows) -> Variable {
        var h = Variable.binaryLinear(rows, weight: generatorFirst, bias: generator.layers[0].bias)
        for layer in generator.layers.dropFirst() { h = layer(h.sigmoid()) }
        return h
    }

    /// D's logits for [c; generated], or for the real [c; c] when `generated` is nil.
    /// With `constantWeights`, D's weights enter as constants: a backward pass from the result
    /// reaches `generated` but computes no gradient for D (the generator's step).
    func discriminate(_ rows: BinaryRows, generated: Variable?, constantWeights: Bool = false) -> Variable {
        func held(_ v: Variable) -> Variable { constantWeights ? Variable(v.value) : v }
        let weight = held(discriminatorFirst), bias = discriminator.layers[0].bias.map(held)
        let first: Variable
        if let generated {
            first = .binaryLinear(rows, dense: generated, weight: weight, bias: bias)
        } else {
            let n = rows.width
            let doubled = BinaryRows(
                (0..<rows.count).map { r in
                    let items = rows.columns[rows.offsets[r]..<rows.offsets[r + 1]]
                    return Array(items) + items.map { $0 + Int32(n) }
                }, width: 2 * n)
            first = .binaryLinear(doubled, weight: weight, bias: bias)
        }
        var h = first
        for layer in discriminator.layers.dropFirst() {
            h = h.sigmoid().linear(weight: held(layer.weight), bias: layer.bias.map(held))
        }
        return h
    }

    func zeroGeneratorGrad() {
        generator.zeroGrad()
        generatorFirst.grad = nil
    }

    func zeroDiscriminatorGrad() {
        discriminator.zeroGrad()
        discriminatorFirst.grad = nil
    }

    /// Writes G's trained first weight back into the MLP (what scoring and saving read).
    func writeGeneratorWeight() {
        generator.layers[0].weight.value = generatorFirst.value.transposed()
    }
}
