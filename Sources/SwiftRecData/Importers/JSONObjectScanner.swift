import Foundation

/// Splits a JSON document whose top level is one object into its entries, in file order, each
/// with the line its key is on, without parsing the values. Each value can then be parsed on its
/// own, so one bad entry is reported with its line and the others are kept.
enum JSONObjectScanner {
    struct Entry {
        var key: String
        var line: Int
        /// The value's bytes (valid JSON only if the value is).
        var value: ArraySlice<UInt8>
    }

    /// Where the document stops being an object of `"key": value` entries.
    struct Failure: Error {
        var line: Int
        var detail: String
    }

    /// The entries before any structural error, and the error if there is one.
    static func entries(of bytes: [UInt8]) -> (entries: [Entry], failure: Failure?) {
        var entries: [Entry] = []
        var i = 0
        var line = 1
        func skipWhitespace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x0A: line += 1
                case 0x20, 0x09, 0x0D: break
                default: return
                }
                i += 1
            }
        }
        /// Moves past a string starting at `i` (on its quote); false if it never ends.
        func skipString() -> Bool {
            i += 1
            while i < bytes.count {
                switch bytes[i] {
                case 0x5C: i += 2
                case 0x22:
                    i += 1
                    return true
                case 0x0A:
                    return false
                default: i += 1
                }
            }
            return false
        }
        func fail(_ detail: String) -> (entries: [Entry], failure: Failure?) {
            (entries, Failure(line: line, detail: detail))
        }

        skipWhitespace()
        guard i < bytes.count, bytes[i] == 0x7B else { return fail("the document is not a JSON object") }
        i += 1
        skipWhitespace()
        if i < bytes.count && bytes[i] == 0x7D { return (entries, nil) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == 0x22 else { return fail("expected a quoted key") }
            let keyStart = i, keyLine = line
            guard skipString() else { return fail("unterminated key") }
            let keyBytes = bytes[keyStart..<i]
            let key: String
            if keyBytes.contains(0x5C) {
                guard
                    let decoded = try? JSONSerialization.jsonObject(with: Data(keyBytes), options: .fragmentsAllowed)
                        as? String
                else { return fail("invalid key") }
                key = decoded
            } else {
                key = String(decoding: keyBytes.dropFirst().dropLast(), as: UTF8.self)
            }
            skipWhitespace()
            guard i < bytes.count, bytes[i] == 0x3A else { return fail("expected ':' after key \(keyBytes.preview)") }
            i += 1
            skipWhitespace()
            let valueStart = i
            var depth = 0
            scan: while i < bytes.count {
                switch bytes[i] {
                case 0x22:
                    guard skipString() else { return fail("unterminated string") }
                    continue scan
                case 0x7B, 0x5B: depth += 1
                case 0x7D, 0x5D:
                    if depth == 0 { break scan }
                    depth -= 1
                case 0x2C where depth == 0: break scan
                case 0x0A: line += 1
                default: break
                }
                i += 1
            }
            guard i < bytes.count else { return fail("the document ends inside an entry") }
            var valueEnd = i
            while valueEnd > valueStart && [0x20, 0x09, 0x0A, 0x0D].contains(bytes[valueEnd - 1]) { valueEnd -= 1 }
            entries.append(Entry(key: key, line: keyLine, value: bytes[valueStart..<valueEnd]))
            if bytes[i] == 0x2C {
                i += 1
                continue
            }
            guard bytes[i] == 0x7D else { return fail("unbalanced ']'") }
            i += 1
            skipWhitespace()
            return i == bytes.count ? (entries, nil) : fail("text after the top-level object")
        }
    }

    /// Parses one entry's value.
    static func value(of entry: Entry) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(entry.value), options: .fragmentsAllowed)
    }
}
