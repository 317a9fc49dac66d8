import Foundation
import Testing

@testable import SwiftRecTensor

@Suite("safetensors")
struct SafeTensorsTests {
    func temporaryURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-\(UUID().uuidString)-\(name)")
    }

    @Test func roundTripKeepsValuesShapesAndMetadata() throws {
        var g = SeededGenerator(seed: 1)
        let tensors = [
            "a.weight": Tensor.randomNormal([3, 5], generator: &g), "b": Tensor(scalar: 2.5),
            "empty": Tensor.zeros([0, 4]),
        ]
        let url = temporaryURL("round.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(tensors, metadata: ["format": "pt"], to: url)
        let file = try SafeTensors(contentsOf: url)
        #expect(file.metadata == ["format": "pt"])
        #expect(Set(file.entries.keys) == Set(tensors.keys))
        for (name, t) in tensors {
            let loaded = try file.tensor(name)
            #expect(loaded.shape == t.shape && loaded.scalars == t.scalars, "\(name)")
        }
        // Data starts 8-byte aligned, as the reference writer guarantees.
        let data = try Data(contentsOf: url)
        let headerLength = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(headerLength % 8 == 0)
    }

    @Test func readsAFileWrittenByPyTorch() throws {
        let url = try #require(
            Bundle.module.url(forResource: "pytorch_small", withExtension: "safetensors", subdirectory: "Fixtures"))
        let file = try SafeTensors(contentsOf: url)
        #expect(file.metadata["producer"] == "swiftrec-fixture")
        let weight = try file.tensor("linear.weight")
        #expect(weight.shape == [3, 4])
        #expect(weight.scalars == (0..<12).map { Float($0) / 4 - 1 })
        #expect(try file.tensor("linear.bias").scalars == [0.5, -1.5, 2.25])
        let embedding = try file.tensor("embedding.weight")
        #expect(embedding.shape == [5, 2] && abs(embedding[4, 1] - 1) < 1e-7 && abs(embedding[0, 0] + 1) < 1e-7)
        let scalar = try file.tensor("scalar")
        #expect(scalar.shape == [] && scalar.scalar == 3.5)
        #expect(try file.integers("counts") == [1, 2, 3, 40_000_000_000])
    }

    @Test func malformedFilesGetClearErrors() throws {
        #expect(throws: SafeTensors.FormatError.tooShort(3)) { try SafeTensors(data: Data([1, 2, 3])) }
        var huge = Data()
        withUnsafeBytes(of: UInt64(1_000).littleEndian) { huge.append(contentsOf: $0) }
        huge.append(contentsOf: [UInt8]("{}".utf8))
        #expect(throws: SafeTensors.FormatError.headerLength(1_000, fileSize: 10)) { try SafeTensors(data: huge) }
        func file(_ header: String, payload: Int) -> Data {
            var d = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: [UInt8](header.utf8))
            d.append(Data(count: payload))
            return d
        }
        let wrongSize = file(#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, payload: 16)
        #expect(throws: SafeTensors.FormatError.badEntry(name: "w", reason: "holds 12 bytes but F32[2, 2] needs 16")) {
            try SafeTensors(data: wrongSize)
        }
        let outside = file(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, payload: 8)
        #expect(throws: SafeTensors.FormatError.self) { try SafeTensors(data: outside) }
        let badType = file(#"{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#, payload: 1)
        #expect(throws: SafeTensors.FormatError.self) { try SafeTensors(data: badType) }
        #expect(throws: SafeTensors.FormatError.headerNotJSON("top level is not an object")) {
            try SafeTensors(data: file("[1]", payload: 0))
        }
    }

    @Test func layerSaveAndLoadRestoresOutputs() throws {
        var g = SeededGenerator(seed: 2)
        let block = TransformerBlock(dim: 8, heads: 2, feedForwardDim: 16, dropout: 0.1, causal: true, generator: &g)
        block.setTraining(false)
        let x = Variable(Tensor.randomNormal([1, 3, 8], generator: &g))
        let before = withNoGrad { block(x).value }
        let url = temporaryURL("block.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try block.save(to: url)
        let names = try SafeTensors(contentsOf: url).entries.keys
        #expect(names.contains("attention.query.weight") && names.contains("feed_forward.layers.1.bias"))
        var other = SeededGenerator(seed: 3)
        let fresh = TransformerBlock(
            dim: 8, heads: 2, feedForwardDim: 16, dropout: 0.1, causal: true, generator: &other)
        fresh.setTraining(false)
        #expect(withNoGrad { fresh(x).value }.maxAbsDifference(before) > 1e-3)
        try fresh.load(from: url)
        #expect(withNoGrad { fresh(x).value }.scalars == before.scalars)
        var state = block.stateDict()
        state["norm1.weight"] = Tensor.zeros([9])
        #expect(throws: StateDictError.shapeMismatch(name: "norm1.weight", expected: [8], found: [9])) {
            try fresh.loadStateDict(state)
        }
        state.removeValue(forKey: "norm1.weight")
        #expect(throws: StateDictError.self) { try fresh.loadStateDict(state) }
    }
}
