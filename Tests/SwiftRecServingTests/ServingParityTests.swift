import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import SwiftRecTensor
import Testing

@testable import SwiftRecServing

/// Generated users whose histories are longer than the sequence models' window, with text and
/// attributes, each item at most once per user (a held-out item the user already had is ranked
/// by the evaluator but never served with `exclude_seen`), split leave-one-out as `swiftrec
/// train` splits.
private let parityData: (dataset: Dataset, split: Split) = {
    let generated = SyntheticGenerator.generate(
        SyntheticConfig(
            users: 48, categories: 4, itemsPerCategory: 10, eventsPerUser: 14...24, switches: .probability(0.05),
            popularityExponent: 0.5, sequentialProbability: 0.6, seed: 5)
    ).dataset
    var log = InteractionLog()
    var had = Set<Int64>()
    let all = generated.log
    for k in 0..<all.count where had.insert(Int64(all.users[k]) << 32 | Int64(all.items[k])).inserted {
        log.append(
            user: all.users[k], item: all.items[k], timestamp: all.timestamps[k], value: all.values[k],
            type: all.types[k])
    }
    let dataset = Dataset(
        users: generated.users, items: generated.items, log: log, itemInfo: generated.itemInfo,
        userInfo: generated.userInfo)
    return (dataset, Split.leaveOneOut(dataset))
}()

/// Small settings, so every model trains in a moment; `max-len` 8 makes the window matter.
private let smallOptions: [String: ModelCatalog.Options] = {
    let sequence: ModelCatalog.Options = ["epochs": "2", "dim": "8", "max-len": "8", "batch": "16"]
    var options: [String: ModelCatalog.Options] = [
        "bpr": ["epochs": "5", "factors": "8"], "ials": ["factors": "8", "iterations": "3"],
        "lightgcn": ["epochs": "3", "dim": "8", "batch": "64"],
        "lightgcn-kg": ["epochs": "3", "dim": "8", "batch": "64"],
        "sasrec-content": sequence.merging(["text-dim": "16"]) { $1 },
        "caser": ["epochs": "2", "dim": "8", "max-len": "3", "batch": "16", "train-len": "8"],
        "cfgan": ["epochs": "2", "generator-layers": "16", "discriminator-layers": "8", "generator-batch": "64"],
    ]
    for name in ["sasrec", "bert4rec", "gru4rec", "lstm", "blend", "stack", "cascade"] { options[name] = sequence }
    for name in ["fm", "deepfm", "widedeep", "dcnv2", "din", "star"] {
        options[name] = ["epochs": "3", "dim": "8", "history": "8"]
    }
    return options
}()

/// A store holding exactly the offline test state (train + validation) of every user, serving
/// `model`: the served list of a user must be the evaluator's ranking of the same state.
private func serviceServingTestState(_ model: ServableModel) async throws -> RecommendationService {
    let (dataset, split) = parityData
    let history = split.trainWithValidation
    let service = RecommendationService(store: InMemoryStore())
    try await service.store.upsert(items: dataset.itemInfo.compactMap { $0 })
    try await service.store.upsert(users: dataset.userInfo.compactMap { $0 })
    var events: [Event] = []
    for u in 0..<history.userCount {
        for (item, time) in zip(history.sequences.items(of: u), history.sequences.timestamps(of: u)) {
            events.append(
                Event(user: history.users.id(at: Int32(u)), item: history.items.id(at: item), timestamp: time))
        }
    }
    try await service.store.append(events)
    try await service.install(model)
    return service
}

@Suite("Served = evaluated")
struct ServingParityTests {
    /// For every registered model: the pipeline's top 10 for each test user is the evaluator's
    /// ranking of the same state (index, whole history, features), and the served HR@10 and
    /// NDCG@10 are the evaluator's (popularity has ties, which the evaluator counts against it).
    @Test(arguments: ModelCatalog.names)
    func theServedListIsTheEvaluatedRanking(_ name: String) async throws {
        try await expectServedListsAreTheEvaluatedRankings(name, precision: .float)
    }

