import Foundation
import Testing

@testable import SwiftRecTensor

@Suite("Optimizers match hand-computed steps")
struct OptimizerTests {
    func parameterWithGradient(_ value: [Float], _ grad: [Float]) -> Variable {
        let p = Variable(Tensor(value), requiresGrad: true)
        p.grad = Tensor(grad)
        return p
    }

    @Test func sgdWithMomentum() {
        let p = parameterWithGradient([1, -2], [0.5, 1])
        let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
        sgd.step()
        // v = g; w = w - lr·v
        #expect(p.value.scalars == [0.95, -2.1])
        p.grad = Tensor([0.5, 1])
        sgd.step()
        // v = 0.9·v + g = [0.95, 1.9]; w = [0.95 - 0.095, -2.1 - 0.19]
        #expect(abs(p.value[0] - 0.855) < 1e-6 && abs(p.value[1] - -2.29) < 1e-6)
    }

    @Test func sgdWeightDecay() {
        let p = parameterWithGradient([2], [0])
        SGD(parameters: [p], learningRate: 0.5, weightDecay: 0.1).step()
        #expect(abs(p.value[0] - 1.9) < 1e-6)
    }

    @Test func adamFirstTwoSteps() {
        let p = parameterWithGradient([1], [0.2])
        let adam = Adam(parameters: [p], learningRate: 0.01)
        adam.step()
        // Step 1: m̂ = g, v̂ = g², so the update is lr·g/(|g| + ε) ≈ lr.
        #expect(abs(p.value[0] - (1 - 0.01 * 0.2 / (0.2 + 1e-8))) < 1e-6)
        p.grad = Tensor([-0.4])
        adam.step()
        let m = 0.9 * (0.1 * 0.2) + 0.1 * -0.4, v = 0.999 * (0.001 * 0.04) + 0.001 * 0.16
        let mHat = m / (1 - 0.81), vHat = v / (1 - 0.998001)
        let expected = Float((1 - 0.01) - 0.01 * mHat / (vHat.squareRoot() + 1e-8))
        #expect(abs(p.value[0] - expected) < 1e-6)
    }

    @Test func adamWDecouplesWeightDecay() {
        let p = parameterWithGradient([2], [0.5])
        AdamW(parameters: [p], learningRate: 0.1, weightDecay: 0.01).step()
        // w·(1 - lr·wd) then the Adam step of size lr.
        #expect(abs(p.value[0] - (2 * (1 - 0.001) - 0.1)) < 1e-5)
        let q = parameterWithGradient([2], [0.5])
        Adam(parameters: [q], learningRate: 0.1, weightDecay: 0.01).step()
        // L2 folded into the gradient: still a unit-size first step.
        #expect(abs(q.value[0] - 1.9) < 1e-5)
    }

    @Test func gradientClippingScalesGlobalNorm() {
        let a = parameterWithGradient([0, 0], [3, 0]), b = parameterWithGradient([0], [4])
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(a.grad![0] - 0.6) < 1e-5 && abs(b.grad![0] - 0.8) < 1e-5)
        let c = parameterWithGradient([0], [0.5])
        clipGradientNorm([c], maxNorm: 1)
        #expect(c.grad![0] == 0.5)
    }

    @Test func learningRateScheduleWarmsUpThenDecays() {
        let linear = LearningRateSchedule(baseRate: 1, warmupSteps: 4, totalSteps: 14, decay: .linear)
        #expect(linear.rate(at: 0) == 0.25 && linear.rate(at: 3) == 1)
        #expect(abs(linear.rate(at: 9) - 0.5) < 1e-6 && linear.rate(at: 14) == 0)
        let cosine = LearningRateSchedule(
            baseRate: 2, warmupSteps: 0, totalSteps: 10, decay: .cosine, minimumFactor: 0.1)
        #expect(abs(cosine.rate(at: 5) - 2 * (0.1 + 0.9 * 0.5)) < 1e-6)
        #expect(abs(cosine.rate(at: 10) - 0.2) < 1e-6)
    }
}
