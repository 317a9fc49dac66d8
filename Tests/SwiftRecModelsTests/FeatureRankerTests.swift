import Foundation
import SwiftRecData
import SwiftRecEvaluation
import SwiftRecTensor
import Testing

@testable import SwiftRecModels

/// Ratings driven by features: users of group `a` rate category-0 items 5 and the others 1,
/// group `b` the reverse; 10 % of ratings are flipped. Each user rates 20 of 30 items, and
/// their two most recent ratings are of the items just before the current one in a cycle, so
/// the order carries a little too.
let ratedFeatureData: Dataset = {
    var builder = DatasetBuilder()
    var generator = SplitMix64(seed: 7)
    for i in 0..<30 {
        builder.add(Item(id: "i\(i)", categories: ["c\(i % 2)"], attributes: ["decade": "d\(i % 3)"]))
    }
    for u in 0..<160 {
        let group = u % 2 == 0 ? "a" : "b"
        builder.add(User(id: "u\(u)", attributes: ["group": group, "team": group == "a" ? "red" : "blue"]))
        var items = Array(0..<30)
        generator.shuffle(&items)
        for (k, i) in items.prefix(20).enumerated() {
            let likes = (group == "a") == (i % 2 == 0)
            let flipped = generator.nextDouble() < 0.1
            builder.add(
                Event(
                    user: "u\(u)", item: "i\(i)", type: .rating, value: likes != flipped ? 5 : 1,
                    timestamp: Int64(u * 100 + k)))
        }
    }
    return builder.build()
}()

@Suite("Feature rankers")
struct FeatureRankerTests {
    static let fast: ModelCatalog.Options = [
        "epochs": 12, "batch-size": 128, "lr": 0.01, "dim": 8, "min-count": 1, "history": 10,
    ]

    @Test func aucGaucAndLogLossMatchHandComputedValues() throws {
        // Pairs (positive, negative) ordered right: (0.35 > 0.1), (0.35 < 0.4), (0.8 > both) → 3/4.
        let auc = try #require(BinaryClassification.auc(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1]))
        #expect(abs(auc - 0.75) < 1e-12)
        // Ties count half.
        #expect(BinaryClassification.auc(scores: [1, 1], labels: [0, 1]) == 0.5)
        #expect(BinaryClassification.auc(scores: [1, 2], labels: [1, 1]) == nil)
        // User 1: AUC 1 over 2 examples; user 2: AUC 0 over 2; user 3 has one class and is skipped.
        let gauc = BinaryClassification.groupAUC(
            users: [1, 1, 2, 2, 3], scores: [0.9, 0.1, 0.1, 0.9, 0.5], labels: [1, 0, 1, 0, 1])
        #expect(gauc == 0.5)
        let loss = try #require(BinaryClassification.logLoss(probabilities: [0.5, 0.9], labels: [1, 0]))
        // The probabilities are Float, so 0.9 is 0.9 to about 1e-7.
        #expect(abs(loss - (log(2) + -log(0.1)) / 2) < 1e-6)
    }

    /// Xavier-normal per table, as RecBole starts its embeddings: the same draws as `fixed`,
    /// each row rescaled to its table's law; the categories' few rows start far wider.
    @Test func xavierEmbeddingsRescaleEachTableToItsOwnLaw() throws {
        let space = FeatureSpace(dataset: ratedFeatureData, selection: .init(minCount: 1))
        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
        let fixed = FieldEmbeddings(space: space, dim: 8, std: 0.01, generator: &g1)
        let xavier = FieldEmbeddings(space: space, dim: 8, std: 0.01, initialization: .xavier, generator: &g2)
        let categories = try #require(space.fields.first { $0.source == .itemCategories })
        let categoryRows = categories.offset..<(categories.offset + categories.size)
        let singleRows = Float(space.paddingRow - categoryRows.count)
        for (a, b, width) in [(fixed.vectors, xavier.vectors, 8), (fixed.weights, xavier.weights, 1)] {
            let before = a.weight.value.scalars, after = b.weight.value.scalars
            for row in [0, categories.offset - 1, categories.offset, space.paddingRow] {
                let law = categoryRows.contains(row) ? Float(categoryRows.count) : singleRows
                let scale = row == space.paddingRow ? 1 : (2 / (law + Float(width))).squareRoot() / 0.01
                for j in 0..<width {
                    let expected = before[row * width + j] * scale
                    #expect(abs(after[row * width + j] - expected) <= 1e-6 * max(1, abs(expected)), "row \(row)")
                }
            }
        }
        #expect(xavier.vectors.weight.value.scalars.suffix(8).allSatisfy { $0 == 0 }, "the padding row stays zero")
    }

