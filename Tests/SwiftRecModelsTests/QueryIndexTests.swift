import Foundation
import SwiftRecData
import Testing

@testable import SwiftRecModels

/// Matching queries against item texts and blending them with a model's scores.
struct QueryIndexTests {
    let texts = [
        "Celestron telescope for astronomy. Optics", "Star chart: astronomy for beginners", "Duct tape, silver",
        "Pipe fittings. Plumbing", "",
    ]

    @Test func keywordQueriesScoreTheItemsThatShareTheirWords() throws {
        let index = QueryIndex(itemTexts: texts, representation: .keywords(.bm25))
        let scores = try index.similarities(to: "  something for ASTRONOMY ")
        #expect(scores.count == texts.count)
        #expect(scores[0] > 0 && scores[1] > 0)
        #expect(scores[2] == 0 && scores[3] == 0 && scores[4] == 0)
        #expect(try index.similarities(to: "nothing known here").allSatisfy { $0 == 0 })
        #expect(QueryIndex.sharedWords("astronomy telescope astronomy", texts[0]) == ["astronomy", "telescope"])
    }

    @Test func emptyAndOverLongQueriesAreRefused() {
        let index = QueryIndex(itemTexts: texts, representation: .keywords(.bm25))
        #expect(throws: QueryError.empty) { try index.similarities(to: " \n ") }
        let long = String(repeating: "x", count: QueryIndex.maxCharacters + 1)
        #expect(throws: QueryError.tooLong(characters: QueryIndex.maxCharacters + 1)) {
            try index.similarities(to: long)
        }
        #expect(throws: QueryBlendError.self) { try QueryBlend(weight: 1.5) }
        #expect(throws: QueryBlendError.self) { try QueryBlend(weight: .nan) }
    }

    @Test func theBlendPutsRanksAndSimilaritiesOnOneScaleAndKeepsRuledOutItems() throws {
        let model: [Float] = [3, 2, 1, 0, -.infinity]
        let query: [Float] = [0, 0, 1, 0, 1]
        let none = try QueryBlend(weight: 0).blend(model: model, query: query)
        // Weight 0: the model's order, and no share for the query.
        #expect(
            none.scores[0] > none.scores[1] && none.scores[1] > none.scores[2] && none.queryShare.allSatisfy { $0 == 0 }
        )
        let half = try QueryBlend(weight: 0.5).blend(model: model, query: query)
        // The matching item moves to the top; the item the model rules out stays out.
        #expect(half.scores.indices.filter { half.scores[$0].isFinite }.max { half.scores[$0] < half.scores[$1] } == 2)
        #expect(half.scores[4] == -.infinity)
        #expect(half.queryShare[2] > 0.5 && half.queryShare[2] <= 1)
        // Scale-free: multiplying either side by a constant changes nothing.
        let scaled = try QueryBlend(weight: 0.5).blend(model: model.map { $0 * 10 }, query: query.map { $0 * 3 })
        for i in 0..<4 { #expect(abs(scaled.scores[i] - half.scores[i]) < 1e-6) }
        // Above weight 0.5 a best match beats every non-match; equal matches keep the model's order.
        let many = try QueryBlend(weight: 0.6).blend(model: [9, 8, 7, 6, 5, 4], query: [0, 0, 0, 0, 1, 1])
        #expect(many.scores[4] > many.scores[5] && many.scores[5] > many.scores[0])
        let expected: [Float] = [0, 2 / 3, 2 / 3, 0, 1 / 3]
        #expect(QueryBlend.rankShares([1, 3, 3, .nan, 2]) == expected)
    }
}
