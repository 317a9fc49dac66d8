import Foundation

/// How a ``Linear`` layer's weights start.
public enum LinearInitialization: String, Sendable, Codable, CaseIterable {
    /// Weights and bias from U(−1/√in, 1/√in), PyTorch's default for `nn.Linear`.
    case uniform
    /// Weights from N(0, 2 / (in + out)) and a zero bias (Glorot and Bengio 2010), what
    /// RecBole's context-aware models start from.
    case xavier
}

/// `y = x·Wᵀ + b` over the last dimension. `weight` is [out, in] as in PyTorch.
public final class Linear: Layer {
    public let weight: Variable
    public let bias: Variable?
    public var isTraining = true
    /// An int8 copy of `weight` that inference uses when set (``quantize()``).
    public internal(set) var quantizedWeight: QuantizedMatrix?

    /// Weights (and bias) drawn as `initialization` says; PyTorch's uniform default unless told.
    public init(
        _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, initialization: LinearInitialization = .uniform,
        generator: inout SeededGenerator
    ) {
        switch initialization {
        case .uniform:
            let bound = 1 / Float(inFeatures).squareRoot()
            weight = parameter(
                .randomUniform([outFeatures, inFeatures], low: -bound, high: bound, generator: &generator))
            self.bias =
                bias ? parameter(.randomUniform([outFeatures], low: -bound, high: bound, generator: &generator)) : nil
        case .xavier:
            let std = (2 / Float(inFeatures + outFeatures)).squareRoot()
            weight = parameter(.randomNormal([outFeatures, inFeatures], std: std, generator: &generator))
            self.bias = bias ? parameter(.zeros([outFeatures])) : nil
        }
    }

    public var ownParameters: [(name: String, parameter: Variable)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        if let quantizedWeight, !GradMode.isEnabled, !isTraining {
            return Variable(quantizedWeight.multiply(x.value, bias: bias?.value))
        }
        return x.linear(weight: weight, bias: bias)
    }

    /// Each layer applied to the same `x`, as `layers.map { $0(x) }` gives it; when all of them
    /// score with int8 weights (inference), `x` is quantised once for all instead of once each.
    public static func applying(_ layers: [Linear], to x: Variable) -> [Variable] {
        let quantized = layers.compactMap(\.quantizedWeight)
        guard quantized.count == layers.count, layers.count > 1, !GradMode.isEnabled,
            layers.allSatisfy({ !$0.isTraining })
        else { return layers.map { $0(x) } }
        return QuantizedMatrix.multiply(x.value, by: quantized, biases: layers.map { $0.bias?.value }).map {
            Variable($0)
        }
    }
}

/// A lookup table of `count` vectors of size `dim`; `paddingIndex`'s row starts at zero
/// and receives no gradient.
public final class Embedding: Layer {
    public let weight: Variable
    public let paddingIndex: Int?
    public var isTraining = true

    public init(count: Int, dim: Int, paddingIndex: Int? = nil, std: Float = 1, generator: inout SeededGenerator) {
        var table = Tensor.randomNormal([count, dim], std: std, generator: &generator)
        if let paddingIndex {
            table.withUnsafeMutableBufferPointer { p in
                for j in 0..<dim { p[paddingIndex * dim + j] = 0 }
            }
        }
        weight = parameter(table)
        self.paddingIndex = paddingIndex
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [("weight", weight)] }

    /// Vectors for `indices`, shaped `shape + [dim]`.
    public func callAsFunction(_ indices: [Int32], shape: [Int]? = nil) -> Variable {
        weight.embeddingLookup(indices, indexShape: shape, paddingIndex: paddingIndex)
    }
}

/// Normalisation over the last dimension with a learned scale and shift.
public final class LayerNorm: Layer {
    public let weight: Variable
    public let bias: Variable
    public let epsilon: Float
    public var isTraining = true

    public init(_ dim: Int, epsilon: Float = 1e-5) {
        weight = parameter(.ones([dim]))
        bias = parameter(.zeros([dim]))
        self.epsilon = epsilon
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Variable) -> Variable { x.layerNorm(gamma: weight, beta: bias, epsilon: epsilon) }
}