    /// The same for the models that score at int8 (`serve --quantize int8`, `evaluate
    /// --precisions int8`): the served lists are the int8 model's evaluated rankings.
    @Test(arguments: ["sasrec", "bpr", "ials", "din", "cascade"])
    func theServedListIsTheEvaluatedRankingAtInt8(_ name: String) async throws {
        try await expectServedListsAreTheEvaluatedRankings(name, precision: .int8)
    }

    /// DIN from dimension 24 also takes its activation unit's per-pair products in int8 (on the
    /// request path, which serving and the evaluator share).
    @Test func dinsInt8PairProductsServeTheEvaluatedRanking() async throws {
        try await expectServedListsAreTheEvaluatedRankings(
            "din", precision: .int8, options: ["epochs": "2", "dim": "64", "history": "8"])
    }

    func expectServedListsAreTheEvaluatedRankings(
        _ name: String, precision: ScoringPrecision, options: ModelCatalog.Options? = nil
    ) async throws {
        let (dataset, split) = parityData
        let model = try ModelCatalog.make(name, options: options ?? smallOptions[name] ?? [:])
        try model.fit(split.train, validation: split.validation, progress: nil)
        if precision != .float {
            let switching = try #require(precisionSwitching(of: model), "\(name) has no int8 scoring")
            switching.setScoringPrecision(precision)
            #expect(switching.scoringPrecision == precision)
        }
        let servable = ServableModel(name: name, model: model, items: dataset.items, users: dataset.users)
        let service = try await serviceServingTestState(servable)
        let history = split.trainWithValidation
        // All users at once, as under load: the compute queue then runs computations side by
        // side, each on one kernel thread, and the lists must still be the evaluator's.
        let ids = split.test.users.map { history.users.id(at: $0) }
        let lists = try await withThrowingTaskGroup(of: (String, RecommendationList).self) { group in
            for id in ids {
                group.addTask {
                    (id, try await service.pipeline.recommend(.user(id), RecommendationRequest(count: 10)))
                }
            }
            return try await group.reduce(into: [String: RecommendationList]()) { $0[$1.0] = $1.1 }
        }
        var hits = 0.0, ndcg = 0.0
        for (user, targets) in zip(split.test.users, split.test.items) {
            let id = history.users.id(at: user)
            let served = try #require(lists[id])
            let state = UserState(user: user, in: history)
            let expected = TopK.select(10, from: model.scores(for: state), excluding: state.items)
            #expect(served.model == name)
            #expect(served.recommendations.map(\.item) == expected.map { history.items.id(at: $0) }, "user \(id)")
            let seen = Set(state.items.map { history.items.id(at: $0) })
            #expect(served.recommendations.allSatisfy { !seen.contains($0.item) })
            if let rank = served.recommendations.firstIndex(where: { $0.item == history.items.id(at: targets[0]) }) {
                hits += 1
                ndcg += 1 / log2(Double(rank) + 2)
            }
        }
        let offline = Evaluator.evaluate(model, history: history, heldOut: split.test, options: .init(ks: [10]))
        let users = Double(split.test.users.count)
        if name == "pop" || name == "segment-pop" {
            #expect(hits / users >= offline.metrics["HR@10"]! - 1e-9)
        } else {
            #expect(abs(hits / users - offline.metrics["HR@10"]!) < 1e-9)
            #expect(abs(ndcg / users - offline.metrics["NDCG@10"]!) < 1e-6)
        }
    }

    /// A served user is the trained user: a model saved with its user ids serves them by index.
    @Test func aSavedModelKeepsItsUserIDs() throws {
        let (dataset, split) = parityData
        let bpr = try ModelCatalog.make("bpr", options: smallOptions["bpr"]!)
        try bpr.fit(split.train, validation: nil, progress: nil)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parity-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let servable = ServableModel(name: "bpr", model: bpr, items: dataset.items, users: dataset.users)
        let saved = try RecommendationService.save(servable, under: directory)
        let loaded = try ServableModel.load(from: saved)
        #expect(loaded.users == dataset.users)
        let history = UserHistory([Event(user: "x", item: dataset.items.id(at: 3), timestamp: 1)])
        #expect(loaded.state(user: dataset.users.id(at: 7), history: history).user == 7)
        #expect(loaded.state(user: "someone-new", history: history).user == nil)
    }
}

