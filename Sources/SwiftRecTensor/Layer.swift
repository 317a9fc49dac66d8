import Foundation

/// A trainable building block: it owns named parameters and may have child layers.
///
/// Names are dotted paths like PyTorch's `state_dict` keys (`blocks.0.attention.query.weight`),
/// so weights move between SwiftRec and PyTorch through safetensors by name.
public protocol Layer: AnyObject {
    /// This layer's own parameters, without a prefix.
    var ownParameters: [(name: String, parameter: Variable)] { get }
    /// Child layers with their names.
    var children: [(name: String, layer: any Layer)] { get }
    /// Whether the layer is in training mode (dropout on).
    var isTraining: Bool { get set }
}

extension Layer {
    public var ownParameters: [(name: String, parameter: Variable)] { [] }
    public var children: [(name: String, layer: any Layer)] { [] }

    /// Every parameter of this layer and its descendants, depth first, with dotted names.
    public func namedParameters(prefix: String = "") -> [(name: String, parameter: Variable)] {
        var result = ownParameters.map { (name: prefix + $0.name, parameter: $0.parameter) }
        for child in children {
            result += child.layer.namedParameters(prefix: prefix + child.name + ".")
        }
        return result
    }

    /// Every parameter, in ``namedParameters(prefix:)`` order.
    public var parameters: [Variable] { namedParameters().map(\.parameter) }

    /// The number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Switches training mode for this layer and all descendants.
    public func setTraining(_ training: Bool) {
        isTraining = training
        for child in children { child.layer.setTraining(training) }
    }

    /// Forgets every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.grad = nil } }

    /// Parameter values by dotted name.
    public func stateDict() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.name, $0.parameter.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// Replaces parameter values by name. With `strict`, every parameter must be present and
    /// no extra name may appear; shapes must always match.
    public func loadStateDict(_ state: [String: Tensor], strict: Bool = true) throws {
        let named = namedParameters()
        if strict {
            let missing = named.map(\.name).filter { state[$0] == nil }
            let known = Set(named.map(\.name))
            let unexpected = state.keys.filter { !known.contains($0) }.sorted()
            if !missing.isEmpty || !unexpected.isEmpty {
                throw StateDictError.mismatchedNames(missing: missing, unexpected: unexpected)
            }
        }
        for (name, parameter) in named {
            guard let tensor = state[name] else { continue }
            guard tensor.shape == parameter.value.shape else {
                throw StateDictError.shapeMismatch(name: name, expected: parameter.value.shape, found: tensor.shape)
            }
            parameter.value = tensor
            parameter.grad = nil
        }
    }
}

/// Why a state dictionary could not be loaded.
public enum StateDictError: Error, CustomStringConvertible, Equatable {
    case mismatchedNames(missing: [String], unexpected: [String])
    case shapeMismatch(name: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .mismatchedNames(let missing, let unexpected):
            return "state dict does not match the model: missing \(missing), unexpected \(unexpected)"
        case .shapeMismatch(let name, let expected, let found):
            return "state dict entry '\(name)' has shape \(found), the model needs \(expected)"
        }
    }
}

/// Makes a parameter (a leaf that requires a gradient).
@inline(__always)
public func parameter(_ t: Tensor) -> Variable { Variable(t, requiresGrad: true, isParameter: true) }
