import Foundation
import SwiftRecData
import SwiftRecTensor
import Testing

@testable import SwiftRecEvaluation
@testable import SwiftRecModels

/// The sequence data with a fifth of the items never seen in training.
private enum ColdData {
    static let (split, cold) = Split.leaveOneOutWithColdItems(SequenceData.generated.dataset, fraction: 0.2, seed: 3)

    static func ndcg(_ model: any Recommender, cold wanted: Bool) -> Double {
        var part = HeldOut()
        for (user, items) in zip(split.test.users, split.test.items) where cold[Int(items[0])] == wanted {
            part.users.append(user)
            part.items.append(items)
        }
        return Evaluator.evaluate(model, history: split.trainWithValidation, heldOut: part, options: .init(ks: [10]))
            .metrics["NDCG@10"]!
    }

    /// Copies (new ids, same text) of a few items without training events.
    static var copiesOfColdItems: (originals: [Int], copies: [Item]) {
        let originals = Array(cold.indices.filter { cold[$0] }.prefix(3))
        let copies = originals.map { i in
            let item = split.train.itemInfo[i]!
            return Item(
                id: "new-\(i)", title: item.title, description: item.description, categories: item.categories,
                attributes: item.attributes)
        }
        return (originals, copies)
    }

    /// Extending `model` with copies of cold items keeps every old score and scores each copy
    /// as its original: a new item is scored exactly as an item that never had events.
    static func checkExtension(_ model: any Recommender) throws {
        let (originals, copies) = copiesOfColdItems
        let extended = try #require(model as? any CatalogueExtending).extended(with: copies)
        let (n, m) = (model.itemCount, extended.itemCount)
        #expect(m == n + copies.count)
        let before = SequenceData.sampleScores(model), after = SequenceData.sampleScores(extended)
        func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 1e-4 * max(1, abs(a)) }
        for row in 0..<(before.count / n) {
            #expect((0..<n).allSatisfy { close(after[row * m + $0], before[row * n + $0]) }, "row \(row): old items")
            for (k, original) in originals.enumerated() {
                #expect(close(after[row * m + n + k], after[row * m + original]), "row \(row): copy of \(original)")
            }
        }
    }

    /// Embedding a cold item again with another cold item's text scores it as that item and
    /// leaves every other score as it was.
    static func checkReembedding(_ model: any Recommender) throws {
        let (originals, copies) = copiesOfColdItems
        let (changed, source) = (originals[0], originals[1])
        let updated = try #require(model as? any CatalogueExtending).reembedded([changed: copies[1]])
        let n = model.itemCount
        #expect(updated.itemCount == n)
        let before = SequenceData.sampleScores(model), after = SequenceData.sampleScores(updated)
        func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 1e-4 * max(1, abs(a)) }
        for row in 0..<(before.count / n) {
            #expect(close(after[row * n + changed], before[row * n + source]), "row \(row): the changed item")
            #expect(
                (0..<n).allSatisfy { $0 == changed || close(after[row * n + $0], before[row * n + $0]) },
                "row \(row): the other items")
        }
    }
}

@Suite("Content models and cold items")
struct ContentModelTests {
    @Test func keywordTermsHandleAccentsAndUnspacedScripts() {
        let terms = KeywordTokenizer().terms("Café-Crème, 2 NAÏVE cats! 数字万用表")
        #expect(Array(terms.prefix(5)) == ["cafe", "creme", "2", "naive", "cats"])
        #expect(terms.contains("数") && terms.contains("数字") && terms.contains("用表") && !terms.contains("数字万"))
    }

    @Test(arguments: TermWeighting.allCases)
    func keywordVectorsAreUnitLengthAndFindTheirOwnText(_ weighting: TermWeighting) {
        let documents = [
            "red apple pie", "green apple", "a story about a red fox", "数字万用表 自动量程", "", "apple apple apple",
        ]
        let vectors = KeywordVectors(documents: documents, weighting: weighting)
        for d in documents.indices where !documents[d].isEmpty {
            let (_, weights) = vectors.vector(of: d)
            #expect(abs(weights.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
            let query = vectors.vector(for: documents[d])
            var scores = [Float](repeating: 0, count: documents.count)
            scores.withUnsafeMutableBufferPointer { vectors.accumulate(query, into: $0) }
            #expect(scores.indices.max { scores[$0] < scores[$1] } == d, "\(documents[d]): \(scores)")
            #expect(abs(scores[d] - 1) < 1e-4)
        }
        #expect(vectors.vector(of: 4).terms.isEmpty)
        #expect(vectors.vector(for: "nothing known here").isEmpty)
    }

