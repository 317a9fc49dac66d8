import Foundation

/// Reads JSON Lines: one JSON object per line, one event per object, streamed line by line.
///
/// Keys come from ``ImportOptions`` (names only; defaults `user`, `item`, `timestamp`, `value`,
/// `type`, `scenario`). Ids may be strings or integers; a timestamp may be a number or a string
/// in the chosen ``ImportOptions/TimestampFormat``. Without a `timestamp` key in the options and
/// in the first object, an event's timestamp is its line number. Blank lines are skipped and
/// counted.
public enum JSONLinesImporter {
    public static func read(url: URL, options: ImportOptions = .init()) throws -> (
        dataset: Dataset, report: ImportReport
    ) {
        try ImportFiles.requireFile(url)
        func key(_ column: ImportOptions.Column?, role: String) throws -> String? {
            switch column {
            case .name(let name)?: return name
            case .index(let i)?:
                throw ImportError.unreadable(
                    path: url.path, reason: "JSON Lines fields are named: the \(role) column must be a key, not #\(i)")
            case nil: return nil
            }
        }
        // Keys a mapping does not name are found in the first object by their usual names
        // (ImportOptions.commonNames: `user_id`, `userId`, `item_id`, `ts`, `rating`, …).
        var userKey = try key(options.user, role: "user")
        var itemKey = try key(options.item, role: "item")
        let explicitTimestamp = try key(options.timestamp, role: "timestamp")
        var valueKey = try key(options.value, role: "value")
        var typeKey = try key(options.type, role: "type")
        var scenarioKey = try key(options.scenario, role: "scenario")
        let userAttributeKeys = try options.userAttributes.map { try key($0, role: "user attribute")! }
        let itemAttributeKeys = try options.itemAttributes.map { try key($0, role: "item attribute")! }
        let categoriesKey = try key(options.itemCategories, role: "item categories")
        let titleKey = try key(options.itemTitle, role: "item title")
        var features = FeatureColumnsReader(
            userKeys: userAttributeKeys, itemKeys: itemAttributeKeys, readsCategories: categoriesKey != nil,
            readsTitle: titleKey != nil, separator: options.categorySeparator)

        let file = url.lastPathComponent
        var sink = ImportSink(options: options)
        var checker: EventRecordChecker?
        var timestampKey = explicitTimestamp
        var sawScenario = false
        sink.readLines(of: url) { sink, line, lineNumber in
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                sink.report.reject(file: file, line: lineNumber, reason: "blank line")
                return
            }
            // Flat objects of strings and numbers (the usual event line) are read by a byte
            // scanner; anything else is parsed strictly as a JSONValue, which decides.
            let fields: [String: JSONField]
            if let flat = FlatJSONObject.parse(line) {
                fields = flat
            } else {
                guard let parsed = try? JSONValue(parsing: line) else {
                    sink.report.reject(file: file, line: lineNumber, reason: "invalid JSON", detail: line.preview)
                    return
                }
                guard case .object(let object) = parsed else {
                    sink.report.reject(file: file, line: lineNumber, reason: "not a JSON object", detail: line.preview)
                    return
                }
                fields = object.mapValues(JSONField.init)
            }
            if checker == nil {
                // The first object decides which keys are read and whether the file has timestamps.
                let byLowercased = Dictionary(fields.keys.map { ($0.lowercased(), $0) }) { first, _ in first }
                func common(_ role: String) -> String? {
                    (ImportOptions.commonNames[role] ?? [role]).lazy.compactMap { byLowercased[$0] }.first
                }
                userKey = userKey ?? common("user") ?? "user"
                itemKey = itemKey ?? common("item") ?? "item"
                valueKey = valueKey ?? common("value") ?? "value"
                typeKey = typeKey ?? common("type") ?? "type"
                scenarioKey = scenarioKey ?? common("scenario") ?? "scenario"
                if timestampKey == nil { timestampKey = common("timestamp") }
                checker = EventRecordChecker(options: options, hasTimestamp: timestampKey != nil)
            }
            var wrong: String?
            func field(_ key: String?, _ role: String) -> ArraySlice<UInt8>? {
                switch key.flatMap({ fields[$0] }) {
                case nil, .null?: return nil
                case .text(let text)?: return text
                case .other?, .list?:
                    if wrong == nil { wrong = "\(role) is not a string or a number" }
                    return nil
                case .inexactInteger?:
                    if wrong == nil { wrong = "\(role) is an integer too large to read exactly (write it as a string)" }
                    return nil
                }
            }
            let record = EventRecord(
                user: field(userKey, "user id"), item: field(itemKey, "item id"),
                timestamp: field(timestampKey, "timestamp"), value: field(valueKey, "value"),
                type: field(typeKey, "type"), scenario: field(scenarioKey, "scenario"))
            if record.scenario != nil { sawScenario = true }
            if let wrong {
                sink.report.reject(
                    file: file, line: lineNumber, reason: wrong,
                    detail: line.preview)
                return
            }
            guard let (user, item) = checker!.add(record, file: file, line: lineNumber, into: &sink), !features.isEmpty
            else { return }
            func value(_ key: String?) -> FeatureValue {
                switch key.flatMap({ fields[$0] }) {
                case nil, .null?: return .absent
                case .text(let text)?: return .text(text)
                case .list(let values)?: return .list(values)
                case .other?, .inexactInteger?: return .wrongType
                }
            }
            features.add(
                user: user, item: item, userValues: userAttributeKeys.map { value($0) },
                itemValues: itemAttributeKeys.map { value($0) }, categories: value(categoriesKey),
                title: value(titleKey), line: lineNumber, into: &sink)
        }
        features.addNotes(to: &sink.report)
        if let checker {
            checker.addNotes(
                to: &sink.report,
                scenarioColumn: options.scenario != nil || sawScenario ? "'\(scenarioKey ?? "scenario")'" : nil,
                timestampColumn: timestampKey, scenarios: sink.scenarios)
        }
        return sink.finish()
    }
}

