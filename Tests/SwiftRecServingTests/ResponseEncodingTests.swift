import Foundation
import SwiftRecData
import Testing

@testable import SwiftRecServing

@Suite("Response encoding")
struct ResponseEncodingTests {
    /// What `JSONResponse.make` writes for any `Encodable`.
    func encoderBytes(_ list: RecommendationList) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(list))
    }

    /// Plain lists are written byte for byte as JSONEncoder writes them: scores over every
    /// magnitude (whole, tiny, huge, negative, −0), and ids with quotes, backslashes, slashes,
    /// every control character and non-ASCII text; with and without a user.
    @Test func plainListsAreTheEncodersBytes() throws {
        var generator = SplitMix64(seed: 15)
        let controls = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) })
        let names = ["42", "a\"b\\c/d", controls, "é中😀\u{7f}\u{2028}", "", "movie 7"]
        for round in 0..<200 {
            let recommendations = (0..<Int(generator.next() % 12)).map { k -> Recommendation in
                let exponent = Float(Int(generator.next() % 78) - 40)  // 10^-40 … 10^37, all finite
                let mantissa = Float(generator.next() % 2_000_001) / 1_000_000 - 1
                let score: Float =
                    k == 3 ? -0.0 : k == 4 ? Float(generator.next() % 1000) : mantissa * pow(10, exponent)
                return Recommendation(item: names[Int(generator.next() % UInt64(names.count))] + "\(k)", score: score)
            }
            let list = RecommendationList(
                user: round % 2 == 0 ? nil : names[round % names.count], model: names[round % names.count] + "sasrec",
                recommendations: recommendations)
            let plain = try #require(PlainListWriter.bytes(of: list), "round \(round)")
            #expect(plain == (try encoderBytes(list)), "round \(round)")
        }
    }

    /// Lists the plain writer does not cover (explanations, a query's part, an exploration mark,
    /// a score that is not finite) are left to JSONEncoder.
    @Test func listsWithMoreThanScoresAreLeftToTheEncoder() {
        var explained = Recommendation(item: "1", score: 0.5)
        explained.because = [Reason(item: "2", weight: 0.3)]
        var explored = Recommendation(item: "1", score: 0.5)
        explored.explore = true
        for recommendation in [explained, explored, Recommendation(item: "1", score: .nan)] {
            let list = RecommendationList(user: "u", model: "m", recommendations: [recommendation])
            #expect(PlainListWriter.bytes(of: list) == nil)
        }
    }
}