    @Test func coldItemSplitKeepsColdItemsOutOfTraining() {
        let split = ColdData.split, cold = ColdData.cold
        #expect(cold.filter { $0 }.count == Int((Double(cold.count) * 0.2).rounded()))
        #expect(!split.train.log.items.contains { cold[Int($0)] })
        #expect(!split.trainWithValidation.log.items.contains { cold[Int($0)] })
        #expect(split.validation.items.allSatisfy { !cold[Int($0[0])] })
        let coldTargets = split.test.items.filter { cold[Int($0[0])] }.count
        #expect(coldTargets > 10 && coldTargets < split.test.users.count)
    }

    @Test func coldItemsStayOutOfTrainingForUsersTooShortToHoldOut() {
        // Every user has two events: none is held out, so no cold event may remain at all.
        var builder = DatasetBuilder()
        for u in 0..<50 {
            for k in 0..<2 { builder.add(Event(user: "u\(u)", item: "i\((u + k) % 20)", timestamp: Int64(k))) }
        }
        let (split, cold) = Split.leaveOneOutWithColdItems(builder.build(), fraction: 0.3, seed: 5)
        #expect(cold.contains(true) && split.test.users.isEmpty)
        #expect(!split.train.log.items.contains { cold[Int($0)] })
    }

    @Test func contentModelRecommendsColdItemsAndRoundTrips() throws {
        let pop = Popularity()
        try pop.fit(ColdData.split.train, validation: nil, progress: nil)
        let model = try ContentRecommender(representation: .keywords(.bm25))
        try model.fit(ColdData.split.train, validation: nil, progress: nil)
        let coldPop = ColdData.ndcg(pop, cold: true), coldContent = ColdData.ndcg(model, cold: true)
        #expect(coldContent > 3 * coldPop + 0.05, "content \(coldContent) vs popularity \(coldPop) on cold items")
        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(loaded.name == "content")
        #expect(SequenceData.sampleScores(loaded) == SequenceData.sampleScores(model))
        try ColdData.checkExtension(model)
        try ColdData.checkExtension(loaded)
        try ColdData.checkReembedding(model)
        try ColdData.checkReembedding(loaded)
    }

