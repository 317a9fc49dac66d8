import Foundation

/// Reads MovieLens 100K from its directory:
/// - `u.data` (required): `user \t item \t rating \t timestamp`; each line becomes a rating event;
/// - `u.item` (optional, ISO-8859-1): `id|title|release date|video release date|IMDb URL|` and one
///   0/1 flag per genre; genres become categories, the year, dates and IMDb URL attributes;
/// - `u.user` (optional): `id|age|gender|occupation|zip`, kept as user attributes;
/// - `u.genre` (optional): the genre names in flag order (the standard 19 when absent).
///
/// Items and users are read first, so a rating of an item missing from `u.item` (or of a user
/// missing from `u.user`) is rejected as unknown; without those files every id is accepted.
public enum MovieLens100KImporter {
    /// The genres of `u.genre`, in flag order.
    public static let standardGenres = [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
        "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ]

    public static func read(directory: URL, options: ImportOptions = .init()) throws -> (
        dataset: Dataset, report: ImportReport
    ) {
        try ImportFiles.requireDirectory(directory, format: .ml100k)
        let ratings = directory.appendingPathComponent("u.data")
        try ImportFiles.requireFile(ratings)
        var sink = ImportSink(options: options)
        var genres = standardGenres
        if let url = ImportFiles.optionalFile(
            "u.genre", in: directory, purpose: "using the standard 19 genre names", report: &sink.report)
        {
            genres = readGenres(url)
        }
        let itemsURL = ImportFiles.optionalFile(
            "u.item", in: directory, purpose: "items have no titles or genres", report: &sink.report)
        if let itemsURL { readItems(itemsURL, genres: genres, into: &sink) }
        let usersURL = ImportFiles.optionalFile(
            "u.user", in: directory, purpose: "users have no attributes", report: &sink.report)
        if let usersURL { readUsers(usersURL, into: &sink) }
        readRatings(
            ratings, knownItems: itemsURL?.lastPathComponent, knownUsers: usersURL?.lastPathComponent, into: &sink)
        if let itemsURL { sink.noteItemsWithoutEvents(from: itemsURL.lastPathComponent) }
        if let usersURL { sink.noteUsersWithoutEvents(from: usersURL.lastPathComponent) }
        return sink.finish()
    }

    /// `name|id` lines; names ordered by id.
    static func readGenres(_ url: URL) -> [String] {
        var named: [(Int, String)] = []
        var fields: [ArraySlice<UInt8>] = []
        for line in LineReader(url: url) where !line.isEmpty {
            line.split(on: 0x7C, into: &fields)
            if fields.count == 2, let id = fields[1].unsignedInteger { named.append((id, Latin1.decode(fields[0]))) }
        }
        let sorted = named.sorted { $0.0 < $1.0 }
        return sorted.enumerated().allSatisfy({ $0.offset == $0.element.0 }) && !sorted.isEmpty
            ? sorted.map(\.1) : standardGenres
    }

    static func readItems(_ url: URL, genres: [String], into sink: inout ImportSink) {
        let file = url.lastPathComponent
        var fields: [ArraySlice<UInt8>] = []
        sink.readLines(of: url) { sink, line, lineNumber in
            line.split(on: 0x7C, into: &fields)
            guard fields.count == 5 + genres.count else {
                sink.report.reject(
                    file: file, line: lineNumber, reason: line.isEmpty ? "blank line" : "wrong number of fields",
                    detail: line.isEmpty
                        ? nil : "expected \(5 + genres.count) '|'-separated fields, found \(fields.count)")
                return
            }
            let id = fields[0].trimmingSpaces
            guard !id.isEmpty else {
                sink.report.reject(file: file, line: lineNumber, reason: "item id is empty")
                return
            }
            var categories: [String] = []
            var badFlag: Int?
            for (g, flag) in fields[5...].enumerated() {
                if flag.count == 1 && flag.first == 0x31 {
                    categories.append(genres[g])
                } else if !(flag.count == 1 && flag.first == 0x30) {
                    badFlag = g
                    break
                }
            }
            if let badFlag {
                sink.report.reject(
                    file: file, line: lineNumber, reason: "genre flag is not 0 or 1",
                    detail: "\(genres[badFlag]) is \(fields[5 + badFlag].preview)")
                return
            }
            let idString = Latin1.decode(id)
            if sink.items.index(of: idString) != nil {
                sink.report.reject(file: file, line: lineNumber, reason: "duplicate item id", detail: "'\(idString)'")
                return
            }
            let title = Latin1.decode(fields[1])
            var attributes: [String: String] = [:]
            if let year = MovieTitle.year(in: title) ?? releaseYear(fields[2]) { attributes["year"] = year }
            if !fields[2].isEmpty { attributes["release_date"] = Latin1.decode(fields[2]) }
            if !fields[3].isEmpty { attributes["video_release_date"] = Latin1.decode(fields[3]) }
            if !fields[4].isEmpty { attributes["imdb_url"] = Latin1.decode(fields[4]) }
            let index = sink.items.intern(idString)
            sink.itemInfo[index] = Item(
                id: idString, title: title.isEmpty ? nil : title, categories: categories, attributes: attributes)
            sink.report.recordsKept += 1
        }
    }

    /// The year of a release date like `01-Jan-1995`.
    private static func releaseYear(_ field: ArraySlice<UInt8>) -> String? {
        let year = field.suffix(4)
        return year.count == 4 && field.count > 4 && year.unsignedInteger != nil
            ? String(decoding: year, as: UTF8.self) : nil
    }

    static func readUsers(_ url: URL, into sink: inout ImportSink) {
        let file = url.lastPathComponent
        var fields: [ArraySlice<UInt8>] = []
        sink.readLines(of: url) { sink, line, lineNumber in
            line.split(on: 0x7C, into: &fields)
            guard fields.count == 5 else {
                sink.report.reject(
                    file: file, line: lineNumber, reason: line.isEmpty ? "blank line" : "wrong number of fields",
                    detail: line.isEmpty ? nil : "expected 5 '|'-separated fields, found \(fields.count)")
                return
            }
            let id = fields[0].trimmingSpaces
            guard !id.isEmpty else {
                sink.report.reject(file: file, line: lineNumber, reason: "user id is empty")
                return
            }
            guard fields[1].isEmpty || fields[1].unsignedInteger != nil else {
                sink.report.reject(
                    file: file, line: lineNumber, reason: "age is not an integer", detail: fields[1].preview)
                return
            }
            let idString = Latin1.decode(id)
            if sink.users.index(of: idString) != nil {
                sink.report.reject(file: file, line: lineNumber, reason: "duplicate user id", detail: "'\(idString)'")
                return
            }
            var attributes: [String: String] = [:]
            for (key, k) in [("age", 1), ("gender", 2), ("occupation", 3), ("zip", 4)] where !fields[k].isEmpty {
                attributes[key] = Latin1.decode(fields[k])
            }
            sink.userInfo[sink.users.intern(idString)] = User(id: idString, attributes: attributes)
            sink.report.recordsKept += 1
        }
    }

    static func readRatings(_ url: URL, knownItems: String?, knownUsers: String?, into sink: inout ImportSink) {
        let file = url.lastPathComponent
        var fields: [ArraySlice<UInt8>] = []
        sink.readLines(of: url) { sink, line, lineNumber in
            line.split(on: 0x09, into: &fields)
            if fields.count == 1 {
                // Tolerate space-separated copies.
                line.split(on: 0x20, into: &fields)
                fields.removeAll { $0.isEmpty }
            }
            var rating = RatingFields(user: nil, item: nil, rating: nil, timestamp: nil)
            if fields.count == 4 {
                rating = RatingFields(user: fields[0], item: fields[1], rating: fields[2], timestamp: fields[3])
            }
            RatingFields.add(
                rating, fieldCount: fields.count, expected: "4 tab-separated", isBlank: line.isEmpty, file: file,
                line: lineNumber, timestamp: nil, knownItems: knownItems, knownUsers: knownUsers, into: &sink)
        }
    }
}

/// The fields of one MovieLens rating line, checked and added the same way for every version.
struct RatingFields {
    var user: ArraySlice<UInt8>?
    var item: ArraySlice<UInt8>?
    var rating: ArraySlice<UInt8>?
    var timestamp: ArraySlice<UInt8>?

