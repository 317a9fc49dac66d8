import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecServing

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read a dataset, check every line and print what was kept and rejected.",
        discussion:
            "Formats: \(DataFormat.allCases.map(\.rawValue).joined(separator: ", ")). ml-100k, ml-1m, ml-latest and "
            + "amazon read a directory (ml-1m also takes its ratings file); ml-1m-seq, csv, tsv and jsonl read a "
            + "file. Malformed lines are reported with file, line and reason; every good line is kept.")

    @Option(help: "The data format (\(DataFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: String

    @Option(help: "The dataset's directory or file.")
    var data: String

    @Option(help: "Also store the import in this SQLite database (created if needed) for `swiftrec serve`.")
    var db: String?

    @Flag(help: "Print one JSON object as the last line.") var json = false

    @Option(help: "csv/tsv/jsonl: the user id column (a header name or 0-based index).")
    var userColumn: String?
    @Option(help: "csv/tsv/jsonl: the item id column.") var itemColumn: String?
    @Option(help: "csv/tsv/jsonl: the timestamp column (default: 'timestamp' if present, else the line number).")
    var timestampColumn: String?
    @Option(help: "csv/tsv/jsonl: the value (rating) column.") var valueColumn: String?
    @Option(help: "csv/tsv/jsonl: the event type column (view, click, cart, purchase, rating, …).")
    var typeColumn: String?
    @Option(help: "csv/tsv/jsonl: the scenario column.") var scenarioColumn: String?
    @Option(help: "csv/tsv: the field separator: one character, or 'tab'.") var delimiter: String?
    @Flag(help: "csv/tsv: the first line is data, not column names.") var noHeader = false
    @Option(
        help:
            "How timestamps are written: \(ImportOptions.TimestampFormat.allCases.map(\.rawValue).joined(separator: ", "))."
    )
    var timestampFormat = ImportOptions.TimestampFormat.unixSeconds.rawValue
    @Option(help: "How many problems to list by file and line (all are counted).") var maxProblems = 100

    func validate() throws {
        guard DataFormat(rawValue: format) != nil else {
            throw ValidationError(
                "--format: unknown format '\(format)'; use one of \(DataFormat.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard ImportOptions.TimestampFormat(rawValue: timestampFormat) != nil else {
            throw ValidationError(
                "--timestamp-format: '\(timestampFormat)' is not one of "
                    + ImportOptions.TimestampFormat.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard maxProblems >= 0 else { throw ValidationError("--max-problems must be at least 0") }
        _ = try delimiterByte()
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

    func run() async throws {
        let dataFormat = DataFormat(rawValue: format)!
        let options = ImportOptions(
            user: userColumn.map(ImportOptions.Column.init(parsing:)),
            item: itemColumn.map(ImportOptions.Column.init(parsing:)),
            timestamp: timestampColumn.map(ImportOptions.Column.init(parsing:)),
            value: valueColumn.map(ImportOptions.Column.init(parsing:)),
            type: typeColumn.map(ImportOptions.Column.init(parsing:)),
            scenario: scenarioColumn.map(ImportOptions.Column.init(parsing:)), header: !noHeader,
            delimiter: try delimiterByte(), timestampFormat: ImportOptions.TimestampFormat(rawValue: timestampFormat)!,
            maximumProblems: maxProblems)
        let start = ProcessStats.now()
        // An ImportError (unreadable required file, unusable mapping) prints as "Error: cannot read …".
        let (dataset, report) = try Importer.read(
            format: dataFormat, path: URL(fileURLWithPath: data), options: options)
        let seconds = ProcessStats.now() - start
        let rss = ProcessStats.peakRSSMegabytes()
        Console.log(
            String(
                format: "%@ from %@: %d users, %d items, %d events in %.2f s (peak RSS %@)", dataFormat.rawValue, data,
                dataset.userCount, dataset.itemCount, dataset.eventCount, seconds,
                rss.map { String(format: "%.0f MB", $0) } ?? "unknown"))
        Console.log(report.description)
        if report.problems.count > 10 {
            Console.log("  … \(report.problems.count - 10) more problems listed with --json")
        }
        if json {
            try Console.printJSON([
                "format": dataFormat.rawValue,
                "read": report.linesRead, "kept": report.recordsKept, "rejected": report.rejected,
                "users": dataset.userCount, "items": dataset.itemCount, "events": dataset.eventCount,
                "seconds": (seconds * 1000).rounded() / 1000,
                "peak_rss_mb": rss.map { ($0 * 10).rounded() / 10 } ?? -1,
                "problems": report.problems.prefix(20).map(\.description),
                "notes": report.notes,
            ])
        }
        if dataset.eventCount == 0 {
            Console.log("error: no events were imported")
            throw ExitCode.failure
        }
        if let db { _ = try await Self.store(dataset, in: db) }
    }

    /// Writes `dataset` into the SQLite file `db` and reports it; returns the open store.
    static func store(_ dataset: Dataset, in db: String) async throws -> SQLiteStore {
        let start = ProcessStats.now()
        let store = try SQLiteStore(path: db)
        let written = try await store.load(dataset)
        Console.log(
            String(
                format: "stored %d items and %d events in %@ (%.1f s)", dataset.itemCount, written, db,
                ProcessStats.now() - start))
        return store
    }
}
