import Foundation
import SwiftRecData
import SwiftRecModels
import Testing

@testable import SwiftRecServing

/// A small SASRec trained on generated users who move through categories in item order.
let servingModel: (data: SyntheticData, model: ServableModel) = {
    let data = SyntheticGenerator.generate(
        SyntheticConfig(
            users: 200, categories: 5, itemsPerCategory: 16, eventsPerUser: 18...28, switches: .probability(0.04),
            popularityExponent: 0.5, sequentialProbability: 0.7, seed: 21))
    var config = SASRecConfig()
    config.dim = 32
    config.blocks = 1
    config.heads = 2
    config.maxLength = 20
    config.dropout = 0.1
    config.training.epochs = 12
    config.training.batchSize = 32
    config.training.learningRate = 5e-3
    config.training.seed = 2
    let model = try! SASRec(config: config)
    try! model.fit(data.dataset, validation: nil, progress: nil)
    return (data, ServableModel(name: "sasrec", model: model, items: data.dataset.items))
}()

private func event(_ user: String, _ item: Int, _ time: Int64) -> Event {
    Event(user: user, item: "item-\(item)", type: .click, timestamp: time)
}

/// A store whose appends are durable at once but return only when the test opens the gate:
/// the window between a write reaching the store and the caller hearing of it.
final class GatedStore: RecommendationStore {
    let inner = InMemoryStore()
    private let gate = AsyncStream<Void>.makeStream()

    func open() { gate.continuation.yield() }

    func append(_ events: [Event]) async throws {
        await inner.append(events)
        for await _ in gate.stream { break }
    }
    func upsert(items: [Item]) async throws { await inner.upsert(items: items) }
    func upsert(users: [User]) async throws { await inner.upsert(users: users) }
    func deleteUser(_ id: String) async throws -> Bool { await inner.deleteUser(id) }
    func item(_ id: String) async throws -> Item? { await inner.item(id) }
    func items(withIDs ids: Set<String>) async throws -> [String: Item] { await inner.items(withIDs: ids) }
    func user(_ id: String) async throws -> User? { await inner.user(id) }
    func items(after cursor: String?, limit: Int) async throws -> Page<Item> {
        await inner.items(after: cursor, limit: limit)
    }
    func users(after cursor: String?, limit: Int) async throws -> Page<User> {
        await inner.users(after: cursor, limit: limit)
    }
    func recentEvents(ofUser id: String, limit: Int) async throws -> [Event] {
        await inner.recentEvents(ofUser: id, limit: limit)
    }
    func eventCount() async throws -> Int { await inner.eventCount() }
    func itemCounts(inScenario scenario: String) async throws -> [String: Int] {
        await inner.itemCounts(inScenario: scenario)
    }
    func snapshot() async throws -> Dataset { await inner.snapshot() }
    func shape() async throws -> DataShape { await inner.shape() }
    func saveModel(_ record: ModelRecord) async throws { await inner.saveModel(record) }
    func modelRecords() async throws -> [ModelRecord] { await inner.modelRecords() }
    func activateModel(_ name: String) async throws -> Bool { await inner.activateModel(name) }
    func deleteModel(_ name: String) async throws -> Bool { await inner.deleteModel(name) }
}

