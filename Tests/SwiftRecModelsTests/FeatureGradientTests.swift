import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecModels

/// Backpropagation through each feature network (FM's pairwise term, the cross layers, DIN's
/// activation unit and pooling, STAR's per-scenario products and regrouping, the sparse field
/// embeddings) agrees with central finite differences of the logits.
@Suite("Feature network gradients")
struct FeatureGradientTests {
    /// "din-prelu" is DIN with PReLU in its activation unit.
    @Test(arguments: ["fm", "deepfm", "widedeep", "dcnv2", "din", "din-prelu", "star"])
    func backpropagationMatchesFiniteDifferences(name: String) throws {
        var options = FeatureRankerTests.fast
        options["epochs"] = 1
        options["star.scenario-attribute"] = "group"
        if name == "din-prelu" { options["attention-activation"] = "prelu" }
        let model = try ModelCatalog.make(name == "din-prelu" ? "din" : name, options: options, ignoringUnknown: true)
        try model.fit(ratedFeatureData, validation: nil, progress: nil)
        switch model {
        case let m as FM: check(m)
        case let m as DeepFM: check(m)
        case let m as WideDeep: check(m)
        case let m as DCNv2: check(m)
        case let m as DIN: check(m)
        case let m as STAR: check(m)
        default: Issue.record("\(name) is not a feature ranker")
        }
    }

    /// For every parameter, the 3 elements with the largest analytic gradient and one element
    /// drawn at random are compared with (f(x + ε) − f(x − ε)) / 2ε of Σ logits·w.
    func check<Network: FeatureNetwork>(_ model: FeatureRanker<Network>) {
        guard let network = model.network, let encoder = model.encoder else {
            Issue.record("\(model.name): not fitted")
            return
        }
        network.setTraining(false)
        let users: [Int32] = [0, 1, 2, 3, 4, 5], items: [Int32] = [3, 8, 13, 20, 21, 29]
        let userRows = (0..<ratedFeatureData.userCount).map {
            encoder.userRows(user: Int32($0), features: ratedFeatureData.userInfo[$0]?.attributes ?? [:])
        }
        let batch = FeatureRanker<Network>.batch(
            users, items, histories: users.map { ratedFeatureData.sequences.items(of: Int($0)).suffix(6) },
            userRows: userRows,
            scenarios: users.map {
                network.scenario(features: ratedFeatureData.userInfo[Int($0)]?.attributes ?? [:], requested: nil)
            }, encoder: encoder, historyLength: 4)
        let weights = Tensor(shape: [users.count, 1], scalars: [0.9, -0.7, 0.4, 1.1, -0.3, 0.6])
        func projected() -> Double {
            let out = withNoGrad { network.logits(batch, encoder: encoder).value }
            return (0..<out.count).reduce(0.0) { $0 + Double(out.scalars[$1]) * Double(weights.scalars[$1]) }
        }
        network.zeroGrad()
        (network.logits(batch, encoder: encoder) * Variable(weights)).sum().backward()
        let center = projected()
        var generator = SplitMix64(seed: 5)
        var checked = 0
        let epsilon: Float = 1e-3
        for (parameterName, parameter) in network.namedParameters() {
            // A parameter the batch never reaches (STAR's weights of a scenario absent from it)
            // has no gradient: its finite differences must then be zero.
            let analytic = parameter.grad ?? Tensor.zeros(parameter.value.shape)
            let largest = analytic.scalars.indices.sorted { abs(analytic.scalars[$0]) > abs(analytic.scalars[$1]) }
            for i in largest.prefix(3) + [generator.nextInt(below: analytic.count)] {
                let original = parameter.value.scalars[i]
                parameter.value.withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
                let plus = projected()
                parameter.value.withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
                let minus = projected()
                parameter.value.withUnsafeMutableBufferPointer { $0[i] = original }
                let numeric = Float((plus - minus) / Double(2 * epsilon))
                // A ReLU whose input is within ε of 0 bends inside the difference: the one-sided
                // slopes disagree there, and such an element says nothing about backpropagation.
                let right = Float((plus - center) / Double(epsilon)), left = Float((center - minus) / Double(epsilon))
                if abs(right - left) > 2e-3 + 0.02 * max(abs(right), abs(left)) { continue }
                let a = analytic.scalars[i]
                #expect(
                    abs(a - numeric) <= 2e-3 + 5e-2 * max(abs(a), abs(numeric)),
                    "\(model.name).\(parameterName)[\(i)]: analytic \(a), numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked >= 8, "\(model.name): \(checked) elements checked")
    }
}