    @Test func theFeatureSpaceReadsEachAttributeOnceAndKnowsUnknownValues() throws {
        let space = FeatureSpace(dataset: ratedFeatureData, selection: .init(minCount: 1))
        // `team` is one-to-one with `group`, so only `group` is read.
        #expect(space.fields.map(\.name) == ["user", "user.group", "item", "item.decade", "item.categories"])
        #expect(space.fieldCount == 5)
        #expect(space.categoryWidth == 1)
        let encoder = FeatureSpace.Encoder(space: space, items: ratedFeatureData.itemInfo)
        let group = space.fields[1]
        // A new user: the id reads as unknown (the field's first row), the group by its value.
        let rows = encoder.userRows(user: nil, features: ["group": "b"])
        #expect(rows[0] == Int32(space.fields[0].offset))
        #expect(rows[1] == Int32(group.offset + 1 + group.vocabulary.firstIndex(of: "b")!))
        #expect(encoder.userRows(user: 3, features: ["group": "zzz"])[1] == Int32(group.offset))
        // Selecting keys reads exactly those.
        let chosen = FeatureSpace(
            dataset: ratedFeatureData, selection: .init(userAttributes: ["team"], itemAttributes: ["categories"]))
        #expect(chosen.fields.map(\.name) == ["user", "user.team", "item", "item.categories"])
    }

    @Test(arguments: ["fm", "deepfm", "widedeep", "dcnv2", "din", "star"])
    func eachModelLearnsTheFeatureRuleBeatsPopularityAndRoundTrips(name: String) throws {
        let experiment = CTRExperiment(dataset: ratedFeatureData, seed: 3)
        let model = try ModelCatalog.make(name, options: Self.fast)
        let report = try experiment.run(model)
        let popularity = try experiment.run(try ModelCatalog.make("pop"))
        let auc = try #require(report.test["AUC"]), popAUC = try #require(popularity.test["AUC"])
        #expect(auc > 0.8, "\(name): test AUC \(auc)")
        #expect(auc > popAUC + 0.2, "\(name): AUC \(auc) vs popularity's \(popAUC)")
        #expect(report.test["GAUC"] != nil && report.test["LogLoss"]! < 0.6)
        #expect(report.epochSeconds.count >= 1)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("feature-\(name)-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        try model.save(to: directory)
        let loaded = try ModelCatalog.load(from: directory)
        #expect(loaded.name == name)
        for u in [Int32(0), 1, 57] {
            let state = UserState(user: u, in: experiment.train)
            #expect(loaded.scores(for: state) == model.scores(for: state))
        }
    }

    /// DIN with PReLU in its activation unit (the paper's) learns the rule too, keeps its
    /// learned slopes through save and load, and scores the same after.
    @Test func dinWithPReLULearnsTheFeatureRuleAndRoundTrips() throws {
        let experiment = CTRExperiment(dataset: ratedFeatureData, seed: 3)
        var options = Self.fast
        options["attention-activation"] = "prelu"
        let model = try #require(try ModelCatalog.make("din", options: options) as? DIN)
        let auc = try #require(try experiment.run(model).test["AUC"])
        #expect(auc > 0.8, "din with PReLU: test AUC \(auc)")
        let slopes = try #require(model.network?.activationUnit.slopes.map(\.slope.value.scalars))
        #expect(slopes.count == 2 && slopes.contains { $0.contains { $0 != 0.25 } }, "the slopes were trained")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("din-prelu-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        try model.save(to: directory)
        let loaded = try #require(try ModelCatalog.load(from: directory) as? DIN)
        #expect(loaded.network?.activationUnit.slopes.map(\.slope.value.scalars) == slopes)
        for u in [Int32(0), 1, 57] {
            let state = UserState(user: u, in: experiment.train)
            #expect(loaded.scores(for: state) == model.scores(for: state))
        }
    }

