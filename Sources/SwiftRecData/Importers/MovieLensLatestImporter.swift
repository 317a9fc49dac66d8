import Foundation

/// Reads MovieLens "latest" (also ml-latest-small, 20M, 25M, 32M): UTF-8 CSV files with a header.
/// - `ratings.csv` (required): `userId,movieId,rating,timestamp` → rating events;
/// - `movies.csv` (optional): `movieId,title,genres` (titles quoted when they hold commas), genres
///   `|`-separated → categories (`(no genres listed)` → none), the title's year → `year`;
/// - `links.csv` (optional): `movieId,imdbId,tmdbId` → attributes `imdb_id`, `imdb_url`, `tmdb_id`;
/// - `tags.csv` (optional): `userId,movieId,tag,timestamp` → the item attribute `tags` (distinct
///   tags in first-use order, `|`-separated). Tags are item text, not events, so they do not
///   enter the users' sequences.
///
/// Columns are found by their header names, so their order does not matter; a file without a
/// header is read in the standard column order.
public enum MovieLensLatestImporter {
    public static func read(directory: URL, options: ImportOptions = .init()) throws -> (
        dataset: Dataset, report: ImportReport
    ) {
        try ImportFiles.requireDirectory(directory, format: .mlLatest)
        let ratings = directory.appendingPathComponent("ratings.csv")
        try ImportFiles.requireFile(ratings)
        var sink = ImportSink(options: options)
        let moviesURL = ImportFiles.optionalFile(
            "movies.csv", in: directory, purpose: "items have no titles or genres", report: &sink.report)
        if let moviesURL { try readMovies(moviesURL, into: &sink) }
        let known = moviesURL?.lastPathComponent
        if let url = ImportFiles.optionalFile(
            "links.csv", in: directory, purpose: "items have no IMDb/TMDB ids", report: &sink.report)
        {
            try readLinks(url, knownItems: known, into: &sink)
        }
        try readRatings(ratings, knownItems: known, into: &sink)
        if let url = ImportFiles.optionalFile(
            "tags.csv", in: directory, purpose: "items have no tags", report: &sink.report)
        {
            try readTags(url, knownItems: known, into: &sink)
        }
        if let moviesURL { sink.noteItemsWithoutEvents(from: moviesURL.lastPathComponent) }
        return sink.finish()
    }

    /// Opens `url` as CSV and finds `columns` in its header (or takes them in order without one).
    private static func open(_ url: URL, columns: [String]) throws -> (CSVRecordReader, [Int], hasHeader: Bool) {
        var reader = CSVRecordReader(url: url, delimiter: 0x2C)
        var probe = CSVRecordReader(url: url, delimiter: 0x2C)
        guard case .fields = probe.next(), let first = probe.fields.field(0) else {
            return (reader, Array(columns.indices), false)
        }
        // A header's first field is a name, a record's an id.
        guard first.trimmingSpaces.unsignedInteger == nil else { return (reader, Array(columns.indices), false) }
        let names = (0..<probe.fields.count).map {
            String(decoding: probe.fields[$0].trimmingSpaces, as: UTF8.self).lowercased()
        }
        let indices = try columns.map { column in
            guard let i = names.firstIndex(of: column.lowercased()) else {
                throw ImportError.unreadable(
                    path: url.path,
                    reason: "the header has no '\(column)' column (it has \(names.joined(separator: ",")))"
                )
            }
            return i
        }
        _ = reader.next()
        return (reader, indices, true)
    }

    static func readMovies(_ url: URL, into sink: inout ImportSink) throws {
        let file = url.lastPathComponent
        var (reader, columns, _) = try open(url, columns: ["movieId", "title", "genres"])
        var genres: [ArraySlice<UInt8>] = []
        let needed = columns.max()! + 1
        while let record = reader.next() {
            guard case .fields(let line) = record else {
                if case .problem(let line, let reason, let detail) = record {
                    sink.report.reject(file: file, line: line, reason: reason, detail: detail)
                }
                continue
            }
            let fields = reader.fields
            guard fields.count >= needed else {
                rejectShort(fields, needed: needed, file: file, line: line, into: &sink.report)
                continue
            }
            let id = fields[columns[0]].trimmingSpaces
            guard !id.isEmpty else {
                sink.report.reject(file: file, line: line, reason: "item id is empty")
                continue
            }
            if sink.items.index(of: id) != nil {
                sink.report.reject(file: file, line: line, reason: "duplicate item id", detail: id.preview)
                continue
            }
            let title = String(decoding: fields[columns[1]], as: UTF8.self)
            fields[columns[2]].split(on: 0x7C, into: &genres)
            let categories = genres.map { String(decoding: $0, as: UTF8.self) }
                .filter { !$0.isEmpty && $0 != "(no genres listed)" }
            var attributes: [String: String] = [:]
            if let year = MovieTitle.year(in: title) { attributes["year"] = year }
            let index = sink.items.intern(id)
            sink.itemInfo[index] = Item(
                id: sink.items.map.id(at: index), title: title.isEmpty ? nil : title, categories: categories,
                attributes: attributes)
            sink.report.recordsKept += 1
        }
        sink.report.linesRead += reader.linesRead
    }

