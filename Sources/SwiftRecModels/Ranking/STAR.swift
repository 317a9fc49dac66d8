import Foundation
import SwiftRecData
import SwiftRecTensor

/// Options of ``STARNetwork``.
public struct STARConfig: FeatureModelConfig {
    public var training = FeatureTrainingOptions()
    /// The user attribute whose value names the scenario when the request names none.
    public var scenarioAttribute = "age"
    /// Scenarios as groups of values, each `|`-separated (`1|18,25,35|45|50|56` are ML-1M's
    /// three age domains). A value is an event's scenario or the attribute's. Empty: the
    /// scenarios the training events name (the 32 with most events), or, when none names one,
    /// each value the attribute's feature field knows (the attribute must then be read).
    public var scenarioGroups: [String] = []
    /// Hidden widths of the star-topology network.
    public var layers = [256, 128]
    /// Hidden widths of the auxiliary network over the scenario and the fields.
    public var auxiliaryLayers = [64]
    /// Adds FM's pairwise term over the fields' vectors to the logit, as DeepFM does.
    public var pairwise = false
    /// Dropout after each hidden layer of the star network (0: none, as before the option).
    public var dropout: Float = 0
    /// Drops out the star network's input (the field vectors) too, as DeepFM's MLP does.
    public var inputDropout = false

    public init() {}

    public static let options: [ConfigOption<Self>] =
        FeatureTrainingOptions.options.map { $0.lifted(\.training) } + [
            .checked(
                "scenario-attribute", \.scenarioAttribute, range: "an attribute key of 1 to 64 characters",
                "The user attribute that names the scenario when the request names none."
            ) { (1...64).contains($0.count) },
            .checked(
                "scenario-groups", \.scenarioGroups, range: "up to 32 groups of |-separated values",
                "Scenarios as groups of event scenarios or attribute values (default: the events' scenarios, else one per attribute value)."
            ) { $0.count <= 32 && $0.allSatisfy { !$0.isEmpty } },
            .widths("layers", \.layers, "Hidden widths of the star network."),
            .widths("auxiliary-layers", \.auxiliaryLayers, counts: 1...4, "Hidden widths of the auxiliary network."),
            .checked(
                "pairwise", \.pairwise, range: "true or false",
                "Add FM's pairwise term over the fields' vectors to the logit, as DeepFM does."),
            .value("dropout", \.dropout, in: 0...0.95, "Dropout after each hidden layer of the star network."),
            .checked(
                "input-dropout", \.inputDropout, range: "true or false",
                "Drop out the star network's input (the field vectors) too, with the same probability."),
        ]

    public func estimatedTrainingBytes(_ shape: DataShape) -> Double {
        let input = 64.0 * Double(training.dim)
        let weights = zip([Int(input)] + layers, layers + [1]).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        // Each scenario has its own copy of every weight; 33 is the most scenarios there can be.
        let scenarios = Double(max(scenarioGroups.count, 32) + 1)
        return estimatedBytes(
            shape, parametersBeyondEmbeddings: weights * (scenarios + 1) + input * 64,
            widthPerExample: input * 2 + Double(layers.reduce(0, +)) * 4)
    }
}

/// Scenarios as groups of one user attribute's values: `35|45|50|56` is one scenario holding
/// four ages. A scenario is found by its group's name or one of its values, so the same
/// groups assign users (by their attribute) and requests (by the scenario they name).
public struct ScenarioGroups: Sendable, Equatable {
    /// The user attribute whose value names a user's scenario.
    public let attribute: String
    /// The groups, in order; scenario k is `names[k]`, and `names.count` is "other".
    public let names: [String]
    private let index: [String: Int32]

    public init(attribute: String, groups: [String]) {
        self.attribute = attribute
        names = groups
        var index: [String: Int32] = [:]
        for (k, group) in groups.enumerated() {
            index[group] = Int32(k)
            for value in group.split(separator: "|") { index[String(value)] = Int32(k) }
        }
        self.index = index
    }

    /// "Other": what matches no group.
    public var other: Int32 { Int32(names.count) }

    /// The scenario `requested` names when it names one, else the one the user's attribute
    /// falls in, else ``other``.
    public func scenario(features: [String: String], requested: String? = nil) -> Int32 {
        if let requested, let known = index[requested] { return known }
        if let value = features[attribute], let known = index[value] { return known }
        return other
    }
}

/// STAR (Sheng et al. 2021, "One Model to Serve All: Star Topology Adaptive Recommender"):
/// one network for every scenario, in which each fully connected layer's weights are the
/// elementwise product of shared weights and the scenario's own (W = W_shared ⊙ W_s, bias
/// b_shared + b_s). What every scenario has in common lives in the shared weights; what sets
/// one apart, in its own. The scenario's weights start at 1 and its biases at 0, so training
/// starts from one shared model. An auxiliary network reads the scenario's vector with the
/// fields and adds its logit, so the scenario also shifts the score directly, as in the paper.
///
/// A scenario is the request's (``UserState/scenario``) when it names one of the model's
/// scenarios (a group such as `35|45|50|56`, or one of a group's values), else the one the
/// user's `scenario-attribute` falls in; anything else is an extra "other" scenario. Training
/// gives each example the same: its event's scenario (``InteractionLog/scenarios``) in place
/// of the request's, so a model trained on events that name where they happened is served by
/// the scenario each request names.
///
/// Differences from the paper: no partitioned normalisation (the fields go in unnormalised),
/// and the first-order weights of ``FieldEmbeddings`` are added to the logit (with `pairwise`,
/// FM's pairwise term too, as in DeepFM).
public final class STARNetwork: FeatureNetwork {
    public static let modelName = "star"
    public static let readsHistory = false
    public let embeddings: FieldEmbeddings
    public let scenarios: ScenarioGroups
    public let shared: [Linear]
    /// Per layer, per scenario (other included): the weights multiplying the shared ones.
    public let scenarioWeights: [[Variable]]
    public let scenarioBiases: [[Variable]]
    public let scenarioVectors: Embedding
    public let auxiliary: MLP
    /// Whether FM's pairwise term joins the logit.
    public let pairwise: Bool
    /// Between the star network's hidden layers (and before the first with `dropsInput`).
    public let dropout: Dropout
    public let dropsInput: Bool
    public var isTraining = true

