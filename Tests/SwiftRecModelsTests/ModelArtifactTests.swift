import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecModels

@Suite("Model artifacts")
struct ModelArtifactTests {
    @Test func roundTripAndTypeCheck() throws {
        var b = DatasetBuilder()
        b.add(Event(user: "u1", item: "i1", timestamp: 1))
        let dataset = b.build()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swiftrec-artifact-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = ModelManifest(
            model: "pop", parameters: ["decay": "0.5"], dataset: dataset, metrics: ["fit_seconds": 1.5])
        try ModelArtifact.write(manifest: manifest, tensors: ["counts": Tensor([3, 1])], to: dir)
        let (read, weights) = try ModelArtifact.read(from: dir, expecting: "pop")
        #expect(read.parameters == manifest.parameters && read.itemFingerprint == dataset.items.fingerprint)
        #expect(try read.parameter("decay", as: Double.self) == 0.5)
        #expect(try weights.tensor("counts").scalars == [3, 1])
        #expect(throws: ModelError.self) { try ModelArtifact.read(from: dir, expecting: "ease") }
        #expect(throws: ModelError.self) { try read.parameter("missing", as: Int.self) }
    }
}
