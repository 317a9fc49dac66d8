import Foundation

/// The fields of one generic event record (a CSV/TSV row or a JSON Lines object) as text, checked
/// and added the same way for every generic format, so the reasons are the same.
struct EventRecord {
    var user: ArraySlice<UInt8>?
    var item: ArraySlice<UInt8>?
    var timestamp: ArraySlice<UInt8>?
    var value: ArraySlice<UInt8>?
    var type: ArraySlice<UInt8>?
    var scenario: ArraySlice<UInt8>?
}

/// Checks ``EventRecord``s and adds the good ones to a sink.
struct EventRecordChecker {
    let timestampFormat: ImportOptions.TimestampFormat
    let hasTimestamp: Bool
    /// The most distinct scenario names one import keeps: a scenario is a place in the product
    /// (`home`, `search`), so a column with more is almost surely another field mapped by mistake.
    static let maximumScenarios = 10_000

    init(options: ImportOptions, hasTimestamp: Bool) {
        timestampFormat = options.timestampFormat
        self.hasTimestamp = hasTimestamp
    }

    private static let typesByName: [String: EventType] = Dictionary(
        uniqueKeysWithValues: EventType.allCases.map { ($0.rawValue, $0) })

    /// Adds the event of `record` and returns its user and item, or rejects `line` of `file`
    /// with the first thing wrong with it and returns nil.
    @discardableResult
    mutating func add(_ record: EventRecord, file: String, line: Int, into sink: inout ImportSink) -> (
        user: Int32, item: Int32
    )? {
        func reject(_ reason: String, _ field: ArraySlice<UInt8>? = nil) -> (user: Int32, item: Int32)? {
            sink.report.reject(file: file, line: line, reason: reason, detail: field?.preview)
            return nil
        }
        guard let userField = record.user else { return reject("user id is missing") }
        let userID = userField.trimmingSpaces
        guard !userID.isEmpty else { return reject("user id is empty") }
        guard let itemField = record.item else { return reject("item id is missing") }
        let itemID = itemField.trimmingSpaces
        guard !itemID.isEmpty else { return reject("item id is empty") }
        var time = Int64(line)
        if hasTimestamp {
            guard let field = record.timestamp?.trimmingSpaces, !field.isEmpty else {
                return reject("timestamp is missing")
            }
            guard let t = field.timestamp(timestampFormat) else {
                return reject(
                    timestampFormat == .iso8601 ? "timestamp is not ISO-8601" : "timestamp is not an integer", field)
            }
            time = t
        }
        var value: Double?
        if let field = record.value?.trimmingSpaces, !field.isEmpty {
            guard let number = field.number else { return reject("value is not a number", field) }
            guard number.isFinite else { return reject("value is not finite", field) }
            value = number
        }
        // Without a type, an event with a value is a rating and one without is a view.
        var type: EventType = value == nil ? .view : .rating
        if let field = record.type?.trimmingSpaces, !field.isEmpty {
            let name = String(decoding: field, as: UTF8.self).lowercased()
            guard let known = Self.typesByName[name] else { return reject("unknown event type", field) }
            type = known
        }
        var scenario = InteractionLog.noScenario
        if let field = record.scenario?.trimmingSpaces, !field.isEmpty {
            let name = String(decoding: field, as: UTF8.self)
            if let known = sink.scenarios.index(of: name) {
                scenario = known
            } else {
                guard sink.scenarios.count < Self.maximumScenarios else {
                    return reject("scenario is new after \(Self.maximumScenarios) distinct ones", field)
                }
                scenario = sink.scenarios.intern(name)
            }
        }
        let user = sink.users.intern(userID), item = sink.items.intern(itemID)
        sink.addEvent(user: user, item: item, timestamp: time, value: value, type: type, scenario: scenario)
        sink.report.recordsKept += 1
        return (user, item)
    }

    /// Notes what the report should say about the mapping once the file is read.
    func addNotes(
        to report: inout ImportReport, scenarioColumn: String?, timestampColumn: String?, scenarios: IDMap
    ) {
        if timestampColumn == nil {
            report.notes.append("no timestamp column: an event's timestamp is its line number")
        }
        if let scenarioColumn {
            report.notes.append("scenario column \(scenarioColumn) read: \(scenarios.count) distinct scenarios kept")
        }
    }
}

/// Amazon's entries are parsed with `JSONSerialization` rather than as ``JSONValue``: decoding
/// a whole object through `JSONValue`'s `Decodable` cascade made the amazon-scientific import
/// 1.5× slower (0.33–0.37 s against 0.44–0.69 s, `swiftrec import --format amazon`, 2026-12-03).
enum JSONValues {
    /// The text of a JSON integer (a number without a fraction), or nil for anything else.
    static func integerText(_ value: Any) -> String? {
        guard let number = value as? NSNumber, !isBool(number) else { return nil }
        let type = String(cString: number.objCType)
        if type == "d" || type == "f" {
            guard let exact = Int64(exactly: number.doubleValue) else { return nil }
            return String(exact)
        }
        return number.stringValue
    }

    static func isBool(_ number: NSNumber) -> Bool {
        let type = String(cString: number.objCType)
        return type == "c" || type == "B"
    }
}