/// Zeroes activations with probability `p` while training. Owns a seeded generator so
/// runs repeat exactly.
public final class Dropout: Layer {
    public let probability: Float
    public var isTraining = true
    public var generator: SeededGenerator

    public init(_ probability: Float, seed: UInt64) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability must be in [0, 1), got \(probability)")
        self.probability = probability
        self.generator = SeededGenerator(seed: seed)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        x.dropout(probability, training: isTraining, generator: &generator)
    }

    /// `self(x.relu())` in one pass each way (``Variable/reluDropout(_:training:generator:)``):
    /// the same values and the same draws.
    public func afterReLU(_ x: Variable) -> Variable {
        x.reluDropout(probability, training: isTraining, generator: &generator)
    }
}

/// An elementwise non-linearity.
public enum Activation: String, Sendable, Codable, CaseIterable {
    /// `prelu` has a learned slope per unit, so it exists only where a layer owns the slopes
    /// (``MLP`` keeps a ``PReLU`` per hidden layer); the others are plain functions.
    case relu, gelu, tanh, sigmoid, identity, prelu

    public func callAsFunction(_ x: Variable) -> Variable {
        switch self {
        case .relu: x.relu()
        case .gelu: x.gelu()
        case .tanh: x.tanh()
        case .sigmoid: x.sigmoid()
        case .identity: x
        case .prelu: preconditionFailure("Activation.prelu has learned slopes: use a PReLU layer")
        }
    }
}

/// PReLU with one learned slope per unit for negative inputs (PyTorch's `nn.PReLU(width)`,
/// started at 0.25 as there), the activation of DIN's activation unit in the paper.
public final class PReLU: Layer {
    public let slope: Variable
    public var isTraining = true

    public init(width: Int, initialSlope: Float = 0.25) {
        slope = parameter(Tensor(shape: [width], scalars: Array(repeating: initialSlope, count: width)))
    }

    public var ownParameters: [(name: String, parameter: Variable)] { [("weight", slope)] }

    public func callAsFunction(_ x: Variable) -> Variable { x.prelu(slope: slope) }
}

/// A stack of Linear layers with an activation (and dropout) between them; the last layer
/// has no activation. With `dropsInput`, the input is dropped out too (as RecBole's `MLPLayers`
/// does before every layer).
public final class MLP: Layer {
    public let layers: [Linear]
    public let activation: Activation
    /// With `.prelu`: one PReLU per hidden layer (empty otherwise).
    public let slopes: [PReLU]
    public let dropout: Dropout
    public let dropsInput: Bool
    public var isTraining = true

    /// `sizes` lists the widths from input to output, e.g. `[64, 256, 64]`.
    public init(
        sizes: [Int], activation: Activation = .relu, dropout: Float = 0, dropsInput: Bool = false,
        initialization: LinearInitialization = .uniform, generator: inout SeededGenerator
    ) {
        precondition(sizes.count >= 2, "MLP: needs at least an input and an output size, got \(sizes)")
        var layers: [Linear] = []
        for i in 0..<(sizes.count - 1) {
            layers.append(Linear(sizes[i], sizes[i + 1], initialization: initialization, generator: &generator))
        }
        self.layers = layers
        self.activation = activation
        slopes = activation == .prelu ? sizes.dropFirst().dropLast().map { PReLU(width: $0) } : []
        self.dropout = Dropout(dropout, seed: generator.next())
        self.dropsInput = dropsInput
    }

    public var children: [(name: String, layer: any Layer)] {
        layers.enumerated().map { ("layers.\($0.offset)", $0.element) }
            + slopes.enumerated().map { ("activations.\($0.offset)", $0.element) } + [("dropout", dropout)]
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        var h = dropsInput ? dropout(x) : x
        for (i, layer) in layers.enumerated() {
            h = layer(h)
            guard i < layers.count - 1 else { continue }
            switch activation {
            case .relu: h = dropout.afterReLU(h)
            case .prelu: h = dropout(slopes[i](h))
            default: h = dropout(activation(h))
            }
        }
        return h
    }
}
