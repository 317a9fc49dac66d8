import Foundation
import Hummingbird
import HummingbirdTesting
import SwiftRecData
import SwiftRecModels
import Testing

@testable import SwiftRecServing

@Suite("Privacy")
struct PrivacyTests {
    let secret = Data("a secret of more than sixteen bytes".utf8)

    @Test func pseudonymsAreKeyedDeterministicAndNeedALongSecret() throws {
        let one = try UserPseudonyms(secret: secret)
        let other = try UserPseudonyms(secret: Data("another secret of enough bytes".utf8))
        #expect(one.pseudonym(of: "alice") == one.pseudonym(of: "alice"))
        #expect(one.pseudonym(of: "alice") != one.pseudonym(of: "alicf"))
        #expect(one.pseudonym(of: "alice") != other.pseudonym(of: "alice"))
        #expect(one.pseudonym(of: "alice").count == 64 && one.pseudonym(of: "alice").allSatisfy(\.isHexDigit))
        #expect(one.fingerprint != other.fingerprint)
        #expect(throws: PrivacyError.self) { try UserPseudonyms(secret: Data("short".utf8)) }
        // RFC 4231 test case 2, HMAC-SHA256 with key "Jefe": HMAC pads a short key with zeros, so
        // the 16 bytes required here give the same code.
        let rfc = try UserPseudonyms(secret: Data("Jefe".utf8) + Data(repeating: 0, count: 12))
        #expect(
            rfc.pseudonym(of: "what do ya want for nothing?")
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func aPseudonymisedStoreNeverHoldsTheRawIds() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-pseudo-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("store.sqlite").path
        let pseudonyms = try UserPseudonyms(secret: secret)
        let store = try SQLiteStore(path: db)
        try await store.bindUserIDs(to: pseudonyms)
        var limits = ServiceLimits()
        limits.pseudonyms = pseudonyms
        let service = RecommendationService(store: store, limits: limits)
        let (data, model) = servingModel
        try await service.store.upsert(items: data.dataset.itemInfo.compactMap { $0 })
        try await service.install(model)
        let (alice, bob) = ("alice@example.org", "bob with spaces")
        try await Application(router: service.router()).test(.router) { client async throws in
            #expect(try await client.call(.put, "/users/\(alice)", #"{"attributes": {"age": "31"}}"#).status == .ok)
            let events =
                (0..<5).map { #"{"user": "\#(alice)", "item": "item-\#($0)"}"# }
                + [#"{"user": "\#(bob)", "item": "item-7"}"#]
            #expect(try await client.call(.post, "/events", "[\(events.joined(separator: ","))]").status == .ok)
            let list = try await client.call(.get, "/users/\(alice)/recommendations?n=5")
            #expect(list.status == .ok && list.object["user"] as? String == alice, "\(list.text)")
            let items = (list.object["recommendations"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String }
            #expect(
                items.count == 5 && Set(items).isDisjoint(with: (0..<5).map { "item-\($0)" }), "seen items left out")
            let interests = try await client.call(.get, "/users/\(alice)/interests")
            #expect(interests.status == .ok && interests.object["user"] as? String == alice)
            let listed = try await client.call(.get, "/users")
            let ids = (listed.object["users"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(Set(ids) == [pseudonyms.pseudonym(of: alice), pseudonyms.pseudonym(of: bob)])
            #expect(try await client.call(.delete, "/users/bob%20with%20spaces").status == .ok)
            #expect(try await client.call(.get, "/users/bob%20with%20spaces/interests").status == .notFound)
        }
        #expect(try await store.recentEvents(ofUser: pseudonyms.pseudonym(of: alice), limit: 10).count == 5)
        let files = ["", "-wal"].compactMap { FileManager.default.contents(atPath: db + $0) }
        for raw in [alice, "alice@", bob] {
            #expect(!files.contains { $0.range(of: Data(raw.utf8)) != nil }, "'\(raw)' is in the store files")
        }
        #expect(files.contains { $0.range(of: Data(pseudonyms.pseudonym(of: alice).utf8)) != nil }, "positive control")
    }

    @Test func aStoreIsNeverOpenedWithTheOtherKindOfIds() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-bind-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let one = try UserPseudonyms(secret: secret)
        let other = try UserPseudonyms(secret: Data("another secret of enough bytes".utf8))
        let raw = try SQLiteStore(path: folder.appendingPathComponent("raw.sqlite").path)
        try await raw.bindUserIDs(to: nil)
        try await raw.append([Event(user: "u", item: "i", timestamp: 1)])
        await #expect(throws: PrivacyError.self) { try await raw.bindUserIDs(to: one) }
        try await raw.bindUserIDs(to: nil)
        let keyed = try SQLiteStore(path: folder.appendingPathComponent("keyed.sqlite").path)
        try await keyed.bindUserIDs(to: one)
        try await keyed.upsert(users: [User(id: one.pseudonym(of: "u"))])
        try await keyed.bindUserIDs(to: one)
        await #expect(throws: PrivacyError.self) { try await keyed.bindUserIDs(to: nil) }
        await #expect(throws: PrivacyError.self) { try await keyed.bindUserIDs(to: other) }
        // An empty store takes whatever it is given first.
        let empty = try SQLiteStore(path: folder.appendingPathComponent("empty.sqlite").path)
        try await empty.bindUserIDs(to: nil)
        try await empty.bindUserIDs(to: other)
        // The noise seed is made once and kept.
        #expect(try await keyed.storedSecret("noise") == keyed.storedSecret("noise"))
        #expect(try await keyed.storedSecret("noise").count == 32)
    }

    @Test func popularityNoiseIsLaplaceOfScaleOneOverEpsilonAndStableForARelease() throws {
        let noise = try PopularityNoise(epsilon: 0.5, seed: secret)
        let counts = [Float](repeating: 100, count: 20_000)
        let noisy = noise.noised(counts, context: "model:pop")
        let errors = zip(noisy, counts).map { Double($0 - $1) }
        let mean = errors.reduce(0, +) / Double(errors.count)
        let meanAbsolute = errors.map(abs).reduce(0, +) / Double(errors.count)
        // Laplace(0, b): mean 0, E|x| = b = 1/ε = 2; the standard error over 20,000 draws is about 0.014.
        #expect(abs(mean) < 0.1 && abs(meanAbsolute - 2) < 0.1, "mean \(mean), mean |x| \(meanAbsolute)")
        #expect(noise.noised(counts, context: "model:pop") == noisy, "asking again gives the same release")
        #expect(noise.noised(counts, context: "scenario:home") != noisy, "another list is another release")
        #expect(noise.noised(101, item: 3, context: "model:pop") != noisy[3] + 1, "a changed count gets new noise")
        for bad in [0, -1, .nan, .infinity, 1000] {
            #expect(throws: PrivacyError.self) { try PopularityNoise(epsilon: bad, seed: secret) }
        }
    }

    @Test func scenarioPopularityIsReleasedWithNoiseWhenAsked() async throws {
        var limits = ServiceLimits()
        limits.popularityNoise = try PopularityNoise(epsilon: 0.1, seed: secret)
        let service = RecommendationService(store: InMemoryStore(), limits: limits)
        let (data, model) = servingModel
        try await service.store.upsert(items: data.dataset.itemInfo.compactMap { $0 })
        try await service.install(model)
        try await Application(router: service.router()).test(.router) { client async throws in
            let events = (0..<30).map { #"{"user": "u\#($0)", "item": "item-\#($0 % 3)", "scenario": "home"}"# }
            #expect(try await client.call(.post, "/events", "[\(events.joined(separator: ","))]").status == .ok)
            #expect(try await client.call(.put, "/users/newbie", #"{"attributes": {}}"#).status == .ok)
            func scores() async throws -> [Double] {
                let reply = try await client.call(.get, "/users/newbie/recommendations?n=3&scenario=home")
                #expect(reply.object["model"] as? String == "scenario-popularity", "\(reply.text)")
                return (reply.object["recommendations"] as? [[String: Any]] ?? []).compactMap { $0["score"] as? Double }
            }
            let first = try await scores()
            #expect(first.count == 3 && first.contains { $0 != 10 }, "each item has 10 events; noise of scale 10")
            #expect(try await scores() == first, "the same counts are the same release")
        }
    }
}