    @Test func contentAwareSASRecScoresColdItemsAndKeepsWarmQuality() throws {
        var config = try SequenceData.sasrec().config
        config.training.epochs = 15
        let plain = try SASRec(config: config)
        try plain.fit(ColdData.split.train, validation: ColdData.split.validation, progress: nil)
        config.itemText = ItemTextSettings(representation: "bm25", dimension: 64)
        let content = try SASRec(config: config)
        try content.fit(ColdData.split.train, validation: ColdData.split.validation, progress: nil)
        let pop = Popularity()
        try pop.fit(ColdData.split.train, validation: nil, progress: nil)
        let coldPop = ColdData.ndcg(pop, cold: true)
        let (coldPlain, coldContent) = (ColdData.ndcg(plain, cold: true), ColdData.ndcg(content, cold: true))
        let (warmPlain, warmContent) = (ColdData.ndcg(plain, cold: false), ColdData.ndcg(content, cold: false))
        #expect(
            coldContent > 3 * coldPop + 0.05 && coldContent > 2 * coldPlain,
            "cold: content \(coldContent), plain \(coldPlain), pop \(coldPop)")
        #expect(warmContent > 0.8 * warmPlain, "warm: content \(warmContent), plain \(warmPlain)")
        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try content.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect((loaded as? SASRec)?.config.itemText == config.itemText)
        #expect(SequenceData.sampleScores(loaded) == SequenceData.sampleScores(content))
        // Items added after training, in memory and after loading.
        try ColdData.checkExtension(content)
        try ColdData.checkExtension(loaded)
        try ColdData.checkReembedding(content)
        try ColdData.checkReembedding(loaded)
        #expect(throws: ModelError.self) { try plain.extended(with: ColdData.copiesOfColdItems.copies) }
        #expect(
            content.canExtendCatalogue && (loaded as? SASRec)?.canExtendCatalogue == true && !plain.canExtendCatalogue)
    }

    @Test func contentExplanationsAreTheScoresParts() throws {
        let data = SequenceData.generated
        let model = try ContentRecommender()
        try model.fit(data.dataset, validation: nil, progress: nil)
        let inCategory = { (c: Int) in
            (0..<data.dataset.itemCount).filter { data.itemCategory[$0] == c }.map(Int32.init)
        }
        let (a, b) = (inCategory(0), inCategory(1))
        let target = a[0]
        let (older, newer) = (a[1], b[0])
        // The score is Σ recency weight × text similarity, so the parts follow from one-item scores.
        let alone = { (item: Int32) in model.scores(for: UserState(items: [item]))[Int(target)] }
        let (s1, s2) = (model.recencyDecay * alone(older), alone(newer))
        let reasons = model.explain(target, for: UserState(items: [older, newer]), top: 5)
        #expect(reasons.first?.item == older && reasons.first?.position == 0, "\(reasons)")
        #expect(abs((reasons.first?.weight ?? 0) - s1 / (s1 + s2)) < 1e-5, "\(reasons) \(s1) \(s2)")
        #expect(abs(reasons.map(\.weight).reduce(0, +) - 1) < 1e-5)
        #expect(model.explain(target, for: UserState(items: []), top: 3).isEmpty)
    }

    @Test func contentOptionsAreChecked() {
        #expect(throws: ModelError.self) { try ModelCatalog.make("content", options: ["representation": "word2vec"]) }
        #expect(throws: ModelError.self) { try ModelCatalog.make("content", options: ["representation": "encoder"]) }
        #expect(throws: ModelError.self) {
            try ModelCatalog.make("sasrec-content", options: ["encoder": "/nonexistent/minilm"])
        }
        #expect(throws: ModelError.self) { try ContentRecommender(recencyDecay: 0) }
    }
}

private func scratchDirectory() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-content-\(UUID().uuidString)")
}

@Suite("Diversity re-ranking")
struct DiversityTests {
    // Items 0–5: categories 0,0,0,1,1,2; scores fall with the index.
    let similarity = ItemSimilarity.categories([[0], [0], [0], [1], [1], [2]])
    let scores: [Float] = [1, 0.95, 0.9, 0.6, 0.5, 0.1]
    let candidates: [Int32] = [0, 1, 2, 3, 4, 5]

    @Test func relevanceOnlyKeepsTheOrder() {
        #expect(Diversification().rerank(candidates, scores: scores, count: 4, similarity: similarity) == [0, 1, 2, 3])
    }

    @Test func mmrTradesRelevanceForVariety() {
        let varied = Diversification(lambda: 0.3).rerank(candidates, scores: scores, count: 3, similarity: similarity)
        #expect(varied == [0, 3, 5])
        #expect(
            Diversification.intraListDiversity(varied, similarity: similarity)
                > Diversification.intraListDiversity([0, 1, 2], similarity: similarity))
        // A mild λ only moves an item when the relevance gap is small.
        #expect(
            Diversification(lambda: 0.9).rerank(candidates, scores: scores, count: 3, similarity: similarity) == [
                0, 1, 2,
            ])
    }

    @Test func categoryCapLimitsEachCategory() {
        let categories: [Int32] = [0, 0, 0, 1, 1, 2]
        let capped = Diversification(categoryCap: 1).rerank(
            candidates, scores: scores, count: 5, similarity: similarity, category: { categories[Int($0)] })
        #expect(capped == [0, 3, 5])
    }

    @Test func vectorSimilarityIsCosine() {
        let vectors = ItemSimilarity.vectors(Tensor(shape: [3, 2], scalars: [1, 0, 2, 0, 0, 3]))
        #expect(vectors.similarity(0, 1) == 1 && vectors.similarity(0, 2) == 0)
    }
}

