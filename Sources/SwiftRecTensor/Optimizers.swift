import Foundation

/// Updates parameters from their gradients.
public protocol Optimizer: AnyObject {
    /// The parameters this optimiser updates.
    var parameters: [Variable] { get }
    /// The learning rate the next ``step()`` uses.
    var learningRate: Float { get set }
    /// Applies one update to every parameter that has a gradient.
    func step()
}

extension Optimizer {
    /// Forgets every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.grad = nil } }
}

/// Stochastic gradient descent with optional momentum (PyTorch's formulation) and L2 weight decay.
public final class SGD: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let momentum: Float
    public let weightDecay: Float
    public let nesterov: Bool
    private var velocity: [Tensor?]

    public init(
        parameters: [Variable], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.velocity = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        for (index, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            let n = grad.count
            var g = grad
            if weightDecay != 0 {
                let wd = weightDecay
                let w = p.value.storage.pointer
                g.withUnsafeMutableBufferPointer { gp in for i in 0..<n { gp[i] += wd * w[i] } }
            }
            if momentum != 0 {
                if var v = velocity[index] {
                    velocity[index] = nil
                    let mu = momentum
                    let gp = g.storage.pointer
                    v.withUnsafeMutableBufferPointer { vp in for i in 0..<n { vp[i] = mu * vp[i] + gp[i] } }
                    velocity[index] = v
                } else {
                    velocity[index] = g
                }
                let v = velocity[index]!
                if nesterov {
                    g = g + v * momentum
                } else {
                    g = v
                }
            }
            let lr = learningRate
            let gp = g.storage.pointer
            p.value.withUnsafeMutableBufferPointer { w in for i in 0..<n { w[i] -= lr * gp[i] } }
        }
    }
}

/// Adam, and AdamW when `decoupledWeightDecay` is set (PyTorch's formulations).
public class Adam: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public let weightDecay: Float
    public let decoupledWeightDecay: Bool
    /// The number of steps taken.
    public private(set) var stepCount = 0
    private var firstMoments: [Tensor]
    private var secondMoments: [Tensor]

    public init(
        parameters: [Variable], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        firstMoments = parameters.map { Tensor.zeros($0.value.shape) }
        secondMoments = parameters.map { Tensor.zeros($0.value.shape) }
    }

    public func step() {
        stepCount += 1
        let t = Float(stepCount)
        let correction1 = 1 - powf(beta1, t), correction2 = 1 - powf(beta2, t)
        let stepSize = learningRate / correction1
        let b1 = beta1, b2 = beta2, eps = epsilon, lr = learningRate, wd = weightDecay
        let decoupled = decoupledWeightDecay
        let rootCorrection2 = correction2.squareRoot()
        for (index, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            let n = grad.count
            precondition(n == p.value.count, "Adam: gradient of shape \(grad.shape) for parameter \(p.value.shape)")
            nonisolated(unsafe) let g = grad.storage.pointer
            // Make each buffer uniquely owned before writing through raw pointers.
            firstMoments[index].withUnsafeMutableBufferPointer { _ in }
            secondMoments[index].withUnsafeMutableBufferPointer { _ in }
            p.value.withUnsafeMutableBufferPointer { _ in }
            nonisolated(unsafe) let m = firstMoments[index].storage.pointer
            nonisolated(unsafe) let v = secondMoments[index].storage.pointer
            nonisolated(unsafe) let w = p.value.storage.pointer
            // Coupled decay adds wd·w to the gradient; decoupled decay shrinks w first.
            let decay = decoupled ? 0 : wd, shrink = decoupled ? 1 - lr * wd : 1
            parallelRanges(n, costPerItem: 4) { range in
                Self.update(
                    range, gradient: g, first: m, second: v, weights: w, beta1: b1, beta2: b2, stepSize: stepSize,
                    rootCorrection2: rootCorrection2, epsilon: eps, decay: decay, shrink: shrink)
            }
        }
    }
}

