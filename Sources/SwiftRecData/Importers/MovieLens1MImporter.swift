import Foundation

/// Reads MovieLens 1M (`::`-separated, ISO-8859-1):
/// - the ratings file (required): `ratings.dat` in the directory (or the only `ratings*.dat`
///   there), or the file itself when `path` names it. `UserID::MovieID::Rating::Timestamp`
///   lines become rating events; `UserID::MovieID` lines (implicit feedback, no time) become
///   view events whose timestamp is their line number. Without `ratings.dat`, a gzipped
///   `ratings*.dat.gz` (real ratings for some users, decompressed with the system's `gzip`) is
///   read first and the only `ratings*.dat` gives the other users' id pairs; the report says so;
/// - `movies.dat` (optional): `MovieID::Title::Genres`, genres `|`-separated → categories, the
///   title's year → attribute `year`;
/// - `users.dat` (optional): `UserID::Gender::Age::Occupation::Zip` → attributes `gender`,
///   `age` (the age group's code), `age_group`, `occupation` (its name), `occupation_code`, `zip`.
///
/// Movies and users are read first, so a rating of a movie missing from `movies.dat` (or by a
/// user missing from `users.dat`) is rejected as unknown; without those files every id is accepted.
public enum MovieLens1MImporter {
    /// Occupation names by code, from the dataset's README.
    public static let occupations = [
        "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
        "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
        "programmer", "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer",
        "tradesman/craftsman", "unemployed", "writer",
    ]

    /// Age groups by code, from the dataset's README.
    public static let ageGroups = [
        "1": "Under 18", "18": "18-24", "25": "25-34", "35": "35-44", "45": "45-49", "50": "50-55", "56": "56+",
    ]

    public static func read(path: URL, options: ImportOptions = .init()) throws -> (
        dataset: Dataset, report: ImportReport
    ) {
        var sink = ImportSink(options: options)
        let partial = try partialRatings(at: path)
        let ratings = try partial?.pairs ?? ratingsFile(at: path, report: &sink.report)
        let directory = partial?.directory ?? ratings.deletingLastPathComponent()
        let moviesURL = ImportFiles.optionalFile(
            "movies.dat", in: directory, purpose: "items have no titles or genres", report: &sink.report)
        if let moviesURL { readMovies(moviesURL, into: &sink) }
        let usersURL = ImportFiles.optionalFile(
            "users.dat", in: directory, purpose: "users have no attributes", report: &sink.report)
        if let usersURL { readUsers(usersURL, into: &sink) }
        var covered: Set<String> = []
        if let partial {
            let text = try decompressed(partial.rated)
            defer { try? FileManager.default.removeItem(at: text.deletingLastPathComponent()) }
            covered = readRatings(
                text, knownItems: moviesURL?.lastPathComponent, knownUsers: usersURL?.lastPathComponent, into: &sink)
            sink.report.notes.append(
                "ratings.dat not found; read ratings and times of \(covered.count) users from "
                    + "\(partial.rated.lastPathComponent), and only the id pairs of the other users from "
                    + ratings.lastPathComponent)
        }
        readRatings(
            ratings, knownItems: moviesURL?.lastPathComponent, knownUsers: usersURL?.lastPathComponent,
            skipping: covered, into: &sink)
        if let moviesURL { sink.noteItemsWithoutEvents(from: moviesURL.lastPathComponent) }
        if let usersURL { sink.noteUsersWithoutEvents(from: usersURL.lastPathComponent) }
        return sink.finish()
    }

    /// The ratings file: `path` itself, or `ratings.dat` (else the only `ratings*.dat`) in it.
    static func ratingsFile(at path: URL, report: inout ImportReport) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
            throw ImportError.unreadable(path: path.path, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else {
            try ImportFiles.requireFile(path)
            return path
        }
        let standard = path.appendingPathComponent("ratings.dat")
        if FileManager.default.fileExists(atPath: standard.path) {
            try ImportFiles.requireFile(standard)
            return standard
        }
        let candidates = ((try? FileManager.default.contentsOfDirectory(atPath: path.path)) ?? [])
            .filter { $0.hasPrefix("ratings") && $0.hasSuffix(".dat") }.sorted()
        guard candidates.count == 1 else {
            let found = candidates.isEmpty ? "" : " (found \(candidates.joined(separator: ", ")); name one with --data)"
            throw ImportError.unreadable(path: standard.path, reason: "no such file\(found)")
        }
        report.notes.append("ratings.dat not found; reading \(candidates[0]) instead")
        return path.appendingPathComponent(candidates[0])
    }