@Suite("Serving core")
struct ServingCoreTests {
    /// The contract every store keeps.
    static func checkStoreContract(_ store: any RecommendationStore) async throws {
        try await store.upsert(items: (0..<5).map { Item(id: "i\($0)") })
        try await store.upsert(users: [User(id: "a", attributes: ["age": "30"])])
        try await store.append([event("a", 1, 1), event("b", 2, 2), event("a", 3, 3)])
        let first = try await store.items(after: nil, limit: 2)
        #expect(first.elements.map(\.id) == ["i0", "i1"] && first.next == "i1")
        let last = try await store.items(after: "i3", limit: 2)
        #expect(last.elements.map(\.id) == ["i4"] && last.next == nil)
        #expect(try await store.users(after: nil, limit: 10).elements.map(\.id) == ["a", "b"])
        #expect(try await store.recentEvents(ofUser: "a", limit: 1).map(\.item) == ["item-3"])
        let deleted = try await store.deleteUser("a")
        let deletedUnknown = try await store.deleteUser("nobody")
        #expect(deleted && !deletedUnknown)
        #expect(try await store.recentEvents(ofUser: "a", limit: 10).isEmpty)
        let user = try await store.user("a")
        #expect(try await store.eventCount() == 1 && user == nil)
        // Features round-trip; an upsert replaces.
        try await store.upsert(items: [Item(id: "i1", title: "T", categories: ["c", "d"], attributes: ["k": "v"])])
        #expect(
            try await store.item("i1") == Item(id: "i1", title: "T", categories: ["c", "d"], attributes: ["k": "v"]))
        #expect(try await store.item("nope") == nil)
        let found = try await store.items(withIDs: ["i1", "i4", "nope"])
        #expect(found.keys.sorted() == ["i1", "i4"] && found["i1"]?.title == "T")
        let scenario = Event(user: "b", item: "x", type: .purchase, value: 4.5, timestamp: 9, scenario: "home")
        try await store.append([scenario])
        #expect(try await store.recentEvents(ofUser: "b", limit: 5).last == scenario)
        #expect(try await store.itemCounts(inScenario: "home") == ["x": 1])
        #expect(try await store.itemCounts(inScenario: "away").isEmpty)
        // Training reads the scenario with each event; a loaded dataset writes its events'
        // scenarios, types and values.
        var builder = DatasetBuilder()
        let loaded = [
            Event(user: "s", item: "i2", type: .rating, value: 4, timestamp: 20, scenario: "search"),
            Event(user: "s", item: "i1", type: .cart, timestamp: 10),
        ]
        for event in loaded { builder.add(event) }
        try await store.load(builder.build())
        #expect(try await store.recentEvents(ofUser: "s", limit: 5) == loaded.reversed())
        let snapshot = try await store.snapshot()
        let scenarioOf = Dictionary(
            (0..<snapshot.eventCount).map {
                (
                    "\(snapshot.users.id(at: snapshot.log.users[$0]))/\(snapshot.items.id(at: snapshot.log.items[$0]))",
                    snapshot.scenarioName(snapshot.log.scenarios[$0]) ?? "-"
                )
            }, uniquingKeysWith: { first, _ in first })
        #expect(scenarioOf["b/x"] == "home" && scenarioOf["s/i2"] == "search" && scenarioOf["s/i1"] == "-")
        // The model registry: one active record at a time, replaced by name.
        let a = ModelRecord(
            name: "a", type: "sasrec", directory: "/m/a", items: 5, metrics: ["valid_NDCG@10": 0.25], createdAt: 7,
            active: true)
        let b = ModelRecord(name: "b", type: "pop", directory: nil, items: 5, createdAt: 8, active: true)
        try await store.saveModel(a)
        try await store.saveModel(b)
        var records = try await store.modelRecords()
        #expect(records.map(\.name) == ["a", "b"] && records.map(\.active) == [false, true])
        #expect(
            records[0].metrics == ["valid_NDCG@10": 0.25] && records[0].directory == "/m/a"
                && records[1].directory == nil)
        let activated = try await store.activateModel("a")
        let activatedUnknown = try await store.activateModel("nope")
        #expect(activated && !activatedUnknown)
        records = try await store.modelRecords()
        #expect(records.map(\.active) == [true, false] && records[0].createdAt == 7)
        let removed = try await store.deleteModel("b")
        let removedUnknown = try await store.deleteModel("b")
        #expect(removed && !removedUnknown)
        #expect(try await store.modelRecords().map(\.name) == ["a"])
    }

    @Test func inMemoryStoreKeepsTheContract() async throws {
        try await Self.checkStoreContract(InMemoryStore())
    }

    @Test func sqliteStoreKeepsTheContractDurably() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-\(UUID().uuidString).sqlite")
            .path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        do {
            let store = try SQLiteStore(path: path)
            let settings = try store.durabilitySettings()
            #expect(settings.journalMode == "wal" && settings.synchronous == 2)
            try await Self.checkStoreContract(store)
        }
        // Everything acknowledged is there after reopening.
        let reopened = try SQLiteStore(path: path)
        // User b's two events and the two the contract loaded for user s, scenarios included.
        #expect(try await reopened.eventCount() == 4)
        #expect(try await reopened.recentEvents(ofUser: "b", limit: 5).map(\.item) == ["item-2", "x"])
        #expect(try await reopened.recentEvents(ofUser: "s", limit: 5).map { $0.scenario ?? "-" } == ["-", "search"])
        #expect(try await reopened.items(after: nil, limit: 10).elements.count == 5)
        #expect(try await reopened.modelRecords().map { "\($0.name) \($0.active)" } == ["a true"])
    }

    @Test func liveInterestsHoldTheWholeHistoryAndFollowNewEvents() async throws {
        let store: any RecommendationStore = InMemoryStore()
        try await store.append((0..<300).map { event("u", $0, Int64($0)) })
        let live = LiveInterests(store: store)
        // The whole history, not a window of the newest events.
        #expect(try await live.history(of: "u").items == (0..<300).map { "item-\($0)" })
        // Stored, then recorded; the live history follows at once.
        let new = [event("u", 9, 310), event("u", 8, 311), event("v", 7, 312)]
        try await live.append(new)
        #expect(try await store.recentEvents(ofUser: "u", limit: 1_000).count == 302)
        let history = try await live.history(of: "u")
        #expect(history.count == 302 && history.items.suffix(2) == ["item-9", "item-8"])
        #expect(history.timestamps.suffix(2) == [310, 311])
        // A user first seen in this batch gets their stored history once, not twice.
        #expect(try await live.history(of: "v").items == ["item-7"])
        await live.forget("u")
        _ = try await store.deleteUser("u")
        #expect(try await live.history(of: "u").isEmpty)
    }

    @Test func aLongHistoryIsReadUpToItsLimitAndUnknownUsersAreNotHeld() async throws {
        let store: any RecommendationStore = InMemoryStore()
        try await store.append((0..<10).map { event("u", $0, Int64($0)) })
        let live = LiveInterests(store: store, historyLimit: 4)
        #expect(try await live.history(of: "u").items == (6..<10).map { "item-\($0)" })
        try await live.append([event("u", 42, 42)])
        #expect(try await live.history(of: "u").items == ["item-7", "item-8", "item-9", "item-42"])
        let held = await live.bytesHeld
        // Asking for users without events keeps nothing of them.
        for k in 0..<100 { #expect(try await live.history(of: "nobody-\(k)").isEmpty) }
        #expect(await live.userCount == 1)
        #expect(await live.bytesHeld == held)
    }

    @Test func aNewEventChangesTheNextRecommendation() async throws {
        let (data, model) = servingModel
        let per = data.config.itemsPerCategory
        let history = (0..<6).map { event("new", $0, Int64($0)) }
        let before = recommend(model, history: history, request: .init(count: 10))
        #expect(before.count == 10 && before.allSatisfy { !history.map(\.item).contains($0.item) })
        #expect(before.filter { data.itemCategory[Int($0.item.dropFirst(5))!] == 0 }.count >= 6)
        // Three clicks in category 3: the next list follows them.
        let after = recommend(
            model, history: history + (0..<3).map { event("new", 3 * per + 4 + $0, Int64(10 + $0)) },
            request: .init(count: 10))
        let share = after.filter { data.itemCategory[Int($0.item.dropFirst(5))!] == 3 }.count
        #expect(share >= 6, "\(share) of 10 in the new category")
        #expect(after.first?.item == "item-\(3 * per + 7)")
        #expect(zip(after, after.dropFirst()).allSatisfy { $0.score >= $1.score })
    }

    @Test func filtersAndExplanations() {
        let (data, model) = servingModel
        let history = [event("x", 20, 1), event("x", 21, 2), event("x", 22, 3), event("x", 999_999, 4)]
        let plain = recommend(model, history: history, request: .init(count: 5))
        let excluded = Set(plain.prefix(2).map(\.item))
        let filtered = recommend(
            model, history: history, request: .init(count: 5, excluded: excluded.union(["no-such-item"])))
        #expect(filtered.allSatisfy { !excluded.contains($0.item) } && filtered.count == 5)
        #expect(filtered.first?.item == plain[2].item)
        let withSeen = recommend(
            model, history: history, request: .init(count: data.dataset.itemCount, excludeSeen: false))
        #expect(withSeen.count == data.dataset.itemCount)
        let explained = recommend(model, history: history, request: .init(count: 3, explain: true))
        for recommendation in explained {
            let reasons = try! #require(recommendation.because)
            #expect(!reasons.isEmpty && reasons.allSatisfy { ["item-20", "item-21", "item-22"].contains($0.item) })
        }
        #expect(plain.allSatisfy { $0.because == nil })
    }

    @Test func swappingTheActiveModelIsAtomic() async {
        let (data, model) = servingModel
        let active = ActiveModel()
        #expect(active.current == nil)
        let pop = Popularity()
        try! pop.fit(data.dataset, validation: nil, progress: nil)
        let other = ServableModel(name: "pop", model: pop, items: model.items)
        active.activate(model)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for k in 0..<200 { active.activate(k % 2 == 0 ? other : model) } }
            group.addTask {
                for _ in 0..<200 {
                    let seen = active.current!
                    #expect(seen === model || seen === other)
                }
            }
        }
    }

    @Test func theScoreCacheServesOnlyTheSameHistoryScenarioAttributesAndModel() {
        let (data, model) = servingModel
        let pop = Popularity()
        try! pop.fit(data.dataset, validation: nil, progress: nil)
        let other = ServableModel(name: "pop", model: pop, items: model.items)
        let cache = ScoreCache(capacity: 2)
        cache.store([1, 2], user: "a", model: model, version: .init(history: 3))
        #expect(cache.scores(user: "a", model: model, version: .init(history: 3)) == [1, 2])
        #expect(cache.scores(user: "a", model: model, version: .init(history: 4)) == nil)
        #expect(cache.scores(user: "a", model: other, version: .init(history: 3)) == nil)
        // Another instance of the same model (as a catalogue extension makes) is another model.
        let again = ServableModel(name: model.name, model: model.model, items: model.items)
        #expect(cache.scores(user: "a", model: again, version: .init(history: 3)) == nil)
        cache.store([3], user: "b", model: model, version: .init(history: 0))
        cache.store([4], user: "c", model: model, version: .init(history: 0))
        #expect(cache.count == 2 && cache.scores(user: "a", model: model, version: .init(history: 3)) == nil)
        cache.remove(user: "c")
        #expect(cache.scores(user: "c", model: model, version: .init(history: 0)) == nil && cache.count == 1)
        // Another scenario or other attributes read are other scores; a user without history
        // is cached by their attributes.
        let young = ScoreVersion(history: 7, scenario: "young", attributes: ["age": "18"])
        cache.store([5], user: "b", model: model, version: young)
        #expect(cache.scores(user: "b", model: model, version: young) == [5])
        #expect(cache.scores(user: "b", model: model, version: .init(history: 7, attributes: ["age": "18"])) == nil)
        #expect(cache.scores(user: "b", model: model, version: .init(history: 7, scenario: "young")) == nil)
        let newcomer = ScoreVersion(history: nil, attributes: ["age": "25"])
        cache.store([6], user: "n", model: model, version: newcomer)
        #expect(cache.scores(user: "n", model: model, version: newcomer) == [6])
        #expect(cache.scores(user: "n", model: model, version: .init(history: nil, attributes: ["age": "35"])) == nil)
    }

    @Test func liveVersionsChangeWithEveryNewEvent() async throws {
        let store: any RecommendationStore = InMemoryStore()
        let live = LiveInterests(store: store)
        let first = try await live.snapshot(of: "u").version
        let event = Event(user: "u", item: "item-1", timestamp: 1)
        try await live.append([event])
        let second = try await live.snapshot(of: "u")
        #expect(second.version != first && second.history == UserHistory([event]))
        #expect(try await live.snapshot(of: "u").version == second.version)
        await live.forget("u")
        #expect(try await live.snapshot(of: "u").version != second.version)
    }

    @Test func scenarioCountsAreTheStoresPlusWhatArrivesLater() async throws {
        let store: any RecommendationStore = InMemoryStore()
        let stored = [
            Event(user: "a", item: "x", timestamp: 1, scenario: "home"),
            Event(user: "b", item: "x", timestamp: 2, scenario: "home"),
            Event(user: "b", item: "y", timestamp: 3, scenario: "home"),
            Event(user: "b", item: "z", timestamp: 4, scenario: "search"),
        ]
        try await store.append(stored)
        let catalog = ScenarioCatalog()
        // Recorded after being stored, before the first read: counted once, not twice.
        catalog.record(Array(stored.suffix(2)))
        #expect(try await catalog.itemCounts(in: "home", store: store) == ["x": 2, "y": 1])
        let later = Event(user: "c", item: "y", timestamp: 5, scenario: "home")
        try await store.append([later])
        catalog.record([later])
        #expect(try await catalog.itemCounts(in: "home", store: store) == ["x": 2, "y": 2])
        #expect(try await catalog.itemCounts(in: "nowhere", store: store).isEmpty)
        #expect(try await store.itemCounts(inScenario: "search") == ["z": 1])
    }

    @Test func aFirstReadDuringAWriteNeverCountsAnEventTwice() async throws {
        let store = GatedStore()
        let live = LiveInterests(store: store)
        let new = event("u", 1, 1)
        let writing = Task { try await live.append([new]) }
        while try await store.recentEvents(ofUser: "u", limit: 5).isEmpty { await Task.yield() }
        // The event is durable, the write not yet finished: a first read sees it in the store.
        #expect(try await live.history(of: "u") == UserHistory([new]))
        store.open()
        try await writing.value
        #expect(try await live.history(of: "u") == UserHistory([new]))
    }

    @Test func liveInterestsHoldABoundedNumberOfBytes() async throws {
        let store: any RecommendationStore = InMemoryStore()
        try await store.append((0..<6).map { event("user-\($0)", $0, Int64($0)) })
        // Room for three one-event histories and a half.
        let one = UserHistory([event("user-0", 0, 0)]).bytes
        let live = LiveInterests(store: store, maxBytes: 3 * one + one / 2)
        var versions: [String: Int] = [:]
        for u in 0..<3 { versions["user-\(u)"] = try await live.snapshot(of: "user-\(u)").version }
        _ = try await live.snapshot(of: "user-0")  // used again: user-1 is now the oldest
        _ = try await live.snapshot(of: "user-3")
        #expect(await live.userCount == 3)
        // The dropped user is read again with a history identical to the store's and a new version.
        let again = try await live.snapshot(of: "user-1")
        #expect(again.history.items == ["item-1"] && again.version != versions["user-1"])
        #expect(try await live.snapshot(of: "user-0").version == versions["user-0"])
        #expect(await live.userCount <= 3)
    }
}

/// The pipeline's ranking steps for a session of `history` (no stored user).
func recommend(_ model: ServableModel, history: [Event], request: RecommendationRequest) -> [Recommendation] {
    let state = model.state(user: nil, history: UserHistory(history))
    return RecommendationPipeline.rank(model, state: state, scores: model.model.scores(for: state), request: request)
}
