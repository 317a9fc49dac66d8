import Foundation

/// Reads a generic CSV or TSV event file (RFC 4180 quoting) with a column mapping from
/// ``ImportOptions``: one event per row.
///
/// With a header, columns are found by name (by default the usual spellings of
/// ``ImportOptions/commonNames``: `user`/`user_id`/`userId`, `item`/`item_id`/`movieId`,
/// `timestamp`/`ts`/`time`, `value`/`rating`, `type`, `scenario`; the last four are optional) or by index, and each row must have
/// as many fields as the header. Without a header, columns are indices (user 0 and item 1 by
/// default) and a row needs at least enough fields for them.
public enum DelimitedImporter {
    public static func read(url: URL, delimiter: UInt8, options: ImportOptions = .init()) throws -> (
        dataset: Dataset, report: ImportReport
    ) {
        try ImportFiles.requireFile(url)
        let file = url.lastPathComponent
        var sink = ImportSink(options: options)
        var reader = CSVRecordReader(url: url, delimiter: delimiter)
        var headerNames: [String]?
        if options.header {
            while headerNames == nil, let record = reader.next() {
                switch record {
                case .fields:
                    headerNames = (0..<reader.fields.count).map {
                        String(decoding: reader.fields[$0].trimmingSpaces, as: UTF8.self)
                    }
                case .problem(let line, let reason, let detail):
                    sink.report.reject(file: file, line: line, reason: reason, detail: detail)
                }
            }
            guard headerNames != nil else {
                throw ImportError.unreadable(path: url.path, reason: "the file is empty (expected a header line)")
            }
        }
        let columns = try ColumnMapping(options: options, header: headerNames, path: url.path)
        var checker = EventRecordChecker(options: options, hasTimestamp: columns.timestamp != nil)
        var features = FeatureColumnsReader(
            userKeys: columns.userAttributes.map { columns.name($0) },
            itemKeys: columns.itemAttributes.map { columns.name($0) },
            readsCategories: columns.itemCategories != nil, readsTitle: columns.itemTitle != nil,
            separator: options.categorySeparator)
        let separator = delimiter == 0x09 ? "tab" : "'\(UnicodeScalar(delimiter))'"
        while let record = reader.next() {
            let line: Int
            switch record {
            case .problem(let line, let reason, let detail):
                sink.report.reject(file: file, line: line, reason: reason, detail: detail)
                continue
            case .fields(let number): line = number
            }
            let fields = reader.fields
            if fields.count == 1 && fields[0].isEmpty {
                sink.report.reject(file: file, line: line, reason: "blank line")
                continue
            }
            if let headerNames, fields.count != headerNames.count {
                sink.report.reject(
                    file: file, line: line, reason: "wrong number of fields",
                    detail: "expected \(headerNames.count) \(separator)-separated fields, found \(fields.count)")
                continue
            }
            if fields.count < columns.needed {
                sink.report.reject(
                    file: file, line: line, reason: "wrong number of fields",
                    detail: "expected at least \(columns.needed) \(separator)-separated fields, found \(fields.count)")
                continue
            }
            let event = EventRecord(
                user: fields[columns.user], item: fields[columns.item], timestamp: columns.timestamp.map { fields[$0] },
                value: columns.value.map { fields[$0] }, type: columns.type.map { fields[$0] },
                scenario: columns.scenario.map { fields[$0] })
            guard let (user, item) = checker.add(event, file: file, line: line, into: &sink), !features.isEmpty else {
                continue
            }
            func value(_ column: Int?) -> FeatureValue { column.map { .text(fields[$0]) } ?? .absent }
            features.add(
                user: user, item: item, userValues: columns.userAttributes.map { value($0) },
                itemValues: columns.itemAttributes.map { value($0) }, categories: value(columns.itemCategories),
                title: value(columns.itemTitle), line: line, into: &sink)
        }
        features.addNotes(to: &sink.report)
        sink.report.linesRead += reader.linesRead
        checker.addNotes(
            to: &sink.report, scenarioColumn: columns.scenario.map { columns.describe($0) },
            timestampColumn: columns.timestamp.map { columns.describe($0) }, scenarios: sink.scenarios)
        return sink.finish()
    }