    /// Checks the fields and adds the event, or rejects the line with a reason.
    ///
    /// - Parameters:
    ///   - fieldCount: the number of fields found (`user` is nil when it was wrong).
    ///   - timestamp: the timestamp to use when the line has none (MovieLens 1M user::movie lines).
    ///   - knownItems: the items file whose items are the only ones accepted, if one was read.
    static func add(
        _ fields: RatingFields, fieldCount: Int, expected: String, isBlank: Bool, file: String, line: Int,
        timestamp fallback: Int64?, knownItems: String?, knownUsers: String?, into sink: inout ImportSink
    ) {
        guard let userField = fields.user, let itemField = fields.item else {
            if isBlank {
                sink.report.reject(file: file, line: line, reason: "blank line")
            } else {
                sink.report.reject(
                    file: file, line: line, reason: "wrong number of fields",
                    detail: "expected \(expected) fields, found \(fieldCount)")
            }
            return
        }
        let userID = userField.trimmingSpaces, itemID = itemField.trimmingSpaces
        guard !userID.isEmpty else { return sink.report.reject(file: file, line: line, reason: "user id is empty") }
        guard !itemID.isEmpty else { return sink.report.reject(file: file, line: line, reason: "item id is empty") }
        var value: Double?
        if let ratingField = fields.rating {
            guard let number = ratingField.trimmingSpaces.number else {
                return sink.report.reject(
                    file: file, line: line, reason: "rating is not a number", detail: ratingField.preview)
            }
            guard number.isFinite else {
                return sink.report.reject(
                    file: file, line: line, reason: "rating is not finite", detail: ratingField.preview)
            }
            value = number
        }
        var time: Int64
        if let timestampField = fields.timestamp {
            guard let t = timestampField.trimmingSpaces.signedInteger else {
                return sink.report.reject(
                    file: file, line: line, reason: "timestamp is not an integer", detail: timestampField.preview)
            }
            time = t
        } else {
            time = fallback ?? Int64(line)
        }
        let item: Int32
        if let knownItems {
            guard let known = sink.items.index(of: itemID) else {
                return sink.report.reject(
                    file: file, line: line, reason: "unknown item in \(knownItems)", detail: itemID.preview)
            }
            item = known
        } else {
            item = sink.items.intern(itemID)
        }
        let user: Int32
        if let knownUsers {
            guard let known = sink.users.index(of: userID) else {
                return sink.report.reject(
                    file: file, line: line, reason: "unknown user in \(knownUsers)", detail: userID.preview)
            }
            user = known
        } else {
            user = sink.users.intern(userID)
        }
        sink.addEvent(user: user, item: item, timestamp: time, value: value, type: value == nil ? .view : .rating)
        sink.report.recordsKept += 1
    }
}
