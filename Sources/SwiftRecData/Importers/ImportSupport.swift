import Foundation

/// Interns ids given as bytes. A canonical decimal integer (`0`, `17`, not `017`) is looked up by
/// its value, so the hot loop of a numeric-id file makes no `String` for a known id.
struct ByteIDInterner {
    private(set) var map = IDMap()
    private var numeric: [Int: Int32] = [:]

    /// The index of the UTF-8 id `bytes`, adding it when new.
    mutating func intern(_ bytes: ArraySlice<UInt8>) -> Int32 {
        if let n = bytes.canonicalInteger {
            if let i = numeric[n] { return i }
            let i = map.intern(String(n))
            numeric[n] = i
            return i
        }
        return map.intern(String(decoding: bytes, as: UTF8.self))
    }

    /// The index of `id`, adding it when new.
    mutating func intern(_ id: String) -> Int32 {
        let i = map.intern(id)
        if let n = Array(id.utf8)[...].canonicalInteger { numeric[n] = i }
        return i
    }

    /// The index of a known id, or nil.
    func index(of bytes: ArraySlice<UInt8>) -> Int32? {
        if let n = bytes.canonicalInteger, let i = numeric[n] { return i }
        return map.index(of: String(decoding: bytes, as: UTF8.self))
    }

    func index(of id: String) -> Int32? { map.index(of: id) }

    var count: Int { map.count }
}

/// What an importer collects: id maps, the columnar log, features and the report.
struct ImportSink {
    var users = ByteIDInterner()
    var items = ByteIDInterner()
    var log = InteractionLog()
    var itemInfo: [Int32: Item] = [:]
    var userInfo: [Int32: User] = [:]
    /// The scenario names events carry.
    var scenarios = IDMap()
    var report: ImportReport

    init(options: ImportOptions) { report = ImportReport(maximumProblems: options.maximumProblems) }

    /// The record loop every line-based importer shares: calls `body` with each line of `url`
    /// (a leading byte-order mark dropped) and its number from 1, counting the lines read.
    mutating func readLines(of url: URL, _ body: (inout ImportSink, ArraySlice<UInt8>, _ lineNumber: Int) -> Void) {
        var lineNumber = 0
        for var line in LineReader(url: url) {
            lineNumber += 1
            if lineNumber == 1 { line = line.droppingByteOrderMark }
            report.linesRead += 1
            body(&self, line, lineNumber)
        }
    }

    mutating func addEvent(
        user: Int32, item: Int32, timestamp: Int64, value: Double?, type: EventType,
        scenario: Int32 = InteractionLog.noScenario
    ) {
        log.append(
            user: user, item: item, timestamp: timestamp, value: value.map(Float.init) ?? .nan, type: type,
            scenario: scenario)
    }

    /// Items that have features but no event (cold-start items), noted in the report.
    mutating func noteItemsWithoutEvents(from file: String) {
        var seen = [Bool](repeating: false, count: items.count)
        for i in log.items { seen[Int(i)] = true }
        let unseen = seen.reduce(0) { $0 + ($1 ? 0 : 1) }
        if unseen > 0 {
            report.notes.append("\(unseen) items from \(file) have no events (kept as cold-start items)")
        }
    }

    /// Users that have features but no event, noted in the report.
    mutating func noteUsersWithoutEvents(from file: String) {
        var seen = [Bool](repeating: false, count: users.count)
        for u in log.users { seen[Int(u)] = true }
        let unseen = seen.reduce(0) { $0 + ($1 ? 0 : 1) }
        if unseen > 0 { report.notes.append("\(unseen) users from \(file) have no events (kept)") }
    }

    func build() -> Dataset {
        var itemList = [Item?](repeating: nil, count: items.count)
        for (i, item) in itemInfo { itemList[Int(i)] = item }
        var userList = [User?](repeating: nil, count: users.count)
        for (u, user) in userInfo { userList[Int(u)] = user }
        return Dataset(
            users: users.map, items: items.map, log: log, itemInfo: itemList, userInfo: userList, scenarios: scenarios)
    }

    /// The import's result.
    func finish() -> (dataset: Dataset, report: ImportReport) { (build(), report) }
}