    /// Column indices resolved from the options and the header.
    struct ColumnMapping {
        var user: Int
        var item: Int
        var timestamp: Int?
        var value: Int?
        var type: Int?
        var scenario: Int?
        var userAttributes: [Int] = []
        var itemAttributes: [Int] = []
        var itemCategories: Int?
        var itemTitle: Int?
        let header: [String]?

        /// Fields a row needs for every mapped column.
        var needed: Int {
            ([user, item, timestamp, value, type, scenario, itemCategories, itemTitle].compactMap { $0 }
                + userAttributes + itemAttributes).max()! + 1
        }

        func describe(_ index: Int) -> String {
            if let header, index < header.count { return "'\(header[index])'" }
            return "#\(index)"
        }

        /// The attribute name a feature column's values are stored under: its header name, or
        /// `column_N` without a header.
        func name(_ index: Int) -> String {
            if let header, index < header.count { return header[index] }
            return "column_\(index)"
        }

        init(options: ImportOptions, header: [String]?, path: String) throws {
            self.header = header
            let lowered = header?.map { $0.lowercased() }
            func resolve(_ column: ImportOptions.Column?, role: String, defaultName: String, defaultIndex: Int?)
                throws -> Int?
            {
                switch column {
                case .index(let i)?:
                    if let header, i >= header.count {
                        throw ImportError.unreadable(
                            path: path, reason: "\(role) column #\(i) is past the header's \(header.count) columns")
                    }
                    return i
                case .name(let name)?:
                    guard let lowered else {
                        throw ImportError.unreadable(
                            path: path,
                            reason: "\(role) column '\(name)' is a name but the file has no header; give an index")
                    }
                    guard let i = lowered.firstIndex(of: name.lowercased()) else {
                        throw ImportError.unreadable(
                            path: path,
                            reason:
                                "the header has no \(role) column '\(name)' (it has \(header!.joined(separator: ", ")))"
                        )
                    }
                    return i
                case nil:
                    if let lowered {
                        let names = ImportOptions.commonNames[role] ?? [defaultName]
                        return names.lazy.compactMap { lowered.firstIndex(of: $0) }.first
                    }
                    return defaultIndex
                }
            }
            func required(_ column: ImportOptions.Column?, role: String, defaultIndex: Int) throws -> Int {
                guard let i = try resolve(column, role: role, defaultName: role, defaultIndex: defaultIndex) else {
                    throw ImportError.unreadable(
                        path: path,
                        reason:
                            "the header has no \(role) column (it has \(header?.joined(separator: ", ") ?? ""); "
                            + "recognised names: \((ImportOptions.commonNames[role] ?? [role]).joined(separator: ", "))); "
                            + "name it with ImportOptions.\(role) (--\(role)-column)")
                }
                return i
            }
            user = try required(options.user, role: "user", defaultIndex: 0)
            item = try required(options.item, role: "item", defaultIndex: 1)
            timestamp = try resolve(options.timestamp, role: "timestamp", defaultName: "timestamp", defaultIndex: nil)
            value = try resolve(options.value, role: "value", defaultName: "value", defaultIndex: nil)
            type = try resolve(options.type, role: "type", defaultName: "type", defaultIndex: nil)
            scenario = try resolve(options.scenario, role: "scenario", defaultName: "scenario", defaultIndex: nil)
            // Feature columns are read only when named: they have no usual header names.
            userAttributes = try options.userAttributes.compactMap {
                try resolve($0, role: "user attribute", defaultName: "", defaultIndex: nil)
            }
            itemAttributes = try options.itemAttributes.compactMap {
                try resolve($0, role: "item attribute", defaultName: "", defaultIndex: nil)
            }
            if let column = options.itemCategories {
                itemCategories = try resolve(column, role: "item categories", defaultName: "", defaultIndex: nil)
            }
            if let column = options.itemTitle {
                itemTitle = try resolve(column, role: "item title", defaultName: "", defaultIndex: nil)
            }
        }
    }
}
