import Foundation

/// Why text is not one JSON value, and at which byte.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Offset of the byte where parsing stopped, from 0.
    public var offset: Int
    public var reason: String
    public var description: String { "\(reason) at byte \(offset)" }
}

extension JSONValue {
    /// The deepest nesting of arrays and objects a parsed value may have: deeper input is
    /// refused rather than risking the stack on hostile bodies.
    public static let maximumDepth = 256

    /// Parses `bytes` as exactly one JSON value (RFC 8259: any value at the top, surrounding
    /// whitespace allowed, nothing after it, no trailing commas). Strict like the ``Codable``
    /// conformance: `true` is a Bool, numbers must be finite doubles, strings must be valid UTF-8
    /// with valid escapes (surrogate pairs whole); a repeated object key keeps its last value.
    ///
    /// Written by hand because decoding into this enum through `JSONDecoder` tries each case
    /// in turn and pays for a thrown error per miss: a 200-event session body took ~9 µs per
    /// event that way, most of a request's time.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        self = try
            (bytes.withContiguousStorageIfAvailable(Self.parsed) ?? Array(bytes).withUnsafeBufferPointer(Self.parsed))
            .get()
    }

    /// ``init(parsing:)`` of a `Data` body.
    public init(parsing data: Data) throws(JSONParseError) {
        self = try data.withUnsafeBytes { Self.parsed($0.bindMemory(to: UInt8.self)) }.get()
    }

    private static func parsed(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONParseError> {
        var parser = JSONReader(buffer)
        return Result { () throws(JSONParseError) in try parser.document() }
    }
}

/// A recursive-descent reader over one buffer of UTF-8 bytes, by the same rules as
/// ``JSONValue/init(parsing:)`` (which is built on it).
///
/// Besides whole values it reads an object member by member and an array element by element,
/// so a typed body can be decoded in one pass without a ``JSONValue`` tree: a session of 200
/// events read through the tree built 200 dictionaries and hashed every field name, the most
/// expensive part of serving such a request after the model itself.
public struct JSONReader {
    /// What the next value is, from its first byte.
    public enum Kind: Sendable, Equatable {
        case object, array, string, number, bool, null
    }

    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Runs `body` on a reader of `bytes` and checks that it read exactly one JSON value
    /// (whitespace around it allowed). Syntax errors are thrown as ``JSONParseError``, errors of
    /// `body` as they are.
    public static func read<T>(
        _ bytes: UnsafeRawBufferPointer, _ body: (inout JSONReader) throws -> T
    ) throws -> T {
        var reader = JSONReader(bytes.bindMemory(to: UInt8.self))
        reader.skipWhitespace()
        let result = try body(&reader)
        reader.skipWhitespace()
        guard reader.position == reader.bytes.count else { throw reader.fail("unexpected text after the value") }
        return result
    }

