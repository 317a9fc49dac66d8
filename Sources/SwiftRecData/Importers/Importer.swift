import Foundation

/// The file formats ``Importer`` reads. The raw value is the name the command line uses.
public enum DataFormat: String, CaseIterable, Sendable {
    /// MovieLens 100K: a directory with `u.data` (required), `u.item`, `u.user`, `u.genre`.
    case ml100k = "ml-100k"
    /// MovieLens 1M: a directory with `ratings.dat` (required), `movies.dat`, `users.dat`, or
    /// the ratings file itself (the other two are looked for beside it).
    case ml1m = "ml-1m"
    /// MovieLens latest / 25M / small: a directory with `ratings.csv` (required), `movies.csv`,
    /// `tags.csv`, `links.csv`.
    case mlLatest = "ml-latest"
    /// The sequence format (one user per line, item ids in time order), see ``SequenceImporter``.
    case sequence = "ml-1m-seq"
    /// Amazon JSON pair: a directory with `*.inter.json` (required) and `*.item.json`.
    case amazon
    /// Comma-separated values with a column mapping (``ImportOptions``).
    case csv
    /// Tab-separated values with a column mapping (``ImportOptions``).
    case tsv
    /// JSON Lines: one JSON object per line, keys named by ``ImportOptions``.
    case jsonl
}

/// How to read a file: the column mapping for `csv`, `tsv` and `jsonl`, the timestamp format
/// and how many problems the report keeps. MovieLens, Amazon and the sequence format ignore
/// the mapping.
public struct ImportOptions: Sendable, Equatable {
    /// Header names a column is found by when no mapping names it, per role, lowercased; the
    /// first present wins (`user_id,item_id,timestamp` and MovieLens's `userId,movieId,rating`
    /// need no mapping).
    public static let commonNames: [String: [String]] = [
        "user": ["user", "user_id", "userid", "uid", "customer_id", "visitor_id", "visitorid", "reviewer_id"],
        "item": ["item", "item_id", "itemid", "iid", "movieid", "movie_id", "product_id", "productid", "asin"],
        "timestamp": ["timestamp", "ts", "time", "event_time", "unix_time"],
        "value": ["value", "rating", "score"],
        "type": ["type", "event_type", "event", "action", "behavior"],
        "scenario": ["scenario"],
    ]

    /// A column, by header name or by 0-based index.
    public enum Column: Sendable, Equatable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral,
        ExpressibleByIntegerLiteral
    {
        case name(String)
        case index(Int)

        public init(stringLiteral value: String) { self = .name(value) }
        public init(integerLiteral value: Int) { self = .index(value) }

        /// A column from the command line: a non-negative integer is an index, anything else a name.
        public init(parsing text: String) {
            if let n = Int(text), n >= 0 { self = .index(n) } else { self = .name(text) }
        }

        public var description: String {
            switch self {
            case .name(let name): return "'\(name)'"
            case .index(let index): return "#\(index)"
            }
        }
    }

    /// How timestamps are written.
    public enum TimestampFormat: String, Sendable, CaseIterable {
        /// Integer seconds since 1970 (UTC).
        case unixSeconds = "unix"
        /// Integer milliseconds since 1970 (UTC); stored as whole seconds (rounded down).
        case unixMilliseconds = "unix-ms"
        /// `2024-05-01`, `2024-05-01T12:30:00Z`, `2024-05-01 12:30:00.25+02:00`; no zone means UTC.
        case iso8601
    }