    /// Without `ratings.dat`: a `ratings*.dat.gz` with real ratings and the only `ratings*.dat`
    /// (id pairs, possibly of every user) in the directory `path`, when both are there.
    static func partialRatings(at path: URL) throws -> (rated: URL, pairs: URL, directory: URL)? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory), isDirectory.boolValue,
            !FileManager.default.fileExists(atPath: path.appendingPathComponent("ratings.dat").path)
        else { return nil }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path.path)) ?? []).sorted()
        let gzipped = names.filter { $0.hasPrefix("ratings") && $0.hasSuffix(".dat.gz") }
        let plain = names.filter { $0.hasPrefix("ratings") && $0.hasSuffix(".dat") }
        guard gzipped.count == 1, plain.count == 1 else { return nil }
        return (path.appendingPathComponent(gzipped[0]), path.appendingPathComponent(plain[0]), path)
    }

    /// `file.dat.gz` decompressed by the system's `gzip` into a fresh temporary directory, as `file.dat`
    /// (so problems name the file they come from).
    static func decompressed(_ url: URL) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let out = directory.appendingPathComponent(url.deletingPathExtension().lastPathComponent)
        // A file that cannot be made shows up as FileHandle's error below, which names it.
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", url.path]
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            throw ImportError.unreadable(path: url.path, reason: "cannot run gzip to decompress it: \(error)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(at: directory)
            throw ImportError.unreadable(
                path: url.path, reason: "gzip could not decompress it (status \(process.terminationStatus))")
        }
        return out
    }

    static func readMovies(_ url: URL, into sink: inout ImportSink) {
        let file = url.lastPathComponent
        var fields: [ArraySlice<UInt8>] = []
        var genres: [ArraySlice<UInt8>] = []
        sink.readLines(of: url) { sink, line, lineNumber in
            line.splitOnDoubleColon(into: &fields)
            guard fields.count == 3 else {
                sink.report.reject(
                    file: file, line: lineNumber, reason: line.isEmpty ? "blank line" : "wrong number of fields",
                    detail: line.isEmpty ? nil : "expected 3 '::'-separated fields, found \(fields.count)")
                return
            }
            let id = fields[0].trimmingSpaces
            guard !id.isEmpty else {
                sink.report.reject(file: file, line: lineNumber, reason: "item id is empty")
                return
            }
            let idString = Latin1.decode(id)
            if sink.items.index(of: idString) != nil {
                sink.report.reject(file: file, line: lineNumber, reason: "duplicate item id", detail: "'\(idString)'")
                return
            }
            let title = Latin1.decode(fields[1])
            fields[2].split(on: 0x7C, into: &genres)
            let categories = genres.filter { !$0.isEmpty }.map(Latin1.decode)
            var attributes: [String: String] = [:]
            if let year = MovieTitle.year(in: title) { attributes["year"] = year }
            sink.itemInfo[sink.items.intern(idString)] = Item(
                id: idString, title: title.isEmpty ? nil : title, categories: categories, attributes: attributes)
            sink.report.recordsKept += 1
        }
    }

    static func readUsers(_ url: URL, into sink: inout ImportSink) {
        let file = url.lastPathComponent
        var fields: [ArraySlice<UInt8>] = []
        sink.readLines(of: url) { sink, line, lineNumber in
            line.splitOnDoubleColon(into: &fields)
            guard fields.count == 5 else {
                sink.report.reject(
                    file: file, line: lineNumber, reason: line.isEmpty ? "blank line" : "wrong number of fields",
                    detail: line.isEmpty ? nil : "expected 5 '::'-separated fields, found \(fields.count)")
                return
            }
            let id = fields[0].trimmingSpaces
            guard !id.isEmpty else {
                sink.report.reject(file: file, line: lineNumber, reason: "user id is empty")
                return
            }
            let occupationCode = fields[3].trimmingSpaces
            guard occupationCode.isEmpty || occupationCode.unsignedInteger != nil else {
                sink.report.reject(
                    file: file, line: lineNumber, reason: "occupation is not an integer code",
                    detail: occupationCode.preview)
                return
            }
            let idString = Latin1.decode(id)
            if sink.users.index(of: idString) != nil {
                sink.report.reject(file: file, line: lineNumber, reason: "duplicate user id", detail: "'\(idString)'")
                return
            }
            var attributes: [String: String] = [:]
            if !fields[1].isEmpty { attributes["gender"] = Latin1.decode(fields[1]) }
            if !fields[2].isEmpty {
                let age = Latin1.decode(fields[2])
                attributes["age"] = age
                if let group = ageGroups[age] { attributes["age_group"] = group }
            }
            if let code = occupationCode.unsignedInteger {
                attributes["occupation_code"] = String(code)
                if code < occupations.count { attributes["occupation"] = occupations[code] }
            }
            if !fields[4].isEmpty { attributes["zip"] = Latin1.decode(fields[4]) }
            sink.userInfo[sink.users.intern(idString)] = User(id: idString, attributes: attributes)
            sink.report.recordsKept += 1
        }
    }

    /// Reads ratings (or id pairs) into `sink`, leaving out lines of the users in `skipping`;
    /// returns the users whose lines were read.
    @discardableResult
    static func readRatings(
        _ url: URL, knownItems: String?, knownUsers: String?, skipping: Set<String> = [], into sink: inout ImportSink
    ) -> Set<String> {
        let file = url.lastPathComponent
        var fields: [ArraySlice<UInt8>] = []
        var pairLines = 0
        var users: Set<String> = []
        sink.readLines(of: url) { sink, line, lineNumber in
            line.splitOnDoubleColon(into: &fields)
            if fields.count >= 2 {
                let user = Latin1.decode(fields[0].trimmingSpaces)
                if skipping.contains(user) { return }
                users.insert(user)
            }
            var rating = RatingFields(user: nil, item: nil, rating: nil, timestamp: nil)
            if fields.count == 4 {
                rating = RatingFields(user: fields[0], item: fields[1], rating: fields[2], timestamp: fields[3])
            } else if fields.count == 2 && !line.isEmpty {
                rating = RatingFields(user: fields[0], item: fields[1], rating: nil, timestamp: nil)
                pairLines += 1
            }
            RatingFields.add(
                rating, fieldCount: fields.count, expected: "4 (or 2) '::'-separated", isBlank: line.isEmpty,
                file: file, line: lineNumber, timestamp: Int64(lineNumber), knownItems: knownItems,
                knownUsers: knownUsers, into: &sink)
        }
        if pairLines > 0 {
            sink.report.notes.append(
                "\(file): \(pairLines) lines are UserID::MovieID only: kept as view events without a rating, "
                    + "timestamp = line number")
        }
        return users
    }
}
