import Foundation

/// The fields of one CSV record, stored in one reused byte buffer (no allocation per field).
struct CSVFields {
    private(set) var bytes: [UInt8] = []
    private(set) var ranges: [Range<Int>] = []

    var count: Int { ranges.count }

    subscript(index: Int) -> ArraySlice<UInt8> { bytes[ranges[index]] }

    /// The field at `index`, or nil past the end.
    func field(_ index: Int) -> ArraySlice<UInt8>? { index < ranges.count ? bytes[ranges[index]] : nil }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ranges.removeAll(keepingCapacity: true)
    }

    fileprivate mutating func append(_ byte: UInt8) { bytes.append(byte) }
    fileprivate mutating func append(contentsOf slice: ArraySlice<UInt8>) { bytes.append(contentsOf: slice) }
    fileprivate mutating func endField(from start: Int) { ranges.append(start..<bytes.count) }
}

/// RFC 4180 fields: separated by a delimiter; a field that starts with `"` is quoted, may hold
/// delimiters, line breaks and `""` (one quote). A quote inside an unquoted field is kept as
/// text; text after a closing quote other than the delimiter is an error.
enum CSVParser {
    enum Outcome: Equatable {
        case complete
        /// The record ends inside a quoted field: it continues on the next line.
        case openQuote
        /// A closing quote followed by something other than the delimiter.
        case textAfterClosingQuote
    }

    /// Parses `record` (one line, or several joined with `\n`) into `fields`.
    static func parse(_ record: ArraySlice<UInt8>, delimiter: UInt8, into fields: inout CSVFields) -> Outcome {
        fields.removeAll()
        var i = record.startIndex
        let end = record.endIndex
        while true {
            let start = fields.bytes.count
            if i < end && record[i] == 0x22 {
                i += 1
                while true {
                    guard i < end else { return .openQuote }
                    let b = record[i]
                    if b == 0x22 {
                        if i + 1 < end && record[i + 1] == 0x22 {
                            fields.append(0x22)
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    fields.append(b)
                    i += 1
                }
                fields.endField(from: start)
                if i == end { return .complete }
                guard record[i] == delimiter else { return .textAfterClosingQuote }
                i += 1
            } else {
                var j = i
                while j < end && record[j] != delimiter { j += 1 }
                fields.append(contentsOf: record[i..<j])
                fields.endField(from: start)
                if j == end { return .complete }
                i = j + 1
            }
        }
    }
}

/// Reads CSV records from a file as a stream: usually one record per line; a quoted field that
/// spans lines joins them (up to ``maximumLinesPerRecord``). A quote that never closes rejects
/// only its own line, and reading goes on with the next one.
struct CSVRecordReader {
    static let maximumLinesPerRecord = 100

    enum Record {
        /// Fields of a record that starts on `line`.
        case fields(line: Int)
        /// A line that is not a record.
        case problem(line: Int, reason: String, detail: String?)
    }

    private var lines: LineReader.Iterator
    private var pending: [(number: Int, bytes: [UInt8])] = []
    let delimiter: UInt8
    /// Lines taken from the file so far.
    private(set) var linesRead = 0
    /// The fields of the last `.fields` record.
    var fields = CSVFields()

    init(url: URL, delimiter: UInt8) {
        lines = LineReader(url: url).makeIterator()
        self.delimiter = delimiter
    }

    private mutating func nextLine() -> (number: Int, bytes: ArraySlice<UInt8>)? {
        if !pending.isEmpty {
            let line = pending.removeFirst()
            return (line.number, line.bytes[...])
        }
        guard let bytes = lines.next() else { return nil }
        linesRead += 1
        return (linesRead, linesRead == 1 ? bytes.droppingByteOrderMark : bytes)
    }

    mutating func next() -> Record? {
        guard let (number, line) = nextLine() else { return nil }
        switch CSVParser.parse(line, delimiter: delimiter, into: &fields) {
        case .complete: return .fields(line: number)
        case .textAfterClosingQuote:
            return .problem(line: number, reason: "text after a closing quote", detail: nil)
        case .openQuote: break
        }
        // A quoted field runs on over the next lines.
        var joined = Array(line)
        var taken: [(number: Int, bytes: [UInt8])] = []
        var outcome = CSVParser.Outcome.openQuote
        while outcome == .openQuote, taken.count < Self.maximumLinesPerRecord - 1, let (n, more) = nextLine() {
            taken.append((n, Array(more)))
            joined.append(0x0A)
            joined.append(contentsOf: more)
            if more.contains(0x22) { outcome = CSVParser.parse(joined[...], delimiter: delimiter, into: &fields) }
        }
        if outcome == .complete { return .fields(line: number) }
        // The quote opened on this line does not close well: reject only this line; the lines
        // after it are read again as records of their own.
        pending = taken + pending
        return .problem(
            line: number, reason: "unterminated quoted field",
            detail: outcome == .openQuote
                ? "no closing quote within \(Self.maximumLinesPerRecord) lines"
                : "the quote closes on a later line with text after it")
    }
}