enum ImportFiles {
    /// Throws ``ImportError/unreadable(path:reason:)`` unless `url` is a readable file.
    static func requireFile(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ImportError.unreadable(path: url.path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw ImportError.unreadable(path: url.path, reason: "is a directory") }
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw ImportError.unreadable(path: url.path, reason: "not readable")
        }
    }

    /// Throws unless `url` is a directory.
    static func requireDirectory(_ url: URL, format: DataFormat) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ImportError.unreadable(path: url.path, reason: "no such directory")
        }
        guard isDirectory.boolValue else {
            throw ImportError.unreadable(
                path: url.path, reason: "\(format.rawValue) expects the dataset's directory, not a file")
        }
    }

    /// `name` in `directory` when it is a readable file; otherwise nil and a note in `report`.
    static func optionalFile(_ name: String, in directory: URL, purpose: String, report: inout ImportReport) -> URL? {
        let url = directory.appendingPathComponent(name)
        if FileManager.default.isReadableFile(atPath: url.path) { return url }
        report.notes.append("\(name) not found in \(directory.path): \(purpose)")
        return nil
    }

    /// The number of lines in a whole document (a last line without `\n` counts).
    static func lineCount(_ bytes: [UInt8]) -> Int {
        var n = 0
        for b in bytes where b == 0x0A { n += 1 }
        if let last = bytes.last, last != 0x0A { n += 1 }
        return n
    }
}

extension ArraySlice<UInt8> {
    /// The field without leading and trailing spaces (0x20).
    var trimmingSpaces: ArraySlice<UInt8> {
        var lower = startIndex, upper = endIndex
        while lower < upper && self[lower] == 0x20 { lower += 1 }
        while upper > lower && self[upper - 1] == 0x20 { upper -= 1 }
        return self[lower..<upper]
    }

    /// The value of a decimal integer written the way `String(n)` writes it (no sign, no
    /// leading zero), or nil.
    var canonicalInteger: Int? {
        guard let first = first, count <= 18, first != 0x30 || count == 1 else { return nil }
        return unsignedInteger
    }

    /// An optionally signed decimal integer, or nil.
    var signedInteger: Int64? {
        guard let first = first else { return nil }
        if first == 0x2D || first == 0x2B {
            guard let magnitude = dropFirst().unsignedInteger else { return nil }
            return first == 0x2D ? -Int64(magnitude) : Int64(magnitude)
        }
        return unsignedInteger.map(Int64.init)
    }

    /// A decimal number (`3`, `-2.5`, `1e3`, `nan`, …), or nil when the field is not a number.
    /// Plain decimals up to 15 digits are converted exactly without making a `String`.
    var number: Double? {
        var i = startIndex
        guard i < endIndex else { return nil }
        let negative = self[i] == 0x2D
        if negative || self[i] == 0x2B { i += 1 }
        var mantissa: UInt64 = 0, digits = 0, fractionDigits = 0, seenPoint = false
        while i < endIndex {
            let b = self[i]
            if b >= 0x30 && b <= 0x39 {
                mantissa = mantissa &* 10 &+ UInt64(b - 0x30)
                digits += 1
                if seenPoint { fractionDigits += 1 }
            } else if b == 0x2E && !seenPoint {
                seenPoint = true
            } else {
                break
            }
            i += 1
        }
        if i == endIndex && digits > 0 && digits <= 15 {
            // Both operands are exact, so the quotient is correctly rounded.
            let value = Double(mantissa) / powersOfTen[fractionDigits]
            return negative ? -value : value
        }
        return Double(String(decoding: self, as: UTF8.self))
    }

