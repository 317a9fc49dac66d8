import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecTensor

extension DataFormat: ExpressibleByArgument {}
extension ScoringPrecision: ExpressibleByArgument {}
extension ImportOptions.TimestampFormat: ExpressibleByArgument {}

/// Where a command's data comes from and how to read it: the same options for every command
/// that reads data (`import`, `train`, `evaluate`, the benchmarks), so a column mapping that
/// imports a file also trains on it.
struct DataOptions: ParsableArguments {
    @Option(help: "The dataset's directory or file.") var data: String
    @Option(help: "The data format.") var format: DataFormat

    @Option(
        help: "csv/tsv/jsonl: the user id column (a header name or 0-based index; default: user, user_id, userId, …).")
    var userColumn: String?
    @Option(help: "csv/tsv/jsonl: the item id column (default: item, item_id, movieId, …).") var itemColumn: String?
    @Option(
        help: "csv/tsv/jsonl: the timestamp column (default: timestamp, ts or time if present, else the line number).")
    var timestampColumn: String?
    @Option(help: "csv/tsv/jsonl: the value column (default: value or rating if present).") var valueColumn: String?
    @Option(help: "csv/tsv/jsonl: the event type column (view, click, cart, purchase, rating, …).")
    var typeColumn: String?
    @Option(help: "csv/tsv/jsonl: the scenario column.") var scenarioColumn: String?
    @Option(
        help: ArgumentHelp(
            "csv/tsv/jsonl: user attribute columns, comma-separated (e.g. age,gender,zip).",
            discussion:
                "Each becomes a user feature named after its column; a later row's value replaces an earlier one."))
    var userAttributeColumns: String?
    @Option(help: "csv/tsv/jsonl: item attribute columns, comma-separated (e.g. year,brand).")
    var itemAttributeColumns: String?
    @Option(help: "csv/tsv/jsonl: the item categories column (genres), values separated by --category-separator.")
    var itemCategoriesColumn: String?
    @Option(help: "csv/tsv/jsonl: the item title column (item text).") var itemTitleColumn: String?
    @Option(help: "csv/tsv/jsonl: what separates categories in one field (one character).") var categorySeparator = "|"
    @Option(help: "csv/tsv: the field separator: one character, or 'tab'.") var delimiter: String?
    @Flag(help: "csv/tsv: the first line is data, not column names.") var noHeader = false
    @Option(help: "How timestamps are written.") var timestampFormat = ImportOptions.TimestampFormat.unixSeconds
    @Option(help: "How many problems to list by file and line (all are counted).") var maxProblems = 100

    func validate() throws {
        guard maxProblems >= 0 else { throw ValidationError("--max-problems must be at least 0") }
        _ = try delimiterByte()
        guard categorySeparator.utf8.count == 1 else {
            throw ValidationError("--category-separator: '\(categorySeparator)' is not one ASCII character")
        }
        for (flag, list) in [
            ("--user-attribute-columns", userAttributeColumns), ("--item-attribute-columns", itemAttributeColumns),
        ] {
            if let list, Self.columns(list).isEmpty { throw ValidationError("\(flag): no column named in '\(list)'") }
        }
    }

    /// The columns of a comma-separated list, blanks dropped.
    private static func columns(_ list: String?) -> [ImportOptions.Column] {
        (list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map(ImportOptions.Column.init(parsing:))
    }

    private func delimiterByte() throws -> UInt8? {
        guard let delimiter else { return nil }
        switch delimiter {
        case "tab", "\\t", "\t": return 0x09
        default:
            guard delimiter.utf8.count == 1, let byte = delimiter.utf8.first, byte != 0x22, byte != 0x0A else {
                throw ValidationError("--delimiter: '\(delimiter)' is not one ASCII character (or 'tab')")
            }
            return byte
        }
    }

    var importOptions: ImportOptions {
        get throws {
            ImportOptions(
                user: userColumn.map(ImportOptions.Column.init(parsing:)),
                item: itemColumn.map(ImportOptions.Column.init(parsing:)),
                timestamp: timestampColumn.map(ImportOptions.Column.init(parsing:)),
                value: valueColumn.map(ImportOptions.Column.init(parsing:)),
                type: typeColumn.map(ImportOptions.Column.init(parsing:)),
                scenario: scenarioColumn.map(ImportOptions.Column.init(parsing:)),
                userAttributes: Self.columns(userAttributeColumns), itemAttributes: Self.columns(itemAttributeColumns),
                itemCategories: itemCategoriesColumn.map(ImportOptions.Column.init(parsing:)),
                itemTitle: itemTitleColumn.map(ImportOptions.Column.init(parsing:)),
                categorySeparator: categorySeparator.utf8.first ?? 0x7C, header: !noHeader,
                delimiter: try delimiterByte(), timestampFormat: timestampFormat, maximumProblems: maxProblems)
        }
    }

    /// Reads the data; an unreadable required file or unusable mapping throws an ``ImportError``.
    func read() throws -> (dataset: Dataset, report: ImportReport) {
        try Importer.read(format: format, path: URL(fileURLWithPath: data), options: importOptions)
    }
}
