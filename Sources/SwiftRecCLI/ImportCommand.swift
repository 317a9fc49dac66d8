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

    @OptionGroup var source: DataOptions

    @Option(help: "Also store the import in this SQLite database (created if needed) for `swiftrec serve`.")
    var db: String?

    @OptionGroup var privacy: PseudonymOptions

    @Flag(help: "Print one JSON object as the last line.") var json = false

    /// What `import --json` prints.
    struct Summary: Encodable {
        var format: String
        var read: Int
        var kept: Int
        var rejected: [String: Int]
        var users: Int
        var items: Int
        var events: Int
        var seconds: Double
        var peakRSSMegabytes: Double
        var problems: [String]
        var notes: [String]

        enum CodingKeys: String, CodingKey {
            case format, read, kept, rejected, users, items, events, seconds, problems, notes
            case peakRSSMegabytes = "peak_rss_mb"
        }
    }

    func run() async throws {
        let dataFormat = source.format, data = source.data
        let start = ProcessStats.now()
        // An ImportError (unreadable required file, unusable mapping) prints as "Error: cannot read …".
        let (dataset, report) = try source.read()
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
            try Console.printJSON(
                Summary(
                    format: dataFormat.rawValue, read: report.linesRead, kept: report.recordsKept,
                    rejected: report.rejected, users: dataset.userCount, items: dataset.itemCount,
                    events: dataset.eventCount, seconds: (seconds * 1000).rounded() / 1000,
                    peakRSSMegabytes: rss.map { ($0 * 10).rounded() / 10 } ?? -1,
                    problems: report.problems.prefix(20).map(\.description), notes: report.notes))
        }
        if dataset.eventCount == 0 {
            Console.log("error: no events were imported")
            throw ExitCode.failure
        }
        if let db { _ = try await Self.store(dataset, in: db, privacy: privacy) }
    }

    /// Writes `dataset` into the SQLite file `db` (user ids as pseudonyms when `privacy` asks)
    /// and reports it; returns the open store.
    static func store(_ dataset: Dataset, in db: String, privacy: PseudonymOptions? = nil) async throws
        -> SQLiteStore
    {
        let start = ProcessStats.now()
        let (store, pseudonyms) = try await PseudonymOptions.open(db, pseudonyms: try privacy?.pseudonyms())
        let written = try await store.load(dataset, pseudonyms: pseudonyms)
        Console.log(
            String(
                format: "stored %d items and %d events in %@ (%.1f s)", dataset.itemCount, written, db,
                ProcessStats.now() - start))
        return store
    }
}
