import Foundation
import SwiftRecData
import Testing

@testable import SwiftRecModels

/// Women mostly choose item a, men item b, everyone item c; postcodes are unique per user.
let attributeData: Dataset = {
    var builder = DatasetBuilder()
    for item in ["a", "b", "c", "d"] { builder.add(Item(id: item)) }
    for u in 0..<60 {
        let gender = u % 2 == 0 ? "f" : "m"
        builder.add(User(id: "u\(u)", attributes: ["gender": gender, "zip": "z\(u)"]))
        let favourite = gender == "f" ? "a" : "b"
        for (k, item) in ["c", favourite].enumerated() {
            builder.add(Event(user: "u\(u)", item: item, timestamp: Int64(u * 10 + k)))
        }
        if u % 3 == 0 { builder.add(Event(user: "u\(u)", item: "c", timestamp: Int64(u * 10 + 5))) }
    }
    return builder.build()
}()

@Suite("New users")
struct NewUserTests {
    static func ranking(_ model: any Recommender, _ features: [String: String]) -> [String] {
        let scores = model.scores(for: UserState(items: [], features: features))
        return scores.indices.sorted { scores[$0] > scores[$1] }.map { attributeData.items.ids[$0] }
    }

    @Test func segmentPopularityFollowsStatedAttributesAndRoundTrips() throws {
        let model = try SegmentPopularity()
        try model.fit(attributeData, validation: nil, progress: nil)
        // Postcodes are unique per user: too few users per value to read.
        #expect(model.readAttributes == ["gender"])
        #expect(Array(Self.ranking(model, ["gender": "f"]).prefix(2)) == ["c", "a"])
        #expect(Array(Self.ranking(model, ["gender": "m", "zip": "z1"]).prefix(2)) == ["c", "b"])
        let f = model.scores(for: UserState(items: [], features: ["gender": "f"]))
        #expect(f[2] > f[0] && f[0] > f[1] && f[1] > f[3], "\(f)")
        // Nothing stated, or an unknown value: overall popularity (a and b tie).
        let none = model.scores(for: UserState(items: []))
        #expect(none[2] > none[0] && none[0] == none[1])
        #expect(model.scores(for: UserState(items: [], features: ["gender": "x"])) == none)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-seg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(loaded.scores(for: UserState(items: [], features: ["gender": "f"])) == f)
        #expect(throws: ModelError.self) { try SegmentPopularity(smoothing: 0) }
    }
}