    public init(config: STARConfig, space: FeatureSpace, generator: inout SeededGenerator) {
        let d = config.training.dim
        embeddings = FieldEmbeddings(
            space: space, dim: d, std: config.training.initStd,
            initialization: config.training.embeddingInit, generator: &generator)
        let attributeValues =
            space.fields.first { $0.source == .userAttribute && $0.key == config.scenarioAttribute }?.vocabulary ?? []
        let groups =
            config.scenarioGroups.isEmpty
            ? Array((space.scenarioNames ?? attributeValues).prefix(32)) : config.scenarioGroups
        scenarios = ScenarioGroups(attribute: config.scenarioAttribute, groups: groups)
        let sizes = [space.fieldCount * d] + config.layers + [1]
        let count = groups.count + 1
        var shared: [Linear] = []
        var weights: [[Variable]] = []
        var biases: [[Variable]] = []
        for l in 0..<(sizes.count - 1) {
            shared.append(
                Linear(sizes[l], sizes[l + 1], initialization: config.training.mlpInit, generator: &generator))
            weights.append((0..<count).map { _ in parameter(.ones([sizes[l + 1], sizes[l]])) })
            biases.append((0..<count).map { _ in parameter(.zeros([sizes[l + 1]])) })
        }
        self.shared = shared
        scenarioWeights = weights
        scenarioBiases = biases
        scenarioVectors = Embedding(count: count, dim: d, std: 0.01, generator: &generator)
        auxiliary = MLP(
            sizes: [d + space.fieldCount * d] + config.auxiliaryLayers + [1], initialization: config.training.mlpInit,
            generator: &generator)
        pairwise = config.pairwise
        // Drawn last, so the other weights start where they did before the option existed.
        dropout = Dropout(config.dropout, seed: generator.next())
        dropsInput = config.inputDropout
    }

    public var ownParameters: [(name: String, parameter: Variable)] {
        scenarioWeights.enumerated().flatMap { l, perScenario in
            perScenario.enumerated().flatMap { s, weight in
                [("star_\(l)_\(s)_weight", weight), ("star_\(l)_\(s)_bias", scenarioBiases[l][s])]
            }
        }
    }

    public var children: [(name: String, layer: any Layer)] {
        [("embeddings", embeddings), ("scenario_vectors", scenarioVectors), ("auxiliary", auxiliary)]
            + shared.enumerated().map { ("shared_\($0.offset)", $0.element) } + [("dropout", dropout)]
    }

    public func scenario(features: [String: String], requested: String?) -> Int32 {
        scenarios.scenario(features: features, requested: requested)
    }

    public func logits(_ batch: FeatureBatch, encoder: FeatureSpace.Encoder) -> Variable {
        let b = batch.size
        let fields = embeddings.fields(batch)
        let flat = fields.reshaped([b, fields.shape[1] * fields.shape[2]])
        // The examples grouped by scenario, so each group runs through its scenario's weights
        // in one matrix product; `restore` puts the outputs back in batch order.
        var members = [[Int32]](repeating: [], count: scenarios.names.count + 1)
        for (k, s) in batch.scenarios.enumerated() { members[Int(s)].append(Int32(k)) }
        let order = members.flatMap { $0 }
        var restore = [Int32](repeating: 0, count: b)
        for (position, k) in order.enumerated() { restore[Int(k)] = Int32(position) }
        var x = flat.embeddingLookup(order)
        if dropsInput { x = dropout(x) }
        for (l, layer) in shared.enumerated() {
            var parts: [Variable] = []
            var start = 0
            for (s, group) in members.enumerated() where !group.isEmpty {
                let rows = x.slice(axis: 0, start..<(start + group.count))
                start += group.count
                parts.append(
                    rows.linear(
                        weight: layer.weight * scenarioWeights[l][s], bias: layer.bias! + scenarioBiases[l][s]))
            }
            x = Variable.concatenate(parts, axis: 0)
            if l < shared.count - 1 { x = dropout.afterReLU(x) }
        }
        let star = x.embeddingLookup(restore)
        let aux = auxiliary(Variable.concatenate([scenarioVectors(batch.scenarios), flat], axis: 1))
        let logit = embeddings.firstOrder(batch) + star + aux
        return pairwise ? logit + FMNetwork.pairwise(fields) : logit
    }
}

/// STAR as a model.
public typealias STAR = FeatureRanker<STARNetwork>
