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
            model: "pop", config: ["half-life": 60], parameters: ["decay": "0.5"], dataset: dataset,
            metrics: ["fit_seconds": 1.5])
        try ModelArtifact.write(manifest: manifest, tensors: ["counts": Tensor([3, 1])], to: dir)
        let (read, weights) = try ModelArtifact.read(from: dir, expecting: "pop")
        #expect(read.parameters == manifest.parameters && read.itemFingerprint == dataset.items.fingerprint)
        #expect(read.config == ["half-life": 60])
        #expect(try read.config(PopularityConfig.self).halfLife == 60)
        #expect(try read.parameter("decay", as: Double.self) == 0.5)
        #expect(try weights.tensor("counts").scalars == [3, 1])
        #expect(throws: ModelError.self) { try ModelArtifact.read(from: dir, expecting: "ease") }
        #expect(throws: ModelError.self) { try read.parameter("missing", as: Int.self) }
        // A manifest of format 1 (options under other names) asks for a new training.
        let old = try String(contentsOf: dir.appendingPathComponent(ModelArtifact.manifestFile), encoding: .utf8)
            .replacingOccurrences(of: "\"formatVersion\" : 2", with: "\"formatVersion\" : 1")
        try old.write(to: dir.appendingPathComponent(ModelArtifact.manifestFile), atomically: true, encoding: .utf8)
        #expect {
            try ModelArtifact.read(from: dir)
        } throws: { error in "\(error)".contains("train it again") }
    }
}