    static func readLinks(_ url: URL, knownItems: String?, into sink: inout ImportSink) throws {
        let file = url.lastPathComponent
        var (reader, columns, _) = try open(url, columns: ["movieId", "imdbId", "tmdbId"])
        let needed = columns.max()! + 1
        while let record = reader.next() {
            guard case .fields(let line) = record else {
                if case .problem(let line, let reason, let detail) = record {
                    sink.report.reject(file: file, line: line, reason: reason, detail: detail)
                }
                continue
            }
            let fields = reader.fields
            guard fields.count >= needed else {
                rejectShort(fields, needed: needed, file: file, line: line, into: &sink.report)
                continue
            }
            let id = fields[columns[0]].trimmingSpaces
            guard !id.isEmpty else {
                sink.report.reject(file: file, line: line, reason: "item id is empty")
                continue
            }
            let index: Int32
            if let knownItems {
                guard let known = sink.items.index(of: id) else {
                    sink.report.reject(
                        file: file, line: line, reason: "unknown item in \(knownItems)", detail: id.preview)
                    continue
                }
                index = known
            } else {
                index = sink.items.intern(id)
            }
            var item = sink.itemInfo[index] ?? Item(id: sink.items.map.id(at: index))
            let imdb = fields[columns[1]].trimmingSpaces, tmdb = fields[columns[2]].trimmingSpaces
            if !imdb.isEmpty {
                let imdbID = String(decoding: imdb, as: UTF8.self)
                item.attributes["imdb_id"] = imdbID
                item.attributes["imdb_url"] = "https://www.imdb.com/title/tt\(imdbID)/"
            }
            if !tmdb.isEmpty { item.attributes["tmdb_id"] = String(decoding: tmdb, as: UTF8.self) }
            sink.itemInfo[index] = item
            sink.report.recordsKept += 1
        }
        sink.report.linesRead += reader.linesRead
    }

    static func readRatings(_ url: URL, knownItems: String?, into sink: inout ImportSink) throws {
        let file = url.lastPathComponent
        var (reader, columns, _) = try open(url, columns: ["userId", "movieId", "rating", "timestamp"])
        let needed = columns.max()! + 1
        while let record = reader.next() {
            guard case .fields(let line) = record else {
                if case .problem(let line, let reason, let detail) = record {
                    sink.report.reject(file: file, line: line, reason: reason, detail: detail)
                }
                continue
            }
            let fields = reader.fields
            var rating = RatingFields(user: nil, item: nil, rating: nil, timestamp: nil)
            if fields.count >= needed {
                rating = RatingFields(
                    user: fields[columns[0]], item: fields[columns[1]], rating: fields[columns[2]],
                    timestamp: fields[columns[3]])
            }
            let isBlank = fields.count == 1 && fields[0].isEmpty
            RatingFields.add(
                rating, fieldCount: fields.count, expected: "\(needed) comma-separated", isBlank: isBlank, file: file,
                line: line, timestamp: nil, knownItems: knownItems, knownUsers: nil, into: &sink)
        }
        sink.report.linesRead += reader.linesRead
    }

    static func readTags(_ url: URL, knownItems: String?, into sink: inout ImportSink) throws {
        let file = url.lastPathComponent
        var (reader, columns, _) = try open(url, columns: ["userId", "movieId", "tag", "timestamp"])
        let needed = columns.max()! + 1
        var tags: [Int32: [String]] = [:]
        while let record = reader.next() {
            guard case .fields(let line) = record else {
                if case .problem(let line, let reason, let detail) = record {
                    sink.report.reject(file: file, line: line, reason: reason, detail: detail)
                }
                continue
            }
            let fields = reader.fields
            guard fields.count >= needed else {
                rejectShort(fields, needed: needed, file: file, line: line, into: &sink.report)
                continue
            }
            let id = fields[columns[1]].trimmingSpaces
            let tag = String(decoding: fields[columns[2]], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let timestamp = fields[columns[3]].trimmingSpaces
            if fields[columns[0]].trimmingSpaces.isEmpty {
                sink.report.reject(file: file, line: line, reason: "user id is empty")
            } else if id.isEmpty {
                sink.report.reject(file: file, line: line, reason: "item id is empty")
            } else if tag.isEmpty {
                sink.report.reject(file: file, line: line, reason: "tag is empty")
            } else if timestamp.signedInteger == nil {
                sink.report.reject(
                    file: file, line: line, reason: "timestamp is not an integer", detail: timestamp.preview)
            } else if let knownItems, sink.items.index(of: id) == nil {
                sink.report.reject(file: file, line: line, reason: "unknown item in \(knownItems)", detail: id.preview)
            } else {
                let index = sink.items.intern(id)
                if !(tags[index]?.contains(tag) ?? false) { tags[index, default: []].append(tag) }
                sink.report.recordsKept += 1
            }
        }
        sink.report.linesRead += reader.linesRead
        for (index, list) in tags {
            var item = sink.itemInfo[index] ?? Item(id: sink.items.map.id(at: index))
            item.attributes["tags"] = list.joined(separator: "|")
            sink.itemInfo[index] = item
        }
    }

    private static func rejectShort(
        _ fields: CSVFields, needed: Int, file: String, line: Int, into report: inout ImportReport
    ) {
        if fields.count == 1 && fields[0].isEmpty {
            report.reject(file: file, line: line, reason: "blank line")
        } else {
            report.reject(
                file: file, line: line, reason: "wrong number of fields",
                detail: "expected at least \(needed) comma-separated fields, found \(fields.count)")
        }
    }
}
