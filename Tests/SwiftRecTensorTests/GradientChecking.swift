import Testing

@testable import SwiftRecTensor

/// Compares the gradients backpropagation gives for `inputs` with central finite differences.
///
/// The scalar differentiated is Σ f()·w with fixed random weights w, so every output element
/// matters. Each gradient element must satisfy |analytic − numeric| ≤ atol + rtol·max(|analytic|, |numeric|);
/// the defaults (ε = 1e-2, atol = 5e-3, rtol = 2e-2) suit Float32 values of order one.
func checkGradients(
    _ label: String, _ inputs: [Variable], epsilon: Float = 1e-2, atol: Float = 5e-3, rtol: Float = 2e-2,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: () -> Variable
) {
    let probe = f().value
    var generator = SeededGenerator(seed: 99)
    let weights = Tensor.randomUniform(probe.shape, low: -1, high: 1, generator: &generator)
    func projected() -> Double {
        let out = withNoGrad { f().value }
        var s = 0.0
        for i in 0..<out.count { s += Double(out.scalars[i]) * Double(weights.scalars[i]) }
        return s
    }
    for input in inputs { input.grad = nil }
    let loss = (f() * Variable(weights)).sum()
    loss.backward()
    var worst: Float = 0
    for (index, input) in inputs.enumerated() {
        guard let analytic = input.grad else {
            Issue.record("\(label): input \(index) got no gradient", sourceLocation: sourceLocation)
            continue
        }
        #expect(analytic.shape == input.shape, "\(label): gradient shape", sourceLocation: sourceLocation)
        for i in 0..<input.value.count {
            let original = input.value.scalars[i]
            input.value.withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
            let plus = projected()
            input.value.withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
            let minus = projected()
            input.value.withUnsafeMutableBufferPointer { $0[i] = original }
            let numeric = Float((plus - minus) / Double(2 * epsilon))
            let a = analytic.scalars[i]
            let error = abs(a - numeric)
            let bound = atol + rtol * max(abs(a), abs(numeric))
            worst = max(worst, error / bound)
            if error > bound {
                Issue.record(
                    "\(label): input \(index) element \(i): analytic \(a) vs numeric \(numeric)",
                    sourceLocation: sourceLocation)
                return
            }
        }
    }
    #expect(worst <= 1, sourceLocation: sourceLocation)
}

/// A leaf with values in [low, high), seeded.
func leaf(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1, requiresGrad: Bool = true) -> Variable {
    var g = SeededGenerator(seed: seed)
    return Variable(Tensor.randomUniform(shape, low: low, high: high, generator: &g), requiresGrad: requiresGrad)
}