    /// The kind of the next value, or nil at the end of the input or before a byte that starts
    /// no value.
    public var next: Kind? {
        guard position < bytes.count else { return nil }
        switch bytes[position] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: return nil
        }
    }

    /// Reads the next value whole.
    public mutating func read() throws(JSONParseError) -> JSONValue { try value() }

    /// Reads the next value, an object, calling `member` with each key in order and the reader
    /// at that member's value, which `member` must read (whole, or member by member). A
    /// repeated key is passed each time it occurs.
    public mutating func readMembers(_ member: (inout JSONReader, JSONKey) throws -> Void) throws {
        guard next == .object else { throw fail("expected an object") }
        guard try opened(closing: "}") else { return }
        repeat {
            try member(&self, try memberKey())
        } while try another(before: "}", in: "an object")
        depth -= 1
    }

    /// Reads the next value, an array, calling `element` with each element's index and the
    /// reader at that element, which `element` must read.
    public mutating func readElements(_ element: (inout JSONReader, Int) throws -> Void) throws {
        guard next == .array else { throw fail("expected an array") }
        guard try opened(closing: "]") else { return }
        var index = 0
        repeat {
            try element(&self, index)
            index += 1
        } while try another(before: "]", in: "an array")
        depth -= 1
    }

    /// Past the opening bracket of a container and the whitespace after it: false (and past the
    /// container) when it is empty.
    mutating func opened(closing: Unicode.Scalar) throws(JSONParseError) -> Bool {
        try enter()
        guard position < bytes.count, bytes[position] == UInt8(ascii: closing) else { return true }
        position += 1
        depth -= 1
        return false
    }

    /// A member's key and the ':' after it, leaving the reader at the member's value.
    mutating func memberKey() throws(JSONParseError) -> JSONKey {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        let key = try self.key()
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':'") }
        position += 1
        skipWhitespace()
        return key
    }

    /// An object key starting at its opening quote: its bytes when it has no escapes.
    mutating func key() throws(JSONParseError) -> JSONKey {
        let start = position + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20
        {
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
            // Non-ASCII keys go through string() for its UTF-8 validation.
            if !raw.contains(where: { $0 >= 0x80 }) {
                position = end + 1
                return JSONKey(raw: raw)
            }
        }
        return JSONKey(text: try string())
    }

    func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: position, reason: reason) }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func document() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try self.value()
        skipWhitespace()
        guard position == bytes.count else { throw fail("unexpected text after the value") }
        return value
    }

    mutating func value() throws(JSONParseError) -> JSONValue {
        guard position < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw fail("unexpected end of input") }
        for k in 0..<count where bytes[position + k] != word.utf8Start[k] { throw fail("unexpected character") }
        position += count
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        guard depth <= JSONValue.maximumDepth else {
            throw fail("nested deeper than \(JSONValue.maximumDepth) arrays and objects")
        }
        position += 1
        skipWhitespace()
    }

    mutating func array() throws(JSONParseError) -> JSONValue {
        var elements: [JSONValue] = []
        guard try opened(closing: "]") else { return .array(elements) }
        repeat {
            elements.append(try value())
        } while try another(before: "]", in: "an array")
        depth -= 1
        return .array(elements)
    }

    /// After an element: true past a ',' (and the whitespace after it), false past `closing`.
    mutating func another(before closing: Unicode.Scalar, in container: String) throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end of input in \(container)") }
        switch bytes[position] {
        case UInt8(ascii: ","):
            position += 1
            skipWhitespace()
            return true
        case UInt8(ascii: closing):
            position += 1
            return false
        default: throw fail("expected ',' or '\(closing)'")
        }
    }

    mutating func object() throws(JSONParseError) -> JSONValue {
        var members: [String: JSONValue] = [:]
        guard try opened(closing: "}") else { return .object(members) }
        repeat {
            let key = try memberKey().text
            members[key] = try value()
        } while try another(before: "}", in: "an object")
        depth -= 1
        return .object(members)
    }

    /// A string starting at the opening quote; the common case (no escapes) is decoded in one go.
    mutating func string() throws(JSONParseError) -> String {
        position += 1
        let start = position
        // Bytes ≥ 0x80 seen: only then is the text validated as UTF-8 (ASCII always is, and the
        // generic validation cost more than the rest of parsing an event's id).
        var wide: UInt8 = 0
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text =
                    wide < 0x80
                    ? String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                    : try validated(start..<position)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { return try escapedString(from: start) }
            guard byte >= 0x20 else { throw fail("control character in a string") }
            wide |= byte
            position += 1
        }
        throw fail("unterminated string")
    }

    func validated(_ range: Range<Int>) throws(JSONParseError) -> String {
        guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) else {
            throw JSONParseError(offset: range.lowerBound, reason: "invalid UTF-8 in a string")
        }
        return text
    }

    mutating func escapedString(from start: Int) throws(JSONParseError) -> String {
        var utf8 = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw JSONParseError(offset: start, reason: "invalid UTF-8 in a string")
                }
                return text
            case UInt8(ascii: "\\"):
                position += 1
                guard position < bytes.count else { throw fail("unterminated string") }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hexQuad()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                            bytes[position + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired surrogate in a \\u escape") }
                        position += 2
                        let low = try hexQuad()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in a \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("unpaired surrogate in a \\u escape")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    utf8.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    position -= 1
                    throw fail("invalid escape")
                }
            default:
                guard byte >= 0x20 else { throw fail("control character in a string") }
                utf8.append(byte)
                position += 1
            }
        }
        throw fail("unterminated string")
    }

    mutating func hexQuad() throws(JSONParseError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw fail("unterminated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// A number by JSON's grammar (-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?), converted by the
    /// standard library; one beyond Double's range is refused rather than made infinite.
    mutating func number() throws(JSONParseError) -> Double {
        let start = position
        func digits(_ parser: inout JSONReader) -> Int {
            let first = parser.position
            while parser.position < parser.bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.position])
            {
                parser.position += 1
            }
            return parser.position - first
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw fail("unexpected end of input in a number") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            guard digits(&self) > 0 else { throw fail("expected a digit") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw fail("expected a digit after '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits(&self) > 0 else { throw fail("expected a digit in the exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw JSONParseError(offset: start, reason: "number out of range")
        }
        return value
    }
}

/// An object's key as ``JSONReader/readMembers(_:)`` passes it: compared with field names
/// without building a `String` for keys that have no escapes.
public struct JSONKey {
    private let raw: UnsafeBufferPointer<UInt8>?
    private let decoded: String?

    init(raw: UnsafeBufferPointer<UInt8>) {
        self.raw = raw
        self.decoded = nil
    }

    init(text: String) {
        self.raw = nil
        self.decoded = text
    }

    /// The key as text.
    public var text: String {
        decoded ?? String(decoding: raw!, as: UTF8.self)
    }

    /// Whether the key is exactly `name`.
    public static func == (key: JSONKey, name: StaticString) -> Bool {
        guard let raw = key.raw else { return key.decoded == name.description }
        guard raw.count == name.utf8CodeUnitCount else { return false }
        return raw.isEmpty || memcmp(raw.baseAddress!, name.utf8Start, raw.count) == 0
    }
}