    /// STAR's dropout (off by default) still learns the rule, and scoring is deterministic.
    @Test func starWithDropoutLearnsTheFeatureRule() throws {
        let experiment = CTRExperiment(dataset: ratedFeatureData, seed: 3)
        var options = Self.fast
        options["dropout"] = 0.2
        options["input-dropout"] = true
        let model = try ModelCatalog.make("star", options: options)
        let auc = try #require(try experiment.run(model).test["AUC"])
        #expect(auc > 0.8, "star with dropout: test AUC \(auc)")
        let state = UserState(user: 0, in: experiment.train)
        #expect(model.scores(for: state) == model.scores(for: state))
    }

    @Test func aNewUserWithAttributesIsRankedByThem() throws {
        let model = try ModelCatalog.make("deepfm", options: Self.fast)
        try model.fit(ratedFeatureData, validation: nil, progress: nil)
        for (group, liked) in [("a", 0), ("b", 1)] {
            let scores = model.scores(for: UserState(items: [], features: ["group": group]))
            let top = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(10)
            let matching = top.filter { Int(ratedFeatureData.items.id(at: Int32($0)).dropFirst())! % 2 == liked }
            #expect(matching.count >= 9, "group \(group): \(matching.count) of the top 10 in its category")
        }
    }

    @Test func implicitDataTrainsWithSampledNegatives() throws {
        // The same users and items, every rating an interaction with no value: the model must
        // tell a user's items from random ones.
        var builder = DatasetBuilder()
        let log = ratedFeatureData.log
        for k in 0..<log.count where log.values[k] >= 4 {
            builder.add(
                Event(
                    user: ratedFeatureData.users.id(at: log.users[k]),
                    item: ratedFeatureData.items.id(at: log.items[k]),
                    timestamp: log.timestamps[k]))
        }
        for user in ratedFeatureData.userInfo.compactMap({ $0 }) { builder.add(user) }
        for item in ratedFeatureData.itemInfo.compactMap({ $0 }) { builder.add(item) }
        let experiment = CTRExperiment(dataset: builder.build(), seed: 5)
        #expect(experiment.name.contains("sampled negative"))
        let report = try experiment.run(try ModelCatalog.make("fm", options: Self.fast))
        #expect(try #require(report.test["AUC"]) > 0.75)
    }

