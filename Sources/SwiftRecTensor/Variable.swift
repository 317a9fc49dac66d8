/// Whether operations on ``Variable`` record what backpropagation needs.
public enum GradMode {
    /// `false` inside ``withNoGrad(_:)``: results keep no graph and hold no parents alive.
    @TaskLocal public static var isEnabled = true
    /// `true` inside ``withFrozenParameters(_:)``: layer parameters count as constants.
    @TaskLocal public static var parametersFrozen = false
}

/// Runs `body` with every layer parameter treated as a constant: gradients flow only to
/// variables made with `requiresGrad: true` inside it (e.g. inputs to attribute), parameters'
/// `grad` is never touched, so concurrent callers can share one model.
public func withFrozenParameters<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$parametersFrozen.withValue(true, operation: body)
}

/// Runs `body` with gradient recording off (inference).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

/// A tensor in a computation graph: the value an operation produced and, when gradients
/// are recorded, how to send a gradient back to the operation's inputs.
///
/// Leaves made with `requiresGrad: true` are trainable parameters: ``backward(_:)``
/// accumulates into their ``grad``.
public final class Variable {
    /// The value this node holds. Optimisers update parameters through it.
    public var value: Tensor
    /// The accumulated gradient of a leaf after ``backward(_:)``; `nil` before.
    public var grad: Tensor?
    /// Whether gradients flow to this node.
    public let requiresGrad: Bool
    /// Whether this is a layer parameter (see ``withFrozenParameters(_:)``).
    public let isParameter: Bool

    let parents: [Variable]
    let backwardFunction: ((Tensor) -> [Tensor?])?

    /// A leaf: an input (`requiresGrad: false`) or a parameter (`true`).
    public convenience init(_ value: Tensor, requiresGrad: Bool = false) {
        self.init(value, requiresGrad: requiresGrad, isParameter: false)
    }

    init(_ value: Tensor, requiresGrad: Bool, isParameter: Bool) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.isParameter = isParameter
        self.parents = []
        self.backwardFunction = nil
    }

    /// The result of an operation. `backward` maps the gradient of this result to one
    /// gradient (or `nil`) per parent, in order. It is kept only when a parent needs it.
    public init(_ value: Tensor, parents: [Variable], backward: @escaping (Tensor) -> [Tensor?]) {
        self.value = value
        let needsGrad = GradMode.isEnabled && parents.contains { $0.tracksGradient }
        self.requiresGrad = needsGrad
        self.isParameter = false
        self.parents = needsGrad ? parents : []
        self.backwardFunction = needsGrad ? backward : nil
    }

    /// Whether gradients flow to this node now (parameters do not while frozen).
    var tracksGradient: Bool { requiresGrad && !(isParameter && GradMode.parametersFrozen) }

    public var shape: [Int] { value.shape }
    public var isLeaf: Bool { backwardFunction == nil }

    /// Back-propagates from this node. A scalar output may omit `seed` (it defaults to 1).
    public func backward(_ seed: Tensor? = nil) {
        precondition(requiresGrad, "backward: this value does not depend on any parameter that requires a gradient")
        let start =
            seed
            ?? {
                precondition(
                    value.count == 1, "backward: a seed gradient is needed for a non-scalar output of shape \(shape)")
                return Tensor(shape: value.shape, repeating: 1)
            }()
        precondition(
            start.shape == value.shape, "backward: seed shape \(start.shape) differs from output shape \(shape)")

        // Topological order by iterative depth-first search (graphs can be deep: RNNs).
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded {
                order.append(node)
                continue
            }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for p in node.parents where p.tracksGradient && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }

        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): start]
        for node in order.reversed() {
            guard let g = pending.removeValue(forKey: ObjectIdentifier(node)) else { continue }
            guard let backward = node.backwardFunction else {
                if var existing = node.grad {
                    node.grad = nil
                    existing.addInPlace(g)
                    node.grad = existing
                } else {
                    node.grad = g
                }
                continue
            }
            let parentGrads = backward(g)
            for (parent, pg) in zip(node.parents, parentGrads) {
                guard parent.tracksGradient, let pg else { continue }
                precondition(
                    pg.count == parent.value.count,
                    "backward: gradient of shape \(pg.shape) for an input of shape \(parent.shape)")
                let id = ObjectIdentifier(parent)
                if var existing = pending.removeValue(forKey: id) {
                    existing.addInPlace(pg)
                    pending[id] = existing
                } else {
                    pending[id] = pg.shape == parent.shape ? pg : pg.reshaped(parent.shape)
                }
            }
        }
    }

    /// Forgets the accumulated gradient.
    public func zeroGrad() { grad = nil }
}

extension Variable: CustomStringConvertible {
    public var description: String { "Variable(\(value), requiresGrad: \(requiresGrad))" }
}