@Suite("Feature models serve new users")
struct FeatureModelNewUserTests {
    /// Group `a` rates category-0 items 5 and the others 1, group `b` the reverse.
    static let data: Dataset = {
        var builder = DatasetBuilder()
        for i in 0..<20 { builder.add(Item(id: "i\(i)", categories: ["c\(i % 2)"])) }
        for u in 0..<80 {
            let group = u % 2 == 0 ? "a" : "b"
            builder.add(User(id: "u\(u)", attributes: ["group": group]))
            for i in 0..<20 where (u + i) % 3 != 0 {
                let likes = (group == "a") == (i % 2 == 0)
                builder.add(
                    Event(
                        user: "u\(u)", item: "i\(i)", type: .rating, value: likes ? 5 : 1, timestamp: Int64(u * 50 + i))
                )
            }
        }
        return builder.build()
    }()

    /// The pipeline hands a stored user's attributes to the active feature model when the
    /// user has no events, and the served list is that model's ranking of the same state.
    @Test func aUserWithAttributesAndNoEventsIsRankedByTheActiveFeatureModel() async throws {
        let model = try ModelCatalog.make("fm", options: ["epochs": "15", "dim": "8", "lr": "0.02", "min-count": "1"])
        try model.fit(Self.data, validation: nil, progress: nil)
        let service = RecommendationService(store: InMemoryStore())
        try await service.store.upsert(items: Self.data.itemInfo.compactMap { $0 })
        try await service.store.upsert(users: [User(id: "newcomer", attributes: ["group": "b"])])
        try await service.install(
            ServableModel(name: "fm", model: model, items: Self.data.items, users: Self.data.users))
        let served = try await service.pipeline.recommend(.user("newcomer"), RecommendationRequest(count: 10))
        #expect(served.model == "fm")
        let expected = TopK.select(
            10, from: model.scores(for: UserState(items: [], features: ["group": "b"])), excluding: [])
        #expect(served.recommendations.map(\.item) == expected.map { Self.data.items.id(at: $0) })
        let inCategory = served.recommendations.filter { Int($0.item.dropFirst())! % 2 == 1 }
        #expect(inCategory.count >= 9, "\(inCategory.count) of 10 in the group's category")
        // Asked for explanations, each item names the features that moved it; the user's group
        // raised the items of the group's category.
        var explained = RecommendationRequest(count: 10)
        explained.explain = true
        let reasons = try await service.pipeline.recommend(.user("newcomer"), explained).recommendations
        #expect(reasons.map(\.item) == served.recommendations.map(\.item))
        for recommendation in reasons where Int(recommendation.item.dropFirst())! % 2 == 1 {
            let features = try #require(recommendation.features)
            let group = try #require(features.first { $0.field == "user.group" }, "\(features)")
            #expect(group.value == "b" && group.weight > 0)
        }
        // The newcomer's scores are cached under their attributes, and new attributes (even
        // without the PUT handler's eviction) are scored afresh.
        let active = try #require(service.pipeline.active.current)
        let key = ScoreVersion(history: nil, attributes: ["group": "b"])
        #expect(
            service.pipeline.scoreCache.scores(user: "newcomer", model: active, version: key)
                == model.scores(for: UserState(items: [], features: ["group": "b"])))
        try await service.store.upsert(users: [User(id: "newcomer", attributes: ["group": "a"])])
        let moved = try await service.pipeline.recommend(.user("newcomer"), RecommendationRequest(count: 10))
        let expectedMoved = TopK.select(
            10, from: model.scores(for: UserState(items: [], features: ["group": "a"])), excluding: [])
        #expect(moved.recommendations.map(\.item) == expectedMoved.map { Self.data.items.id(at: $0) })
        #expect(moved.recommendations.map(\.item) != served.recommendations.map(\.item))
    }
}