    /// The user id column. Default: the header's `user` column, or column 0 without a header.
    public var user: Column?
    /// The item id column. Default: the header's `item` column, or column 1 without a header.
    public var item: Column?
    /// The timestamp column. Default: the header's `timestamp` column if there is one;
    /// without it an event's timestamp is its line number.
    public var timestamp: Column?
    /// The value (rating, strength) column. Default: the header's `value` column if any.
    public var value: Column?
    /// The event type column (`view`, `click`, `cart`, `purchase`, `rating`, …). Default: the
    /// header's `type` column if any. An event without a type is a rating when it has a value
    /// and a view otherwise.
    public var type: Column?
    /// The scenario column. Default: the header's `scenario` column if any.
    public var scenario: Column?
    /// User attribute columns (`age`, `gender`, `zip`, …): each row's values become the row's
    /// user's attributes under the column's name (a later row's value replaces an earlier one).
    public var userAttributes: [Column]
    /// Item attribute columns (`year`, `brand`, …), read like ``userAttributes``.
    public var itemAttributes: [Column]
    /// The item categories column (genres): values separated by ``categorySeparator``; a JSON
    /// Lines list of strings is read as the list.
    public var itemCategories: Column?
    /// The item title column (item text, for the text models).
    public var itemTitle: Column?
    /// What separates the categories in one field (default `|`).
    public var categorySeparator: UInt8
    /// Whether the first line of a `csv`/`tsv` file names the columns.
    public var header: Bool
    /// The field separator for `csv`/`tsv` (default `,` and tab).
    public var delimiter: UInt8?
    public var timestampFormat: TimestampFormat
    /// How many problems the report lists by file and line (all are counted).
    public var maximumProblems: Int

    public init(
        user: Column? = nil, item: Column? = nil, timestamp: Column? = nil, value: Column? = nil,
        type: Column? = nil, scenario: Column? = nil, userAttributes: [Column] = [], itemAttributes: [Column] = [],
        itemCategories: Column? = nil, itemTitle: Column? = nil, categorySeparator: UInt8 = 0x7C,
        header: Bool = true, delimiter: UInt8? = nil, timestampFormat: TimestampFormat = .unixSeconds,
        maximumProblems: Int = 100
    ) {
        self.user = user
        self.item = item
        self.timestamp = timestamp
        self.value = value
        self.type = type
        self.scenario = scenario
        self.userAttributes = userAttributes
        self.itemAttributes = itemAttributes
        self.itemCategories = itemCategories
        self.itemTitle = itemTitle
        self.categorySeparator = categorySeparator
        self.header = header
        self.delimiter = delimiter
        self.timestampFormat = timestampFormat
        self.maximumProblems = maximumProblems
    }
}

/// Reads any ``DataFormat`` into a ``Dataset`` and an ``ImportReport``.
///
/// Every importer keeps each good line, rejects each malformed one with its file, line number
/// and a stable reason (``ImportReport/rejected`` counts them by reason) and streams its large
/// files line by line. Only an unreadable required file (or an unusable column mapping) throws.
public enum Importer {
    public static func read(format: DataFormat, path: URL, options: ImportOptions = .init()) throws -> (
        dataset: Dataset, report: ImportReport
    ) {
        switch format {
        case .ml100k: return try MovieLens100KImporter.read(directory: path, options: options)
        case .ml1m: return try MovieLens1MImporter.read(path: path, options: options)
        case .mlLatest: return try MovieLensLatestImporter.read(directory: path, options: options)
        case .sequence: return try SequenceImporter.read(url: path)
        case .amazon: return try AmazonImporter.read(directory: path, options: options)
        case .csv: return try DelimitedImporter.read(url: path, delimiter: options.delimiter ?? 0x2C, options: options)
        case .tsv: return try DelimitedImporter.read(url: path, delimiter: options.delimiter ?? 0x09, options: options)
        case .jsonl: return try JSONLinesImporter.read(url: path, options: options)
        }
    }

    /// Reads a format named as on the command line (`ml-100k`, `csv`, …).
    public static func read(format name: String, path: URL, options: ImportOptions = .init()) throws -> (
        dataset: Dataset, report: ImportReport
    ) {
        guard let format = DataFormat(rawValue: name) else { throw ImportError.unknownFormat(name) }
        return try read(format: format, path: path, options: options)
    }
}