    /// The field parsed as a timestamp in `format`, in seconds since 1970, or nil.
    func timestamp(_ format: ImportOptions.TimestampFormat) -> Int64? {
        switch format {
        case .unixSeconds: return signedInteger
        case .unixMilliseconds:
            guard let ms = signedInteger else { return nil }
            return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000)
        case .iso8601: return ISO8601Timestamp.parse(self)
        }
    }

    /// Splits into `fields` on `separator`, reusing the array's storage.
    func split(on separator: UInt8, into fields: inout [ArraySlice<UInt8>]) {
        fields.removeAll(keepingCapacity: true)
        var fieldStart = startIndex
        var i = startIndex
        while i < endIndex {
            if self[i] == separator {
                fields.append(self[fieldStart..<i])
                fieldStart = i + 1
            }
            i += 1
        }
        fields.append(self[fieldStart..<endIndex])
    }

    /// Splits into `fields` on the two-byte separator `::` (MovieLens 1M), reusing storage.
    func splitOnDoubleColon(into fields: inout [ArraySlice<UInt8>]) {
        fields.removeAll(keepingCapacity: true)
        var fieldStart = startIndex
        var i = startIndex
        while i + 1 < endIndex {
            if self[i] == 0x3A && self[i + 1] == 0x3A {
                fields.append(self[fieldStart..<i])
                i += 2
                fieldStart = i
            } else {
                i += 1
            }
        }
        fields.append(self[fieldStart..<endIndex])
    }

    /// The line without a leading UTF-8 byte order mark (as spreadsheet exports write).
    var droppingByteOrderMark: ArraySlice<UInt8> {
        starts(with: [0xEF, 0xBB, 0xBF]) ? dropFirst(3) : self
    }

    /// The field's first bytes as text, for a problem's detail.
    var preview: String {
        let text = String(decoding: prefix(60), as: UTF8.self)
        return count > 60 ? "'\(text)…'" : "'\(text)'"
    }
}

private let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

/// Parses ISO-8601 dates and times without a formatter (fast and the same on every platform).
enum ISO8601Timestamp {
    /// Seconds since 1970 for `YYYY-MM-DD`, optionally followed by `T` or a space, `HH:MM`,
    /// optional `:SS`, optional fraction (dropped) and an optional zone (`Z`, `±HH`, `±HH:MM`,
    /// `±HHMM`; none means UTC).
    static func parse(_ text: ArraySlice<UInt8>) -> Int64? {
        let b = Array(text)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            i += n
            return v
        }
        func expect(_ byte: UInt8) -> Bool {
            guard i < b.count, b[i] == byte else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2),
            (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        var seconds = daysFromCivil(year: year, month: month, day: day) * 86_400
        if i == b.count { return seconds }
        guard b[i] == 0x54 || b[i] == 0x74 || b[i] == 0x20 else { return nil }
        i += 1
        guard let hour = digits(2), expect(0x3A), let minute = digits(2), hour < 24, minute < 60 else { return nil }
        var second = 0
        if expect(0x3A) {
            guard let s = digits(2), s <= 60 else { return nil }
            second = s
            if i < b.count && (b[i] == 0x2E || b[i] == 0x2C) {
                i += 1
                let start = i
                while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
                guard i > start else { return nil }
            }
        }
        seconds += Int64(hour * 3600 + minute * 60 + second)
        if i == b.count { return seconds }
        if b[i] == 0x5A || b[i] == 0x7A {
            i += 1
            return i == b.count ? seconds : nil
        }
        guard b[i] == 0x2B || b[i] == 0x2D else { return nil }
        let sign: Int64 = b[i] == 0x2B ? 1 : -1
        i += 1
        guard let zoneHours = digits(2), zoneHours < 24 else { return nil }
        var zoneMinutes = 0
        if i < b.count {
            _ = expect(0x3A)
            guard let m = digits(2), m < 60 else { return nil }
            zoneMinutes = m
        }
        guard i == b.count else { return nil }
        return seconds - sign * Int64(zoneHours * 3600 + zoneMinutes * 60)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return Int64(era * 146_097 + dayOfEra - 719_468)
    }
}

enum MovieTitle {
    /// The year in a MovieLens title's trailing `(1995)` (or `(1994-1998)`), or nil.
    static func year(in title: String) -> String? {
        let trimmed = title.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasSuffix(")"), let open = trimmed.lastIndex(of: "(") else { return nil }
        let inside = trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]
        let year = inside.prefix(4)
        guard year.count == 4, year.allSatisfy(\.isASCII), year.allSatisfy(\.isNumber) else { return nil }
        guard inside.count == 4 || inside.dropFirst(4).first == "-" || inside.dropFirst(4).first == "–" else {
            return nil
        }
        return String(year)
    }
}
