import Foundation
import Testing

@testable import SwiftRecData

/// Writes `files` (name → bytes) into a new temporary directory and returns it.
private func temporaryDirectory(_ files: [String: Data]) throws -> URL {
    let dir = fixtureRoot.appendingPathComponent("swiftrec-import-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, data) in files { try data.write(to: dir.appendingPathComponent(name)) }
    return dir
}

private func utf8(_ text: String) -> Data { Data(text.utf8) }
private func latin1(_ text: String) -> Data { text.data(using: .isoLatin1)! }

/// "file:line: reason" of every listed problem, in order.
private func places(_ report: ImportReport) -> [String] { report.problems.map { "\($0.file):\($0.line)" } }

/// The features of item `id`.
private func item(_ dataset: Dataset, _ id: String) -> Item? {
    dataset.items.index(of: id).flatMap { dataset.itemInfo[Int($0)] }
}

/// `(user, item, timestamp, value, type)` of every event, in log order.
private func events(_ d: Dataset) -> [String] {
    (0..<d.eventCount).map { e in
        let value = d.log.values[e].isNaN ? "-" : "\(d.log.values[e])"
        return
            "\(d.users.id(at: d.log.users[e])) \(d.items.id(at: d.log.items[e])) \(d.log.timestamps[e]) \(value) \(d.log.types[e])"
    }
}

/// The team's offline datasets, beside the package (`../shared/datasets`), if present.
private let sharedDatasets = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/datasets")

@Suite("Importers")
struct ImporterTests {
    // MARK: Usual column names

    @Test func csvAndJSONLinesFindTheUsualColumnNamesWithoutAMapping() throws {
        let dir = try temporaryDirectory([
            "a.csv": utf8("user_id,item_id,timestamp\nu1,i1,10\nu1,i2,20\n"),
            "b.csv": utf8("userId,movieId,rating,ts\nu2,m1,4.5,30\n"),
            "c.jsonl": utf8(#"{"user_id": "u3", "item_id": "i9", "ts": 40, "rating": 2}"# + "\n"),
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, _) = try Importer.read(format: .csv, path: dir.appendingPathComponent("a.csv"))
        #expect(events(a) == ["u1 i1 10 - view", "u1 i2 20 - view"])
        let (b, _) = try Importer.read(format: .csv, path: dir.appendingPathComponent("b.csv"))
        #expect(events(b) == ["u2 m1 30 4.5 rating"])
        let (c, _) = try Importer.read(format: .jsonl, path: dir.appendingPathComponent("c.jsonl"))
        #expect(events(c) == ["u3 i9 40 2.0 rating"])
        // A mapping still wins over the usual names.
        let (mapped, _) = try Importer.read(
            format: .csv, path: dir.appendingPathComponent("a.csv"),
            options: ImportOptions(user: "item_id", item: "user_id"))
        #expect(events(mapped).first == "i1 u1 10 - view")
    }

    // MARK: MovieLens 100K

    static let flags = Array(repeating: "0", count: 19)

    static func itemLine(_ id: Int, _ title: String, genres: [Int], flag: String = "1") -> String {
        var f = flags
        for g in genres { f[g] = flag }
        return "\(id)|\(title)|01-Jan-1995||http://us.imdb.com/M/title-exact?\(id)|" + f.joined(separator: "|")
    }

    @Test func movieLens100KKeepsGoodLinesAndNamesBadOnes() throws {
        let dir = try temporaryDirectory([
            "u.data": utf8(
                """
                1\t10\t4\t881250949
                2\t20\t3\t881250950
                1\t20\tx\t881250951
                3\t10\t5
                2\t10\tnan\t881250952
                1\t99\t3\t881250953
                \t10\t3\t881250954
                3\t20\t2\t88125x
                3\t30\t1\t881250955

                """),
            "u.item": latin1(
                [
                    Self.itemLine(10, "Toy Story (1995)", genres: [3, 4, 5]),
                    Self.itemLine(20, "Misérables, Les (1995)", genres: [8, 12]),
                    Self.itemLine(30, "Heat (1995)", genres: [1]),
                    Self.itemLine(40, "Broken (1995)", genres: [2], flag: "2"),
                ].joined(separator: "\n") + "\n"),
            "u.user": utf8("1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n4|x|M|writer|1\n"),
        ])
        let (dataset, report) = try Importer.read(format: .ml100k, path: dir)
        #expect(report.linesRead == 9 + 4 + 4)
        #expect(report.recordsKept == 3 + 3 + 3)
        #expect(
            report.rejected == [
                "genre flag is not 0 or 1": 1, "age is not an integer": 1, "rating is not a number": 1,
                "wrong number of fields": 1, "rating is not finite": 1, "unknown item in u.item": 1,
                "user id is empty": 1, "timestamp is not an integer": 1,
            ])
        #expect(
            places(report) == [
                "u.item:4", "u.user:4", "u.data:3", "u.data:4", "u.data:5", "u.data:6", "u.data:7", "u.data:8",
            ])
        #expect(report.problems[0].reason == "genre flag is not 0 or 1: Adventure is '2'")
        #expect(report.problems[3].reason == "wrong number of fields: expected 4 tab-separated fields, found 3")
        #expect(report.notes.contains { $0.hasPrefix("u.genre not found") })
        #expect(
            events(dataset) == ["1 10 881250949 4.0 rating", "2 20 881250950 3.0 rating", "3 30 881250955 1.0 rating"])
        #expect(dataset.userCount == 3 && dataset.itemCount == 3)
        let latin1Title = try #require(item(dataset, "20"))
        #expect(latin1Title.title == "Misérables, Les (1995)")
        #expect(latin1Title.categories == ["Drama", "Musical"])
        #expect(latin1Title.attributes["year"] == "1995")
        #expect(item(dataset, "10")?.attributes["imdb_url"] == "http://us.imdb.com/M/title-exact?10")
        #expect(
            dataset.userInfo[0]?.attributes == ["age": "24", "gender": "M", "occupation": "technician", "zip": "85711"])
    }

    @Test func movieLens100KNeedsItsRatingsFileButNotTheOthers() throws {
        let empty = try temporaryDirectory(["u.item": utf8("")])
        #expect(
            throws: ImportError.unreadable(path: empty.appendingPathComponent("u.data").path, reason: "no such file")
        ) {
            try Importer.read(format: .ml100k, path: empty)
        }
        let ratingsOnly = try temporaryDirectory(["u.data": utf8("1\t2\t3\t4\n")])
        let (dataset, report) = try Importer.read(format: .ml100k, path: ratingsOnly)
        #expect(dataset.eventCount == 1 && report.rejectedCount == 0)
        #expect(report.notes.count == 3)  // u.genre, u.item, u.user
        #expect(report.notes.contains { $0.hasPrefix("u.user not found") })
    }

    // MARK: MovieLens 1M

    static let movieLens1M: [String: Data] = [
        "ratings.dat": utf8(
            """
            1::10::5::978300760
            1::20
            2::10::3::978300761
            2::20::4::97830x
            2::10::4::1::2
            3::10::inf::978300762
            3::10::4::978300763
            """),
        "movies.dat": latin1(
            "10::Misérables, Les (1995)::Drama|Musical\n20::Toy Story (1995)::Animation|Comedy\n30:Broken\n"),
        "users.dat": utf8("1::F::1::10::48067\n2::M::56::16::70072\n"),
    ]

    @Test func movieLens1MReadsFourAndTwoFieldLines() throws {
        let dir = try temporaryDirectory(Self.movieLens1M)
        let (dataset, report) = try Importer.read(format: .ml1m, path: dir)
        #expect(report.linesRead == 7 + 3 + 2)
        #expect(report.recordsKept == 3 + 2 + 2)
        #expect(
            report.rejected == [
                "wrong number of fields": 2, "timestamp is not an integer": 1, "rating is not finite": 1,
                "unknown user in users.dat": 1,
            ])
        #expect(
            places(report) == ["movies.dat:3", "ratings.dat:4", "ratings.dat:5", "ratings.dat:6", "ratings.dat:7"])
        #expect(
            report.problems[2].reason
                == "wrong number of fields: expected 4 (or 2) '::'-separated fields, found 5")
        // The user::movie line is a view at its line number.
        #expect(events(dataset) == ["1 10 978300760 5.0 rating", "1 20 2 - view", "2 10 978300761 3.0 rating"])
        #expect(item(dataset, "10")?.title == "Misérables, Les (1995)")
        #expect(item(dataset, "20")?.categories == ["Animation", "Comedy"])
        #expect(
            dataset.userInfo[Int(dataset.users.index(of: "2")!)]?.attributes == [
                "gender": "M", "age": "56", "age_group": "56+", "occupation": "self-employed",
                "occupation_code": "16", "zip": "70072",
            ])
        #expect(report.notes.contains { $0.contains("1 lines are UserID::MovieID only") })
    }

    @Test func movieLens1MTakesTheRatingsFileItselfAndFindsItsNeighbours() throws {
        var files = Self.movieLens1M
        files["ratings_user_movie.dat"] = files.removeValue(forKey: "ratings.dat")
        let dir = try temporaryDirectory(files)
        let (byFile, _) = try Importer.read(format: .ml1m, path: dir.appendingPathComponent("ratings_user_movie.dat"))
        #expect(byFile.eventCount == 3 && item(byFile, "10")?.title == "Misérables, Les (1995)")
        let (byDirectory, report) = try Importer.read(format: .ml1m, path: dir)
        #expect(byDirectory.eventCount == 3)
        #expect(report.notes.first == "ratings.dat not found; reading ratings_user_movie.dat instead")
        #expect(throws: ImportError.self) {
            try Importer.read(format: .ml1m, path: dir.appendingPathComponent("ratings.dat"))
        }
    }

    // MARK: MovieLens latest

    @Test func movieLensLatestReadsQuotedTitlesTagsAndLinks() throws {
        let dir = try temporaryDirectory([
            "ratings.csv": utf8(
                """
                userId,movieId,rating,timestamp
                1,1,4.0,964982703
                1,3,4.5,964981247
                2,1,abc,964982224
                2,3,5.0
                2,999,3.0,964982931
                3,2,2.5,964983815

                """),
            "movies.csv": utf8(
                """
                movieId,title,genres
                1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
                2,"American President, The (1995)",Comedy|Drama|Romance
                3,"Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)",Comedy|War
                4,"Story of ""Quotes"", The (2001)",(no genres listed)
                5,"Unterminated (2000),Drama
                6,Heat (1995),Action|Crime|Thriller
                7,"Two
                Lines (1999)",Drama
                8,"Closed" late (1990),Drama


                """),
            "tags.csv": utf8(
                """
                userId,movieId,tag,timestamp
                1,1,pixar,1139045764
                2,1,pixar,1139045765
                2,1,fun,1139045766
                2,2,,1139045767
                2,999,weird,1139045768
                """),
            "links.csv": utf8("movieId,imdbId,tmdbId\n1,0114709,862\n"),
        ])
        let (dataset, report) = try Importer.read(format: .mlLatest, path: dir)
        #expect(
            report.rejected == [
                "unterminated quoted field": 1, "text after a closing quote": 1, "blank line": 1,
                "rating is not a number": 1, "wrong number of fields": 1, "unknown item in movies.csv": 2,
                "tag is empty": 1,
            ])
        #expect(
            places(report) == [
                "movies.csv:6", "movies.csv:10", "movies.csv:11", "ratings.csv:4", "ratings.csv:5", "ratings.csv:6",
                "tags.csv:5", "tags.csv:6",
            ])
        #expect(report.linesRead == 11 + 2 + 7 + 6)
        #expect(report.recordsKept == 6 + 1 + 3 + 3)
        #expect(
            events(dataset) == [
                "1 1 964982703 4.0 rating", "1 3 964981247 4.5 rating", "3 2 964983815 2.5 rating",
            ])
        #expect(item(dataset, "2")?.title == "American President, The (1995)")
        #expect(item(dataset, "4")?.title == "Story of \"Quotes\", The (2001)")
        #expect(item(dataset, "4")?.categories == [])
        #expect(item(dataset, "6")?.categories == ["Action", "Crime", "Thriller"])
        #expect(item(dataset, "7")?.title == "Two\nLines (1999)")
        #expect(item(dataset, "3")?.attributes["year"] == "1964")
        #expect(item(dataset, "1")?.attributes["tags"] == "pixar|fun")
        #expect(item(dataset, "1")?.attributes["imdb_id"] == "0114709")
        #expect(report.notes.contains("3 items from movies.csv have no events (kept as cold-start items)"))
    }

    // MARK: Amazon

    @Test func amazonReadsTheJSONPairInFileOrder() throws {
        let dir = try temporaryDirectory([
            "Test.item.json": utf8(
                """
                {
                  "0": {"title": "Scale", "description": "A lab scale.", "brand": "Acme", "categories": "Industrial & Scientific,Lab,Scales"},
                  "1": {"title": "Beaker", "description": "", "brand": "", "categories": "Industrial & Scientific,Lab"},
                  "2": {"title": "Tape", "categories": "Tools"},
                  "3": "not an object"
                }
                """),
            "Test.inter.json": utf8(
                """
                {"7": [0, 1, 2],
                 "1": [2, 9],
                 "2": "oops",
                 "3": [1, 0],
                 "4": [0, true]}
                """),
        ])
        let (dataset, report) = try Importer.read(format: .amazon, path: dir)
        #expect(
            report.rejected == [
                "item is not a JSON object": 1, "unknown item in Test.item.json": 1, "items are not a JSON list": 1,
                "item id is not a string or an integer": 1,
            ])
        #expect(places(report) == ["Test.item.json:5", "Test.inter.json:2", "Test.inter.json:3", "Test.inter.json:5"])
        #expect(report.linesRead == 6 + 5)
        #expect(report.recordsKept == 3 + 5)
        #expect(dataset.users.ids == ["7", "3"])
        #expect(events(dataset) == ["7 0 0 - view", "7 1 1 - view", "7 2 2 - view", "3 1 0 - view", "3 0 1 - view"])
        #expect(
            item(dataset, "0")
                == Item(
                    id: "0", title: "Scale", description: "A lab scale.",
                    categories: ["Industrial & Scientific", "Lab", "Scales"], attributes: ["brand": "Acme"]))
        #expect(item(dataset, "1")?.description == nil && item(dataset, "1")?.attributes == [:])
    }

    @Test func amazonKeepsTheEntriesBeforeBrokenJSON() throws {
        let dir = try temporaryDirectory(["X.inter.json": utf8("{\"0\": [0, 1],\n\"1\": [2")])
        let (dataset, report) = try Importer.read(format: .amazon, path: dir)
        #expect(dataset.eventCount == 2)
        #expect(report.rejected == ["invalid JSON": 1])
        #expect(report.problems.first?.description == "X.inter.json:2: invalid JSON: the document ends inside an entry")
        #expect(report.notes.contains { $0.hasPrefix("X.item.json not found") })
    }

    // MARK: Generic CSV / TSV

    @Test func csvWithAColumnMappingByName() throws {
        let url = try temporaryFile(
            "events.csv",
            """
            ts,who,what,stars,kind,where
            1700000000,u1,i1,4.5,rating,home
            1700000001,u2,"item, with comma",3,rating,search
            1700000002,u1,i2,,view,home
            1700000003,u3,i1,NaN,rating,home
            oops,u3,i1,1,rating,home
            1700000004,u3,i3,2,teleport,home
            1700000005,u3,i3,2
            1700000006,,i3,2,rating,home
            1700000007,u4,i1,2,"rating"x,home
            """)
        let options = ImportOptions(
            user: "who", item: "what", timestamp: "ts", value: "stars", type: "kind", scenario: "where")
        let (dataset, report) = try Importer.read(format: .csv, path: url, options: options)
        #expect(report.linesRead == 10)
        #expect(report.recordsKept == 3)
        #expect(
            report.rejected == [
                "value is not finite": 1, "timestamp is not an integer": 1, "unknown event type": 1,
                "wrong number of fields": 1, "user id is empty": 1, "text after a closing quote": 1,
            ])
        #expect(places(report) == (5...10).map { "events.csv:\($0)" })
        #expect(report.problems[2].reason == "unknown event type: 'teleport'")
        #expect(
            events(dataset) == [
                "u1 i1 1700000000 4.5 rating", "u2 item, with comma 1700000001 3.0 rating", "u1 i2 1700000002 - view",
            ])
        #expect(report.notes.contains { $0 == "scenario column 'where' read: 2 distinct scenarios kept" })
        #expect(dataset.scenarios.ids == ["home", "search"] && dataset.log.scenarios == [0, 1, 0])
        #expect(dataset.scenarioName(dataset.log.scenarios[1]) == "search")
        // Scenarios survive the steps that rebuild the log.
        let kept = dataset.sharingMaps(keeping: [false, true, true])
        #expect(kept.log.scenarios == [1, 0] && kept.scenarios == dataset.scenarios)
    }

    /// Each event keeps the scenario it names (none when it names none), through the importer,
    /// the k-core that rebuilds the id maps, and a dataset built from stored events.
    @Test func eventsKeepTheirScenario() throws {
        let url = try temporaryFile(
            "scenarios.jsonl",
            """
            {"user": "a", "item": "x", "timestamp": 1, "scenario": "search"}
            {"user": "a", "item": "y", "timestamp": 2}
            {"user": "b", "item": "x", "timestamp": 3, "scenario": "home"}
            {"user": "b", "item": "y", "timestamp": 4, "scenario": "search"}
            {"user": "c", "item": "x", "timestamp": 5, "scenario": "feed"}

            """)
        let (dataset, report) = try Importer.read(format: .jsonl, path: url)
        #expect(report.recordsKept == 5)
        #expect(report.notes.contains("scenario column 'scenario' read: 3 distinct scenarios kept"))
        let names = (0..<dataset.eventCount).map { dataset.scenarioName(dataset.log.scenarios[$0]) ?? "-" }
        #expect(names == ["search", "-", "home", "search", "feed"])
        // User c has one event: the 2-core drops it and renumbers the users; scenarios follow.
        let core = dataset.kCore(users: 2, items: 0)
        #expect(
            (0..<core.eventCount).map { core.scenarioName(core.log.scenarios[$0]) ?? "-" } == [
                "search", "-", "home", "search",
            ])
        var builder = DatasetBuilder()
        builder.add(Event(user: "a", item: "x", timestamp: 1, scenario: "detail"))
        builder.add(Event(user: "a", item: "y", timestamp: 2))
        let built = builder.build()
        #expect(built.scenarios.ids == ["detail"] && built.log.scenarios == [0, InteractionLog.noScenario])
    }

    @Test func tsvWithoutHeaderByIndex() throws {
        let url = try temporaryFile("events.tsv", "5\tu1\ti1\t1700000000\n4\tu2\ti2\t1700000001\n3\tu3\t\t1700000002\n")
        let options = ImportOptions(user: 1, item: 2, timestamp: 3, value: 0, header: false)
        let (dataset, report) = try Importer.read(format: .tsv, path: url, options: options)
        #expect(report.linesRead == 3 && report.recordsKept == 2)
        #expect(report.problems == [.init(file: "events.tsv", line: 3, reason: "item id is empty")])
        #expect(events(dataset) == ["u1 i1 1700000000 5.0 rating", "u2 i2 1700000001 4.0 rating"])
    }

    @Test func csvDefaultsISOTimestampsAndLineNumberTimes() throws {
        let iso = try temporaryFile(
            "iso.csv",
            "user,item,timestamp\na,x,2024-05-01T12:30:00Z\nb,x,2024-05-01\nc,y,2024-05-01 14:30:00.250+02:00\nd,y,2024-02-30\n"
        )
        let (dataset, report) = try Importer.read(
            format: .csv, path: iso, options: ImportOptions(timestampFormat: .iso8601))
        #expect(dataset.log.timestamps == [1_714_566_600, 1_714_521_600, 1_714_566_600])
        #expect(report.problems == [.init(file: "iso.csv", line: 5, reason: "timestamp is not ISO-8601: '2024-02-30'")])

        let untimed = try temporaryFile("untimed.csv", "user,item\na,x\nb,y\n")
        let (plain, plainReport) = try Importer.read(format: .csv, path: untimed)
        #expect(plain.log.timestamps == [2, 3])
        #expect(plainReport.notes == ["no timestamp column: an event's timestamp is its line number"])

        let millis = try temporaryFile("ms.csv", "user,item,timestamp\na,x,1700000000999\n")
        let (ms, _) = try Importer.read(
            format: .csv, path: millis, options: ImportOptions(timestampFormat: .unixMilliseconds))
        #expect(ms.log.timestamps == [1_700_000_000])
    }

    @Test func aByteOrderMarkDoesNotHideTheFirstColumn() throws {
        let csv = try temporaryFile("bom.csv", "\u{FEFF}user,item\na,x\n")
        #expect(try Importer.read(format: .csv, path: csv).dataset.eventCount == 1)
        let jsonl = try temporaryFile("bom.jsonl", "\u{FEFF}{\"user\": \"a\", \"item\": \"x\"}\n")
        #expect(try Importer.read(format: .jsonl, path: jsonl).report.rejectedCount == 0)
    }

    @Test func aColumnMappingThatDoesNotFitIsAClearError() throws {
        let url = try temporaryFile("e.csv", "who,what\na,b\n")
        #expect {
            try Importer.read(format: .csv, path: url)
        } throws: { error in
            "\(error)".contains("the header has no user column (it has who, what; recognised names: user, user_id")
        }
        #expect(throws: ImportError.self) {
            try Importer.read(format: .csv, path: url, options: ImportOptions(user: "who", item: "missing"))
        }
        #expect(throws: ImportError.self) {
            try Importer.read(format: .csv, path: url, options: ImportOptions(user: "who", item: 1, header: false))
        }
        #expect(throws: ImportError.unknownFormat("parquet")) {
            try Importer.read(format: "parquet", path: url)
        }
    }

    @Test func csvParserFollowsRFC4180() {
        var fields = CSVFields()
        func parse(_ text: String, _ delimiter: UInt8 = 0x2C) -> ([String], CSVParser.Outcome) {
            let outcome = CSVParser.parse(Array(text.utf8)[...], delimiter: delimiter, into: &fields)
            return ((0..<fields.count).map { String(decoding: fields[$0], as: UTF8.self) }, outcome)
        }
        #expect(parse("a,b,,d") == (["a", "b", "", "d"], .complete))
        #expect(parse("\"a,b\",\"say \"\"hi\"\"\",") == (["a,b", "say \"hi\"", ""], .complete))
        #expect(parse("a\"b,c") == (["a\"b", "c"], .complete))
        #expect(parse("\"open,").1 == .openQuote)
        #expect(parse("\"x\"y,z").1 == .textAfterClosingQuote)
        #expect(parse("a\t\"b\tc\"", 0x09) == (["a", "b\tc"], .complete))
        #expect(parse("") == ([""], .complete))
    }

    @Test func fieldHelpersParseNumbersTimesAndLatin1() {
        func bytes(_ s: String) -> ArraySlice<UInt8> { Array(s.utf8)[...] }
        #expect(bytes("3.5").number == 3.5 && bytes("-2").number == -2 && bytes("1e3").number == 1000)
        #expect(bytes("0.1").number == 0.1 && bytes("x").number == nil && bytes("").number == nil)
        #expect(bytes("nan").number?.isNaN == true && bytes("inf").number?.isFinite == false)
        #expect(bytes("-17").signedInteger == -17 && bytes("1.0").signedInteger == nil)
        #expect(bytes("017").canonicalInteger == nil && bytes("0").canonicalInteger == 0)
        #expect(ISO8601Timestamp.parse(bytes("1969-12-31T23:59:59Z")) == -1)
        #expect(ISO8601Timestamp.parse(bytes("2024-02-29T00:00:00-0130")) == 1_709_170_200)
        #expect(ISO8601Timestamp.parse(bytes("2023-02-29")) == nil)
        #expect(Latin1.decode(ArraySlice<UInt8>([0x4D, 0x69, 0x73, 0xE9])) == "Misé")
        #expect(Latin1.decode(Array("Misé".utf8)[...]) == "Misé")  // a UTF-8 copy reads right too
        #expect(MovieTitle.year(in: "Babylon 5 (1994-1998)") == "1994" && MovieTitle.year(in: "Heat") == nil)
    }

    // MARK: JSON Lines

    @Test func jsonLinesKeepsGoodLinesAndNamesBadOnes() throws {
        let url = try temporaryFile(
            "events.jsonl",
            """
            {"user": "u1", "item": 10, "timestamp": 1700000000, "value": 4}
            {"user": "u2", "item": "10", "timestamp": "1700000001"}
            {"user": "u1", "item": 11, "timestamp": 1700000002
            [1, 2]
            {"user": true, "item": 1, "timestamp": 1}
            {"item": 12, "timestamp": 1700000003}

            {"user": "u3", "item": 12, "timestamp": 1700000004, "value": "x"}
            {"user": "u3", "item": 12, "timestamp": 1700000005, "type": "purchase"}
            """)
        let (dataset, report) = try Importer.read(format: .jsonl, path: url)
        #expect(report.linesRead == 9 && report.recordsKept == 3)
        #expect(
            report.rejected == [
                "invalid JSON": 1, "not a JSON object": 1, "user id is not a string or a number": 1,
                "user id is missing": 1, "blank line": 1, "value is not a number": 1,
            ])
        #expect(places(report) == [3, 4, 5, 6, 7, 8].map { "events.jsonl:\($0)" })
        #expect(
            events(dataset) == [
                "u1 10 1700000000 4.0 rating", "u2 10 1700000001 - view", "u3 12 1700000005 - purchase",
            ])
        #expect(dataset.itemCount == 2)
    }

    @Test func flatJSONFastPathAgreesWithJSONSerialization() throws {
        func describe(_ fields: [String: JSONField]) -> [String: String] {
            fields.mapValues {
                switch $0 {
                case .null: return "null"
                case .other: return "other"
                case .inexactInteger: return "inexact"
                case .list(let values): return "list:" + values.joined(separator: ",")
                case .text(let t): return "text:" + String(decoding: t, as: UTF8.self)
                }
            }
        }
        let flat = [
            #"{"user": "u 1", "item": 10, "value": 4.0, "t": 1.5e3, "x": -0.25, "n": null, "b": true, "f": false}"#,
            #"{}"#, #" {"a":"","b":-7} "#, #"{"a": 1E2}"#,
        ]
        for line in flat {
            let bytes = Array(line.utf8)[...]
            let fast = try #require(FlatJSONObject.parse(bytes), "\(line)")
            guard case .object(let object)? = try? JSONValue(parsing: bytes) else {
                Issue.record("\(line) is not a JSON object")
                continue
            }
            #expect(describe(fast) == describe(object.mapValues(JSONField.init)), "\(line)")
        }
        // An integer a Double cannot hold exactly is not rounded into another id.
        #expect(
            describe(["id": JSONField(try JSONValue(parsing: Array("12345678901234567890".utf8)))]) == ["id": "inexact"]
        )
        #expect(
            describe(["id": JSONField(try JSONValue(parsing: Array("9007199254740991".utf8)))]) == [
                "id": "text:9007199254740991"
            ])
        // Everything else is left to the strict JSONValue parse.
        for line in [
            #"{"a": "\u00e9"}"#, #"{"a": "é"}"#, #"{"a": [1]}"#, #"{"a": {"b": 1}}"#, #"{"a": 01}"#, #"{"a": 1} x"#,
            #"{"a" 1}"#, #"{"a": 1,}"#, #"{"a": tru}"#, #"[1]"#, #"{"a": 1"#,
        ] {
            #expect(FlatJSONObject.parse(Array(line.utf8)[...]) == nil, "\(line)")
        }
    }

    @Test func jsonLinesOutsideTheFlatPathAreParsedStrictlyAndNeverRoundAnId() throws {
        let url = try temporaryFile(
            "big.jsonl",
            #"""
            {"user": "caf\u00e9", "item": 7, "timestamp": 1, "tags": ["a"]}
            {"user": 12345678901234567890, "item": 7, "timestamp": 2, "tags": []}
            {"user": 9007199254740991, "item": 7, "timestamp": 3, "tags": []}
            {"user": "x", "item": 7, "timestamp": 4, "tags": [}
            """# + "\n")
        let (dataset, report) = try JSONLinesImporter.read(url: url)
        #expect(dataset.users.ids.sorted() == ["9007199254740991", "café"])
        #expect(report.problems.map(\.line) == [2, 4])
        #expect(report.problems.first?.reason.contains("too large to read exactly") == true, "\(report.problems)")
    }

    @Test func jsonLinesWithRenamedKeys() throws {
        let url = try temporaryFile("e.jsonl", "{\"uid\": 1, \"iid\": 2, \"at\": \"2024-05-01\"}\n")
        let options = ImportOptions(user: "uid", item: "iid", timestamp: "at", timestampFormat: .iso8601)
        let (dataset, report) = try Importer.read(format: .jsonl, path: url, options: options)
        #expect(report.rejectedCount == 0)
        #expect(events(dataset) == ["1 2 1714521600 - view"])
        #expect(throws: ImportError.self) {
            try Importer.read(format: .jsonl, path: url, options: ImportOptions(user: 0))
        }
    }

    // MARK: Feature columns

    @Test func csvFeatureColumnsFillUsersAndItems() throws {
        let url = try temporaryFile(
            "features.csv",
            """
            user_id,item_id,timestamp,age,gender,genres,year,title
            u1,i1,1,25,F,Action|Comedy,1995,Heat
            u1,i2,2,26,F,,NaN,Up
            u2,i1,3,NA,M,Action|Comedy,1995,Heat
            u3,i3,oops,40,M,Drama,2001,Amelie
            u3,i3,4,40,,Drama| ,2001,Amelie

            """)
        let options = ImportOptions(
            userAttributes: ["age", "gender"], itemAttributes: ["year"], itemCategories: "genres", itemTitle: "title")
        let (dataset, report) = try Importer.read(format: .csv, path: url, options: options)
        #expect(report.recordsKept == 4)
        #expect(report.problems.map(\.line) == [5])
        func user(_ id: String) -> [String: String]? {
            dataset.users.index(of: id).flatMap { dataset.userInfo[Int($0)]?.attributes }
        }
        // The later row's age replaces the earlier one; a missing spelling is not stored.
        #expect(user("u1") == ["age": "26", "gender": "F"])
        #expect(user("u2") == ["gender": "M"])
        #expect(user("u3") == ["age": "40"])
        #expect(
            item(dataset, "i1")
                == Item(id: "i1", title: "Heat", categories: ["Action", "Comedy"], attributes: ["year": "1995"]))
        #expect(item(dataset, "i2") == Item(id: "i2", title: "Up", categories: []))
        #expect(item(dataset, "i3")?.categories == ["Drama"])
        #expect(report.notes.contains("user attribute 'age': 1 values missing (first at line 4); read as unknown"))
        #expect(report.notes.contains("user attribute 'age' changed 1 times between rows; the latest value is kept"))
        #expect(report.notes.contains("item attribute 'year': 1 values missing (first at line 3); read as unknown"))
        // A feature column the header does not have is an error that names it.
        #expect {
            try Importer.read(format: .csv, path: url, options: ImportOptions(userAttributes: ["zip"]))
        } throws: { error in
            "\(error)".contains("user attribute column 'zip'")
        }
    }

    @Test func jsonLinesFeatureKeysTakeListsAndRejectWrongTypesByName() throws {
        let url = try temporaryFile(
            "features.jsonl",
            #"""
            {"user": "a", "item": "x", "timestamp": 1, "age": 30, "genres": ["Sci-Fi", "War"]}
            {"user": "b", "item": "y", "timestamp": 2, "age": true, "genres": "Drama|Crime"}
            {"user": "c", "item": "x", "timestamp": 3, "age": null, "genres": [{"nested": 1}]}
            """# + "\n")
        let options = ImportOptions(userAttributes: ["age"], itemCategories: "genres")
        let (dataset, report) = try Importer.read(format: .jsonl, path: url, options: options)
        // Every event is kept; only the bad feature values are dropped.
        #expect(report.recordsKept == 3 && report.rejectedCount == 0)
        #expect(dataset.userInfo[Int(dataset.users.index(of: "a")!)]?.attributes == ["age": "30"])
        #expect(dataset.userInfo[Int(dataset.users.index(of: "b")!)]?.attributes == [:])
        #expect(item(dataset, "x")?.categories == ["Sci-Fi", "War"])
        #expect(item(dataset, "y")?.categories == ["Drama", "Crime"])
        #expect(
            report.notes.contains(
                "user attribute 'age': 1 values not a string or a number (first at line 2); dropped, events kept"))
        #expect(
            report.notes.contains(
                "item categories: 1 values not a string or a number (first at line 3); dropped, events kept"))
        #expect(report.notes.contains("user attribute 'age': 1 values missing (first at line 3); read as unknown"))
    }

    @Test func sequenceFormatGoesThroughTheCommonEntryPoint() throws {
        let url = try temporaryFile("seq.txt", "1 2 3\n4 5\n")
        let (dataset, report) = try Importer.read(format: .sequence, path: url)
        #expect(dataset.eventCount == 5 && report.recordsKept == 5)
        #expect(DataFormat(rawValue: "ml-1m-seq") == .sequence)
    }

    // MARK: Real data

    // Runs only where the team's offline datasets sit beside the package (never in CI);
    // the suite must not depend on them.
    @Test(
        "MovieLens 100K imports completely",
        .enabled(
            if: FileManager.default.fileExists(atPath: sharedDatasets.appendingPathComponent("ml-100k/u.data").path),
            "skipped: ../shared/datasets/ml-100k is not present"))
    func realMovieLens100K() throws {
        let (dataset, report) = try Importer.read(
            format: .ml100k, path: sharedDatasets.appendingPathComponent("ml-100k"))
        #expect(report.rejectedCount == 0)
        #expect(dataset.eventCount == 100_000)
        #expect(dataset.userCount == 943)
        #expect(dataset.itemCount == 1682)
        #expect(item(dataset, "543")?.title == "Misérables, Les (1995)")
        #expect(dataset.log.types.allSatisfy { $0 == .rating })
    }
}