/// A JSON Lines value as the importer sees it.
enum JSONField {
    case null
    /// A string's text, or a number's (integers without `.0`).
    case text(ArraySlice<UInt8>)
    /// A list of strings and numbers (their texts), as categories are written.
    case list([String])
    /// A boolean, object, or a list holding anything else.
    case other
    /// An integer beyond 2⁵³, which a `Double` cannot hold exactly (write such ids as strings).
    case inexactInteger

    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .string(let text): self = .text(Array(text.utf8)[...])
        case .number(let n) where n.rounded() != n: self = .text(Array("\(n)".utf8)[...])
        case .number:
            if let integer = value.exactIntegerText {
                self = .text(Array(integer.utf8)[...])
            } else {
                self = .inexactInteger
            }
        case .array(let values):
            var texts: [String] = []
            for value in values {
                switch JSONField(value) {
                case .text(let text): texts.append(String(decoding: text, as: UTF8.self))
                default:
                    self = .other
                    return
                }
            }
            self = .list(texts)
        case .bool, .object: self = .other
        }
    }
}

/// A strict reader for one-line JSON objects whose values are ASCII strings without escapes,
/// numbers, booleans or null. It returns nil for anything else (nesting, escapes, non-ASCII,
/// any syntax error), and the caller falls back to a strict `JSONValue` parse, so both paths give the
/// same result.
enum FlatJSONObject {
    static func parse(_ line: ArraySlice<UInt8>) -> [String: JSONField]? {
        var fields: [String: JSONField] = [:]
        var i = line.startIndex
        let end = line.endIndex
        func skipSpace() { while i < end && (line[i] == 0x20 || line[i] == 0x09 || line[i] == 0x0D) { i += 1 } }
        /// A string's content (on its opening quote), or nil.
        func string() -> ArraySlice<UInt8>? {
            guard i < end, line[i] == 0x22 else { return nil }
            i += 1
            let start = i
            while i < end {
                let b = line[i]
                if b == 0x22 {
                    i += 1
                    return line[start..<(i - 1)]
                }
                guard b >= 0x20 && b < 0x80 && b != 0x5C else { return nil }
                i += 1
            }
            return nil
        }
        /// A JSON number token, or nil.
        func number() -> ArraySlice<UInt8>? {
            let start = i
            func digits() -> Int {
                let from = i
                while i < end && line[i] >= 0x30 && line[i] <= 0x39 { i += 1 }
                return i - from
            }
            if i < end && line[i] == 0x2D { i += 1 }
            let intStart = i
            let intDigits = digits()
            guard intDigits > 0, intDigits == 1 || line[intStart] != 0x30 else { return nil }
            if i < end && line[i] == 0x2E {
                i += 1
                guard digits() > 0 else { return nil }
            }
            if i < end && (line[i] == 0x65 || line[i] == 0x45) {
                i += 1
                if i < end && (line[i] == 0x2B || line[i] == 0x2D) { i += 1 }
                guard digits() > 0 else { return nil }
            }
            return line[start..<i]
        }
        func literal(_ word: String) -> Bool {
            let bytes = Array(word.utf8)
            guard end - i >= bytes.count, line[i..<(i + bytes.count)].elementsEqual(bytes) else { return false }
            i += bytes.count
            return true
        }
        skipSpace()
        guard i < end, line[i] == 0x7B else { return nil }
        i += 1
        skipSpace()
        if i < end && line[i] == 0x7D {
            i += 1
        } else {
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard i < end, line[i] == 0x3A else { return nil }
                i += 1
                skipSpace()
                guard i < end else { return nil }
                let value: JSONField
                switch line[i] {
                case 0x22:
                    guard let text = string() else { return nil }
                    value = .text(text)
                case 0x74:
                    guard literal("true") else { return nil }
                    value = .other
                case 0x66:
                    guard literal("false") else { return nil }
                    value = .other
                case 0x6E:
                    guard literal("null") else { return nil }
                    value = .null
                default:
                    guard let token = number() else { return nil }
                    if token.signedInteger != nil {
                        value = .text(token)
                    } else {
                        // As a JSONValue: an integral number reads as the integer.
                        guard let double = token.number else { return nil }
                        let text = Int64(exactly: double).map { String($0) } ?? "\(double)"
                        value = .text(Array(text.utf8)[...])
                    }
                }
                fields[String(decoding: key, as: UTF8.self)] = value
                skipSpace()
                guard i < end else { return nil }
                if line[i] == 0x2C {
                    i += 1
                    continue
                }
                guard line[i] == 0x7D else { return nil }
                i += 1
                break
            }
        }
        skipSpace()
        return i == end ? fields : nil
    }
}