    @Test func aCascadeRanksTheRetrieversCandidatesWithTheFeatureModel() throws {
        // Popularity retrieves 10 of 30 items; DeepFM, given its own epochs by a scoped key, orders them.
        var options = Self.fast
        options["members"] = "pop,deepfm"
        options["candidates"] = 10
        options["deepfm.epochs"] = 3
        let cascade = try #require(try ModelCatalog.make("cascade", options: options) as? FusionRecommender)
        let ranker = try #require(cascade.members[1] as? DeepFM)
        #expect(ranker.options.epochs == 3)
        try cascade.fit(ratedFeatureData, validation: nil, progress: nil)
        #expect(cascade.weights == [0.5], "without validation the two stages mix evenly")
        let state = UserState(user: 0, in: ratedFeatureData)
        let retrieved = TopK.select(10, from: cascade.members[0].scores(for: state), excluding: state.items)
        let byRanker = retrieved.sorted { ranker.logits(state, items: [$0])[0] > ranker.logits(state, items: [$1])[0] }
        let rankerAlone = try FusionRecommender(kind: .cascade, members: cascade.members, weights: [0], candidates: 10)
        #expect(TopK.select(10, from: rankerAlone.scores(for: state), excluding: state.items) == byRanker)
        #expect(Set(TopK.select(10, from: cascade.scores(for: state), excluding: state.items)) == Set(retrieved))
        let byRetriever = try FusionRecommender(kind: .cascade, members: cascade.members, weights: [1], candidates: 10)
        #expect(TopK.select(10, from: byRetriever.scores(for: state), excluding: state.items) == retrieved)
        #expect(throws: ModelError.self) {
            try FusionRecommender(kind: .cascade, members: cascade.members, weights: [0.5, 0.5], candidates: 10)
        }
        #expect(throws: ModelError.self) { try ModelCatalog.make("cascade", options: ["deepfm.nope": 1]) }
        #expect(throws: ModelError.self) {
            try ModelCatalog.make("cascade", options: ["members": "pop,deepfm", "ease.lambda": 1])
        }
        #expect(ModelCatalog.isScopedKey("din.epochs", for: ["cascade"]))
        #expect(!ModelCatalog.isScopedKey("din.epochs", for: ["sasrec"]))
        #expect(!ModelCatalog.isScopedKey("din.nope", for: ["din"]))
    }

    @Test func explanationsNameTheFeaturesAndHistoryItemsThatMovedAScore() throws {
        let model = try #require(try ModelCatalog.make("din", options: Self.fast) as? DIN)
        try model.fit(ratedFeatureData, validation: nil, progress: nil)
        let fieldNames = Set(try #require(model.encoder).space.fields.map(\.name))
        // A new user of group a: the group raises category-0 items and lowers category-1 ones.
        let newcomer = UserState(items: [], features: ["group": "a"])
        let items: [Int32] = [0, 1, 2, 3]
        for (item, fields) in zip(items, try #require(model.explainFeatures(items, for: newcomer, top: 20))) {
            #expect(Set(fields.map(\.field)).isSubset(of: fieldNames))
            #expect(abs(fields.reduce(0) { $0 + abs($1.weight) } - 1) < 1e-4)
            let group = try #require(fields.first { $0.field == "user.group" })
            #expect(group.value == "a")
            let liked = Int(ratedFeatureData.items.id(at: item).dropFirst())! % 2 == 0
            #expect(liked ? group.weight > 0 : group.weight < 0, "item \(item): \(fields)")
            let categories = try #require(fields.first { $0.field == "item.categories" })
            #expect(categories.value == (liked ? "c0" : "c1"))
        }
        // DIN's history part: the activation unit's weights over the user's own items.
        let state = UserState(user: 3, in: ratedFeatureData)
        let reasons = model.explain(items, for: state, top: 100)
        for list in reasons {
            #expect(list.count == min(state.items.count, 10), "the last `history` (10) items")
            #expect(abs(list.reduce(0) { $0 + abs($1.weight) } - 1) < 1e-4)
            for reason in list { #expect(state.items[reason.position] == reason.item) }
            #expect(zip(list, list.dropFirst()).allSatisfy { abs($0.weight) >= abs($1.weight) })
        }
    }

    /// In a cascade the ranker may learn from negatives among the retriever's candidates: in
    /// their share, always outside the user's items, and uniform runs unchanged without pools.
    @Test func negativesComeFromTheRetrieversCandidatesInTheirShare() throws {
        let data = ratedFeatureData
        let positives = DIN.positives(data)
        let uniform = DIN.withNegatives(positives, data, 1, seed: 4)
        let none = RetrievedCandidates(lists: [])
        #expect(DIN.withNegatives(positives, data, 1, seed: 4, candidates: (none, 0.7)) == uniform)
        let everyone = RetrievedCandidates(lists: (0..<data.userCount).map { _ in [Int32(0)] })
        #expect(DIN.withNegatives(positives, data, 1, seed: 4, candidates: (everyone, 0)) == uniform)
        // Each user's pool: the first 2 of the 10 items they do not have.
        let seen = (0..<data.userCount).map { Set(data.sequences.items(of: $0)) }
        let pools = seen.map { own in Array((0..<Int32(30)).filter { !own.contains($0) }.prefix(2)) }
        let retrieved = RetrievedCandidates(lists: pools)
        func poolShare(_ pairs: LabeledPairs) -> Double {
            let negatives = pairs.labels.indices.filter { pairs.labels[$0] == 0 }
            for k in negatives { #expect(!seen[Int(pairs.users[k])].contains(pairs.items[k])) }
            let inPool = negatives.filter { pools[Int(pairs.users[$0])].contains(pairs.items[$0]) }
            return Double(inPool.count) / Double(negatives.count)
        }
        #expect(poolShare(DIN.withNegatives(positives, data, 1, seed: 4, candidates: (retrieved, 1))) == 1)
        // Half from the pool, half uniform over 10 items of which 2 are the pool's: 0.6 expected.
        let half = poolShare(DIN.withNegatives(positives, data, 1, seed: 4, candidates: (retrieved, 0.5)))
        #expect(half > 0.55 && half < 0.65, "\(half)")
        #expect(abs(poolShare(uniform) - 0.2) < 0.05)

        // Validation negatives follow the same share, and never take a held-out positive's place.
        var held = LabeledPairs()
        for u in Int32(0)..<20 {
            held.append(user: u, item: pools[Int(u)][0], label: 1, timestamp: 0)
            held.append(user: u, item: 29, label: 0, timestamp: 0)
        }
        let replaced = DIN.replacingNegatives(held, pools: retrieved, share: 1, seed: 2)
        var fromPool = 0
        for k in stride(from: 1, to: replaced.count, by: 2) {
            // A draw of the held-out positive keeps the uniform negative.
            let user = Int(replaced.users[k])
            #expect([pools[user][1], 29].contains(replaced.items[k]))
            if replaced.items[k] == pools[user][1] { fromPool += 1 }
        }
        #expect(fromPool >= 5, "about half of 20 draws hit the pool's other item: \(fromPool)")
        #expect(DIN.replacingNegatives(held, pools: retrieved, share: 0, seed: 2) == held)

        // A cascade hands its ranker (sampling negatives: implicit labels) the retriever's top
        // lists for training, then drops them; the ranker then differs from one drawn uniformly.
        var options = Self.fast
        options["members"] = "pop,din"
        options["candidates"] = 5
        options["din.epochs"] = 2
        options["din.labels"] = "implicit"
        func fitted(share: Double) throws -> (FusionRecommender, [String]) {
            options["din.candidate-negatives"] = .number(share)
            let cascade = try #require(try ModelCatalog.make("cascade", options: options) as? FusionRecommender)
            let log = UpdateLog()
            let validation = HeldOut(users: [0, 1, 2], items: [[pools[0][0]], [pools[1][0]], [pools[2][0]]])
            try cascade.fit(data, validation: validation, progress: { log.add($0) })
            return (cascade, log.messages)
        }
        let (cascade, messages) = try fitted(share: 1)
        #expect(messages.contains { $0.hasPrefix("cascade: din draws 100 % of its negatives from pop's top 5") })
        let (uniformCascade, uniformMessages) = try fitted(share: 0)
        #expect(!uniformMessages.contains { $0.hasPrefix("cascade: din draws") })
        let state = UserState(user: 0, in: data)
        #expect(cascade.members[1].scores(for: state) != uniformCascade.members[1].scores(for: state))
        // Retrieved after every 10 of a user's 20 events: each list outside the events read then.
        let lists = cascade.retrieverCandidates(data)
        #expect(lists.checkpoints.count == data.userCount)
        for (u, points) in lists.checkpoints.enumerated() {
            let events = Array(data.sequences.items(of: u))
            #expect(points.map(\.events) == [10, 20])
            for point in points {
                let read = Set(events.prefix(point.events))
                #expect(point.items.count == 5 && point.items.allSatisfy { !read.contains($0) })
            }
            #expect(lists.latest(user: Int32(u)) == points[1].items)
        }
        // A log of millions of events is retrieved from less often: at most 100,000 lists before the ends.
        #expect(FusionRecommender.retrievalInterval(events: 3_200) == 10)
        #expect(FusionRecommender.retrievalInterval(events: 25_000_000) == 250)
        let ranker = try #require(cascade.members[1] as? DIN)
        #expect(ranker.candidateNegativeShare(on: data) == 1 && ranker.negativeCandidates == nil)
        var rated = DINConfig()
        rated.training.candidateNegatives = 1
        #expect(try DIN(config: rated).candidateNegativeShare(on: data) == 0, "rated labels sample no negatives")
        #expect(throws: ModelError.self) { try ModelCatalog.make("din", options: ["candidate-negatives": 1.5]) }
    }

    /// An example's negatives come from the newest list retrieved before its time: what the
    /// retriever would have proposed then, never what it proposes after later events.
    @Test func negativesComeFromTheListRetrievedBeforeTheExample() throws {
        let data = ratedFeatureData
        let positives = DIN.positives(data)
        let seen = (0..<data.userCount).map { Set(data.sequences.items(of: $0)) }
        // Two lists per user, one item each, none of the user's: after 0 events and after 10.
        let unseen = seen.map { own in Array((0..<Int32(30)).filter { !own.contains($0) }.prefix(2)) }
        let retrieved = RetrievedCandidates(
            checkpoints: unseen.map { [.init(events: 0, items: [$0[0]]), .init(events: 10, items: [$0[1]])] })
        #expect(retrieved.items(user: 0, after: 9) == [unseen[0][0]])
        #expect(retrieved.items(user: 0, after: 10) == [unseen[0][1]])
        #expect(retrieved.latest(user: 0) == [unseen[0][1]])
        #expect(retrieved.items(user: -1, after: 3).isEmpty && retrieved.items(user: 999, after: 3).isEmpty)
        #expect(RetrievedCandidates(checkpoints: [[.init(events: 5, items: [1])]]).items(user: 0, after: 4).isEmpty)
        let pairs = DIN.withNegatives(positives, data, 1, seed: 4, candidates: (retrieved, 1))
        var early = 0, late = 0
        for k in pairs.labels.indices where pairs.labels[k] == 0 {
            let user = pairs.users[k]
            let before = DIN.historyEnd(data, user: user, before: pairs.timestamps[k])
            #expect(pairs.items[k] == unseen[Int(user)][before < 10 ? 0 : 1])
            if before < 10 { early += 1 } else { late += 1 }
        }
        #expect(early == 10 * data.userCount && late == 10 * data.userCount)
    }

    /// DIN's request path (first layer split by input block, padding skipped) gives the logits
    /// of the batch path: for a user with a full history, one with a short one, and a new user,
    /// with either activation in the activation unit.
    @Test(arguments: DINAttentionActivation.allCases)
    func dinsRequestPathEqualsItsBatchPath(activation: DINAttentionActivation) throws {
        var options = Self.fast
        options["epochs"] = 3
        options["attention-activation"] = .string(activation.rawValue)
        let model = try #require(try ModelCatalog.make("din", options: options) as? DIN)
        try model.fit(ratedFeatureData, validation: nil, progress: nil)
        let network = try #require(model.network), encoder = try #require(model.encoder)
        let items = (0..<Int32(30)).map { $0 }
        let states = [
            UserState(user: 3, in: ratedFeatureData),
            UserState(user: 8, items: [4, 9, 2], features: ["group": "b"]),
            UserState(items: [], features: ["group": "a"]),
        ]
        func expectRequestPathEqualsBatchPath(_ context: String) throws {
            for state in states {
                let batch = model.batch(for: state, items: items, network: network, encoder: encoder)
                let reference = withNoGrad { network.logits(batch, encoder: encoder).value.scalars }
                let fast = try #require(network.oneUserLogits(batch, encoder: encoder))
                #expect(fast.count == reference.count)
                let largest = zip(fast, reference).map { abs($0 - $1) }.max() ?? 0
                #expect(largest < 1e-4, "\(context), history of \(state.items.count): largest difference \(largest)")
                #expect(model.logits(state, items: items) == fast, "scoring takes the request path")
            }
        }
        try expectRequestPathEqualsBatchPath("every item's share kept")
        network.itemCacheFloats = 0
        try expectRequestPathEqualsBatchPath("the requested items' shares computed each time")
        network.itemCacheFloats = DINNetwork.ItemSide.maximumFloats
        // Weights that change (between setting training on and off, as an epoch does) drop the
        // kept shares: the request path follows the new weights.
        network.setTraining(true)
        network.top.layers[0].weight.value = network.top.layers[0].weight.value * Tensor(scalar: -2)
        network.embeddings.weights.weight.value = network.embeddings.weights.weight.value * Tensor(scalar: 3)
        network.setTraining(false)
        try expectRequestPathEqualsBatchPath("after the weights changed")
        // A batch shares its states out to the threads; each row is that state's own scores.
        let many = (0..<9).map { states[$0 % states.count] }, n = model.itemCount
        var rows = [Float](repeating: .nan, count: many.count * n)
        Threading.withThreadCount(2) { rows.withUnsafeMutableBufferPointer { model.scoreBatch(many, into: $0) } }
        for (k, state) in many.enumerated() {
            #expect(Array(rows[(k * n)..<((k + 1) * n)]) == model.scores(for: state), "state \(k)")
        }
        network.setTraining(true)
        defer { network.setTraining(false) }
        let batch = model.batch(for: states[0], items: items, network: network, encoder: encoder)
        #expect(network.oneUserLogits(batch, encoder: encoder) == nil, "training uses the batch path")
    }

    /// In scenario x, red-team users like category 0 and blue-team ones category 1; in y the
    /// reverse. The scenario is not a field, so only STAR's per-scenario weights can tell them
    /// apart, and the request's scenario decides for a new user.
    @Test func starLearnsWhatDiffersBetweenScenariosAndServesTheRequestedOne() throws {
        var builder = DatasetBuilder()
        var generator = SplitMix64(seed: 11)
        for i in 0..<30 { builder.add(Item(id: "i\(i)", categories: ["c\(i % 2)"])) }
        for u in 0..<240 {
            let scenario = u % 2 == 0 ? "x" : "y", team = (u / 2) % 2 == 0 ? "red" : "blue"
            builder.add(User(id: "u\(u)", attributes: ["place": scenario, "team": team]))
            var items = Array(0..<30)
            generator.shuffle(&items)
            for (k, i) in items.prefix(16).enumerated() {
                let likesZero = (team == "red") == (scenario == "x")
                let likes = likesZero == (i % 2 == 0)
                builder.add(
                    Event(
                        user: "u\(u)", item: "i\(i)", type: .rating, value: likes ? 5 : 1,
                        timestamp: Int64(u * 100 + k)))
            }
        }
        let data = builder.build()
        var options = Self.fast
        options["epochs"] = 20
        options["scenario-attribute"] = "place"
        options["scenario-groups"] = "x,y"
        options["user-features"] = "team"
        let star = try #require(try ModelCatalog.make("star", options: options) as? STAR)
        try star.fit(data, validation: nil, progress: nil)
        #expect(star.network?.scenarios.names.sorted() == ["x", "y"])
        for (scenario, liked) in [("x", 0), ("y", 1)] {
            let state = UserState(items: [], features: ["team": "red"], scenario: scenario)
            let top = TopK.select(10, from: star.scores(for: state), excluding: [])
            let matching = top.filter { Int(data.items.id(at: $0).dropFirst())! % 2 == liked }
            #expect(matching.count >= 9, "scenario \(scenario): \(matching.count) of the top 10 in category \(liked)")
        }
        // Without a requested scenario the user's attribute names it.
        #expect(
            star.scores(for: UserState(items: [], features: ["team": "red", "place": "y"]))
                == star.scores(for: UserState(items: [], features: ["team": "red"], scenario: "y")))
    }

    /// The same users act in two places: in x red-team users like category 0 and blue ones
    /// category 1, in y the reverse. Only the events say where they happened (no attribute
    /// does), so STAR must take each training example's scenario from its event; the CTR
    /// evaluator gives each test pair its event's scenario as serving gives a request's.
    @Test func starLearnsScenariosFromEventsAndIsEvaluatedAsServed() throws {
        var builder = DatasetBuilder()
        var generator = SplitMix64(seed: 12)
        for i in 0..<30 { builder.add(Item(id: "i\(i)", categories: ["c\(i % 2)"])) }
        for u in 0..<200 {
            let team = u % 2 == 0 ? "red" : "blue"
            builder.add(User(id: "u\(u)", attributes: ["team": team]))
            for (s, scenario) in ["x", "y"].enumerated() {
                var items = Array(0..<30)
                generator.shuffle(&items)
                for (k, i) in items.prefix(10).enumerated() {
                    let likes = ((team == "red") == (scenario == "x")) == (i % 2 == 0)
                    builder.add(
                        Event(
                            user: "u\(u)", item: "i\(i)", type: .rating, value: likes ? 5 : 1,
                            timestamp: Int64(u * 100 + s * 50 + k), scenario: scenario))
                }
            }
        }
        let data = builder.build()
        var options = Self.fast
        options["epochs"] = 20
        options["user-features"] = "team"
        let experiment = CTRExperiment(dataset: data, seed: 3)
        let star = try #require(try ModelCatalog.make("star", options: options) as? STAR)
        let starAUC = try #require(try experiment.run(star).test["AUC"])
        #expect(star.network?.scenarios.names.sorted() == ["x", "y"], "the events' scenarios, no attribute needed")
        let blind = try ModelCatalog.make("deepfm", options: options)
        let blindAUC = try #require(try experiment.run(blind).test["AUC"])
        #expect(starAUC > 0.9, "star test AUC \(starAUC)")
        #expect(blindAUC < 0.7, "a model without scenarios cannot tell them apart: AUC \(blindAUC)")
        for (scenario, liked) in [("x", 0), ("y", 1)] {
            let state = UserState(items: [], features: ["team": "red"], scenario: scenario)
            let top = TopK.select(10, from: star.scores(for: state), excluding: [])
            let matching = top.filter { Int(data.items.id(at: $0).dropFirst())! % 2 == liked }
            #expect(matching.count >= 9, "scenario \(scenario): \(matching.count) of the top 10 in category \(liked)")
        }
        // Served one request per test pair, each naming its event's scenario: the evaluator's AUC.
        let test = experiment.test
        let served = (0..<test.count).map { k in
            let user = test.users[k]
            let state = UserState(
                user: user, items: [], features: data.userInfo[Int(user)]?.attributes ?? [:],
                scenario: data.scenarioName(test.scenarios[k]))
            return star.scores(for: state)[Int(test.items[k])]
        }
        #expect(test.scenarios.allSatisfy { $0 != InteractionLog.noScenario })
        #expect(BinaryClassification.auc(scores: served, labels: test.labels) == starAUC)
    }

    @Test func optionsOutsideTheirRangesAreRefusedByName() {
        #expect(throws: ModelError.self) { try ModelCatalog.make("deepfm", options: ["layers": "0"]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("din", options: ["history": 5000]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("dcnv2", options: ["cross-layers": 0]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("fm", options: ["labels": "maybe"]) }
    }
}

extension RetrievedCandidates {
    /// One list per user, used for every example of that user.
    fileprivate init(lists: [[Int32]]) { self.init(checkpoints: lists.map { [Checkpoint(events: 0, items: $0)] }) }
}
