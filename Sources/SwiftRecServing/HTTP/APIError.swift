import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A 4xx/5xx with a JSON body `{"error": message}` naming what was wrong.
public struct APIError: HTTPResponseError {
    public let status: HTTPResponse.Status
    public let message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(["error": message], status: status)
    }
}

enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":"response could not be encoded"}"#.utf8)
        return make(bytes: data, status: status)
    }

    /// A response whose body is `bytes`, already JSON.
    static func make(bytes: some Sequence<UInt8>, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension JSONResponse {
    /// A recommendation list, written directly when it holds only items and scores (no
    /// explanations, query or exploration marks): JSONEncoder took 3.5 % of a serving profile of
    /// sessions asking for ten items. The bytes are the ones ``make(_:status:)`` writes (sorted
    /// keys, unescaped slashes; a test holds the two equal); other lists go through JSONEncoder.
    static func make(list: RecommendationList) -> Response {
        guard let bytes = PlainListWriter.bytes(of: list) else { return make(list) }
        return make(bytes: bytes)
    }
}

/// JSON of a plain recommendation list as JSONEncoder writes it with `.sortedKeys` and
/// `.withoutEscapingSlashes`.
enum PlainListWriter {
    /// Nil when a recommendation carries more than an item and a finite score.
    static func bytes(of list: RecommendationList) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(64 + list.recommendations.count * 40)
        out += #"{"model":"#.utf8
        string(list.model, into: &out)
        out += #","recommendations":["#.utf8
        for (index, recommendation) in list.recommendations.enumerated() {
            guard recommendation.because == nil, recommendation.features == nil, recommendation.explore == nil,
                recommendation.query == nil, recommendation.score.isFinite
            else { return nil }
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += #"{"item":"#.utf8
            string(recommendation.item, into: &out)
            out += #","score":"#.utf8
            number(recommendation.score, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if let user = list.user {
            out += #","user":"#.utf8
            string(user, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Swift's shortest round-trip text without a trailing ".0", as JSONEncoder writes floats.
    static func number(_ value: Float, into out: inout [UInt8]) {
        let text = value.description
        out += text.hasSuffix(".0") ? text.utf8.dropLast(2) : text.utf8[...]
    }

    /// Quoted, with `"` and `\` escaped, control characters as \b \t \n \f \r or \u00xx, and
    /// everything else (slashes, non-ASCII) as it is.
    static func string(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