@Suite("Fusion")
struct FusionTests {
    static func members() throws -> [any Recommender] {
        [try SequenceData.sasrec(epochs: 8), try ItemKNN(neighbors: 20, similarity: .cosine, shrinkage: 0)]
    }

    @Test func blendIsAtLeastItsBestMemberAndRoundTrips() throws {
        let members = try Self.members()
        let blend = try FusionRecommender(kind: .blend, members: members)
        try blend.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        #expect(abs(blend.weights.reduce(0, +) - 1) < 1e-4 && blend.weights.allSatisfy { $0 >= 0 })
        let fused = SequenceData.ndcg(blend)
        let best = members.map(SequenceData.ndcg).max()!
        #expect(fused >= best - 0.02, "blend \(fused) vs best member \(best)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-fusion-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try blend.save(to: dir)
        let loaded = try ModelCatalog.load(from: dir)
        #expect(loaded.name == "blend")
        #expect(SequenceData.sampleScores(loaded) == SequenceData.sampleScores(blend))
    }

    @Test func aFusionOfTextModelsTakesInNewItems() throws {
        let members: [any Recommender] = [
            try ContentRecommender(representation: .keywords(.bm25)),
            try ContentRecommender(representation: .keywords(.tfidf)),
        ]
        let blend = try FusionRecommender(kind: .blend, members: members, weights: [0.6, 0.4])
        try blend.fit(ColdData.split.train, validation: nil, progress: nil)
        let (originals, copies) = ColdData.copiesOfColdItems
        let extended = try blend.extended(with: copies)
        let (n, m) = (blend.itemCount, extended.itemCount)
        #expect(m == n + copies.count)
        let scores = SequenceData.sampleScores(extended)
        for row in 0..<(scores.count / m) {
            for (k, original) in originals.enumerated() {
                #expect(
                    abs(scores[row * m + n + k] - scores[row * m + original]) < 1e-4, "row \(row), copy of \(original)")
            }
        }
        let mixed = try FusionRecommender(kind: .blend, members: [members[0], Popularity()], weights: [0.5, 0.5])
        try mixed.fit(ColdData.split.train, validation: nil, progress: nil)
        #expect(throws: ModelError.self) { try mixed.extended(with: copies) }
        #expect(blend.canExtendCatalogue && !mixed.canExtendCatalogue)
    }

    @Test func fusionWeightsMustFitTheKind() throws {
        let members = try Self.members()
        #expect(throws: ModelError.self) { try FusionRecommender(kind: .blend, members: members, weights: [1]) }
        #expect(throws: ModelError.self) { try FusionRecommender(kind: .stack, members: members, weights: [1, 2]) }
        #expect(try FusionRecommender(kind: .stack, members: members, weights: [1, 2, 3, 4, 0]).weights.count == 5)
    }

    @Test func stackLearnsAndCascadeKeepsTheFirstStagesItems() throws {
        let stack = try FusionRecommender(kind: .stack, members: try Self.members())
        try stack.fit(SequenceData.split.train, validation: SequenceData.split.validation, progress: nil)
        #expect(SequenceData.ndcg(stack) > 2 * SequenceData.popularity, "stack \(SequenceData.ndcg(stack))")
        let cascade = try FusionRecommender(kind: .cascade, members: try Self.members().reversed(), candidates: 5)
        try cascade.fit(SequenceData.split.train, validation: nil, progress: nil)
        let state = UserState(items: [3, 4, 5])
        let first = cascade.members[0].scores(for: state)
        let retrieved = Set(TopK.select(5, from: first, excluding: state.items))
        let scores = cascade.scores(for: state)
        let top = TopK.select(5, from: scores, excluding: state.items)
        #expect(Set(top) == retrieved)
        #expect(throws: ModelError.self) {
            try FusionRecommender(kind: .cascade, members: try Self.members() + [Popularity()])
        }
        #expect(throws: ModelError.self) { try ModelCatalog.make("blend", options: ["members": "sasrec,nonsense"]) }
    }
}
