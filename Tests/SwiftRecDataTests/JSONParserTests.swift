import Foundation
import Testing

@testable import SwiftRecData

@Suite("JSON parser")
struct JSONParserTests {
    /// What Foundation's decoder makes of the same text: the reference for valid input.
    func foundation(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test(arguments: [
        "0", "-0", "12", "-3.25", "1e3", "2.5E-3", "1E+2", "true", "false", "null", #""""#,
        #""plain""#, #""quote \" backslash \\ slash \/ controls \b\f\n\r\t""#,
        #""\u00e9\u4e2d \ud83d\ude00 é 中 😀""#, "[]", "{}", " [1, [2, [3, {}]], \"x\"] ",
        #"{"events": [{"item": "1", "value": 2.5}, {"item": "x", "type": "click"}], "n": 10}"#,
        "123456789012345678901234567890", "[1.7976931348623157e308]",
    ])
    func validTextParsesAsFoundationDoes(text: String) throws {
        #expect(try JSONValue(parsing: Data(text.utf8)) == foundation(text))
        #expect(try JSONValue(parsing: Array(text.utf8)) == foundation(text))
    }

    @Test(arguments: [
        ("", 0), ("   ", 3), ("[1,]", 3), ("[1 2]", 3), ("{\"a\" 1}", 5), ("{\"a\": 1,}", 8), ("{1: 2}", 1),
        ("01", 1), ("-", 1), ("1.", 2), ("1e", 2), ("+1", 0), (".5", 0), ("NaN", 0), ("1e400", 0),
        ("\"open", 5), (#""bad \x""#, 6), (#""\u12G4""#, 5), (#""\ud800""#, 7), (#""\udc00""#, 7),
        ("\"tab\there\"", 4), ("tru", 0), ("nul", 0), ("[1] x", 4), ("{\"a\":1}}", 7),
    ])
    func invalidTextIsRefusedWithItsOffset(text: String, offset: Int) {
        #expect(throws: JSONParseError.self, "\(text)") { try JSONValue(parsing: Data(text.utf8)) }
        do {
            _ = try JSONValue(parsing: Data(text.utf8))
        } catch {
            #expect(error.offset == offset, "\(text): \(error)")
        }
        // Foundation's decoder also refuses these, except trailing commas, which RFC 8259 does not
        // allow and this parser refuses.
        let trailingComma = text.contains(",]") || text.contains(",}")
        #expect((try? foundation(text)) == nil || trailingComma, "Foundation accepts \(text)")
    }

    /// A value rebuilt through the reader's member-by-member and element-by-element reads.
    static func rebuilt(_ reader: inout JSONReader) throws -> JSONValue {
        switch reader.next {
        case .object:
            var members: [String: JSONValue] = [:]
            try reader.readMembers { reader, key in members[key.text] = try rebuilt(&reader) }
            return .object(members)
        case .array:
            var elements: [JSONValue] = []
            try reader.readElements { reader, index in
                #expect(index == elements.count)
                elements.append(try rebuilt(&reader))
            }
            return .array(elements)
        default: return try reader.read()
        }
    }

    static func rebuilt(_ text: String) throws -> JSONValue {
        try Array(text.utf8).withUnsafeBytes { try JSONReader.read($0) { try rebuilt(&$0) } }
    }

    @Test(arguments: [
        "0", "true", "null", #""plain""#, "[]", "{}", " [1, [2, [3, {}]], \"x\"] ",
        #"{"events": [{"item": "1", "value": 2.5}, {"item": "x", "type": "click"}], "n": 10}"#,
        #"{"a": 1, "b": true, "a": 2}"#, #"{"\u00e9t\u00e9": [1], "été": [2], "k\"q": {}}"#,
    ])
    func readingPieceByPieceGivesTheWholeValue(text: String) throws {
        #expect(try Self.rebuilt(text) == JSONValue(parsing: Array(text.utf8)))
    }

    @Test(arguments: [
        ("[1,]", 3), ("[1 2]", 3), ("{\"a\" 1}", 5), ("{\"a\": 1,}", 8), ("{1: 2}", 1), ("[1] x", 4),
        ("{\"a\":1}}", 7), (#"{"a": "\ud800"}"#, 13), ("[\"open", 6),
    ])
    func readingPieceByPieceRefusesWhatTheParserRefuses(text: String, offset: Int) {
        do {
            _ = try Self.rebuilt(text)
            Issue.record("\(text) was accepted")
        } catch let error as JSONParseError {
            #expect(error.offset == offset, "\(text): \(error)")
        } catch {
            Issue.record("\(text): \(error)")
        }
    }

    @Test func keysCompareByTheirTextWhateverTheirSpelling() throws {
        let text = #"{"item": 1, "it\u0065m": 2, "ité": 3, "items": 4, "": 5}"#
        var matches: [Bool] = []
        var texts: [String] = []
        try Array(text.utf8).withUnsafeBytes { bytes in
            try JSONReader.read(bytes) { reader in
                try reader.readMembers { reader, key in
                    matches.append(key == "item")
                    texts.append(key.text)
                    _ = try reader.read()
                }
            }
        }
        #expect(matches == [true, true, false, false, false])
        #expect(texts == ["item", "item", "ité", "items", ""])
    }

    @Test func aRepeatedKeyKeepsItsLastValue() throws {
        #expect(try JSONValue(parsing: Data(#"{"a": 1, "b": true, "a": 2}"#.utf8)) == .object(["a": 2, "b": true]))
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22]) }
        let deep =
            String(repeating: "[", count: JSONValue.maximumDepth + 1)
            + String(repeating: "]", count: JSONValue.maximumDepth + 1)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: Data(deep.utf8)) }
        let allowed =
            String(repeating: "[", count: JSONValue.maximumDepth)
            + String(repeating: "]", count: JSONValue.maximumDepth)
        #expect(throws: Never.self) { try JSONValue(parsing: Data(allowed.utf8)) }
    }

    /// Seeded random values written by JSONEncoder read back equal.
    @Test func encodedRandomValuesRoundTrip() throws {
        var g = SplitMix64(seed: 11)
        func random(_ depth: Int) -> JSONValue {
            switch g.next() % (depth > 3 ? 4 : 6) {
            case 0: return .null
            case 1: return .bool(g.next() % 2 == 0)
            case 2: return .number(Double(Int64(g.next() % 2_000_001) - 1_000_000) / 8)
            case 3:
                let alphabet = Array("aé中😀\"\\\n\t/ z")
                return .string(
                    String((0..<Int(g.next() % 8)).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }))
            case 4: return .array((0..<Int(g.next() % 5)).map { _ in random(depth + 1) })
            default:
                return .object(
                    Dictionary((0..<Int(g.next() % 5)).map { ("k\($0)", random(depth + 1)) }) { a, _ in a })
            }
        }
        for _ in 0..<200 {
            let value = random(0)
            #expect(try JSONValue(parsing: JSONEncoder().encode(value)) == value)
        }
    }
}