extension Adam {
    /// One Adam update of `range`, eight lanes at a time (the four arrays never alias, which
    /// the compiler cannot know, so the loop is written in SIMD by hand).
    @inline(__always)
    static func update(
        _ range: Range<Int>, gradient g: UnsafePointer<Float>, first m: UnsafeMutablePointer<Float>,
        second v: UnsafeMutablePointer<Float>, weights w: UnsafeMutablePointer<Float>, beta1: Float, beta2: Float,
        stepSize: Float, rootCorrection2: Float, epsilon: Float, decay: Float, shrink: Float
    ) {
        typealias Lanes = SIMD8<Float>
        let (gr, mr, vr, wr) = (
            UnsafeRawPointer(g), UnsafeMutableRawPointer(m), UnsafeMutableRawPointer(v), UnsafeMutableRawPointer(w)
        )
        let b1 = Lanes(repeating: beta1), b2 = Lanes(repeating: beta2)
        let c1 = Lanes(repeating: 1 - beta1), c2 = Lanes(repeating: 1 - beta2)
        let step = Lanes(repeating: stepSize), root = Lanes(repeating: rootCorrection2)
        let eps = Lanes(repeating: epsilon), decayLanes = Lanes(repeating: decay),
            shrinkLanes = Lanes(repeating: shrink)
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let offset = i * 4
            let old = wr.loadUnaligned(fromByteOffset: offset, as: Lanes.self)
            let gi = gr.loadUnaligned(fromByteOffset: offset, as: Lanes.self) + decayLanes * old
            let mi = b1 * mr.loadUnaligned(fromByteOffset: offset, as: Lanes.self) + c1 * gi
            let vi = b2 * vr.loadUnaligned(fromByteOffset: offset, as: Lanes.self) + c2 * gi * gi
            mr.storeBytes(of: mi, toByteOffset: offset, as: Lanes.self)
            vr.storeBytes(of: vi, toByteOffset: offset, as: Lanes.self)
            let updated = old * shrinkLanes - step * mi / (vi.squareRoot() / root + eps)
            wr.storeBytes(of: updated, toByteOffset: offset, as: Lanes.self)
            i += 8
        }
        while i < range.upperBound {
            let gi = g[i] + decay * w[i]
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
            w[i] = w[i] * shrink - stepSize * m[i] / (v[i].squareRoot() / rootCorrection2 + epsilon)
            i += 1
        }
    }
}

/// AdamW: Adam with decoupled weight decay (default 0.01, as in PyTorch).
public final class AdamW: Adam {
    public init(
        parameters: [Variable], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0.01
    ) {
        super.init(
            parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, decoupledWeightDecay: true)
    }
}

/// Scales all gradients down together so their global L2 norm is at most `maxNorm`.
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters {
        guard let g = p.grad else { continue }
        g.withUnsafeBufferPointer { b in for v in b { total += Double(v * v) } }
    }
    let norm = Float(total.squareRoot())
    if norm > maxNorm && norm > 0 {
        let scale = maxNorm / (norm + 1e-6)
        for p in parameters { if let g = p.grad { p.grad = g * scale } }
    }
    return norm
}

/// A learning-rate schedule: linear warm-up from 0, then a decay to `minimumFactor`·base.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    public enum Decay: String, Sendable, Codable { case constant, linear, cosine }

    public var baseRate: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    public var minimumFactor: Float

    public init(
        baseRate: Float, warmupSteps: Int = 0, totalSteps: Int = 0, decay: Decay = .constant, minimumFactor: Float = 0
    ) {
        self.baseRate = baseRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
        self.minimumFactor = minimumFactor
    }

    /// The rate at 0-based `step`.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return baseRate * Float(step + 1) / Float(warmupSteps) }
        guard decay != .constant, totalSteps > warmupSteps else { return baseRate }
        let progress = min(1, Float(step - warmupSteps) / Float(totalSteps - warmupSteps))
        let factor: Float
        switch decay {
        case .constant: factor = 1
        case .linear: factor = 1 - progress
        case .cosine: factor = 0.5 * (1 + cosf(Float.pi * progress))
        }
        return baseRate * (minimumFactor + (1 - minimumFactor) * factor)
    }
}
