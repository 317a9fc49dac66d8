import Foundation
import GRDB
import SwiftRecData

/// The embedded store: one SQLite file in WAL mode.
///
/// Durability: the writer connection runs with `PRAGMA synchronous = FULL`, so a write's
/// transaction is fsynced to the write-ahead log before the call returns; an acknowledged
/// write survives a crash of the process or the machine. Readers run concurrently with the
/// writer (WAL). Events, items, users and model records are stored as given (string ids, JSON for lists and
/// attributes); the schema is created and upgraded by migrations on open.
public final class SQLiteStore: RecommendationStore {
    private let pool: DatabasePool
    public let path: String

    /// Opens (creating if needed) the store at `path`.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // Deleted rows are overwritten with zeros rather than left in free pages, so a forgotten
        // user's id and attributes do not stay readable in the file.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        pool = try DatabasePool(path: path, configuration: configuration)
        // After opening: GRDB sets the WAL writer to NORMAL, which may lose the last commits
        // on power failure. FULL fsyncs every commit.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: events, items, users") { db in
            try db.execute(
                sql: """
                    CREATE TABLE item (
                        id TEXT PRIMARY KEY NOT NULL, title TEXT, description TEXT,
                        categories TEXT NOT NULL DEFAULT '[]', attributes TEXT NOT NULL DEFAULT '{}');
                    CREATE TABLE user (id TEXT PRIMARY KEY NOT NULL, attributes TEXT NOT NULL DEFAULT '{}');
                    CREATE TABLE event (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, item TEXT NOT NULL,
                        type TEXT NOT NULL, value REAL, timestamp INTEGER NOT NULL, scenario TEXT);
                    CREATE INDEX event_by_user ON event(user, seq);
                    """)
        }
        migrator.registerMigration("v2: scenario index") { db in
            try db.execute(
                sql: "CREATE INDEX event_by_scenario ON event(scenario, item) WHERE scenario IS NOT NULL")
        }
        migrator.registerMigration("v3: model registry") { db in
            try db.execute(
                sql: """
                    CREATE TABLE model (
                        name TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL, directory TEXT,
                        items INTEGER NOT NULL, metrics TEXT NOT NULL DEFAULT '{}',
                        created_at INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 0);
                    CREATE UNIQUE INDEX one_active_model ON model(active) WHERE active = 1;
                    """)
        }
        migrator.registerMigration("v4: settings") { db in
            try db.execute(sql: "CREATE TABLE setting (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
        }
        return migrator
    }

    /// Ties the store to one way of keeping user ids: raw, or pseudonymised with one secret
    /// (its ``UserPseudonyms/fingerprint`` is recorded, never the secret). A store without users
    /// takes the way it is given; one with users refuses another, so raw ids and pseudonyms
    /// (or pseudonyms of two secrets) never mix.
    public func bindUserIDs(to pseudonyms: UserPseudonyms?) async throws {
        let mark = pseudonyms?.fingerprint ?? "raw"
        try await pool.write { db in
            let recorded = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'user_ids'") ?? "raw"
            let holdsUsers =
                try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM event) OR EXISTS(SELECT 1 FROM user)") ?? false
            if holdsUsers, recorded != mark {
                throw PrivacyError(
                    recorded == "raw"
                        ? "\(self.path) holds raw user ids; pseudonymise from the start (import into a new store with --pseudonym-key)"
                        : mark == "raw"
                            ? "\(self.path) holds pseudonymised user ids; give the --pseudonym-key it was made with"
                            : "\(self.path) holds user ids pseudonymised with another secret")
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('user_ids', ?)", arguments: [mark])
        }
    }

    /// A random 32-byte secret made the first time `name` is asked for and kept in the store.
    public func storedSecret(_ name: String) async throws -> Data {
        try await pool.write { db in
            if let hex = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [name]),
                let data = Data(hexadecimal: hex)
            {
                return data
            }
            var generator = SystemRandomNumberGenerator()
            let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try db.execute(
                sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)",
                arguments: [name, UserPseudonyms.hex(secret)])
            return secret
        }
    }

    /// The SQLite settings that carry the durability promise, for checks and `swiftrec info`.
    public func durabilitySettings() throws -> (journalMode: String, synchronous: Int) {
        try pool.writeWithoutTransaction { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
    }

    public func append(_ events: [Event]) async throws {
        guard !events.isEmpty else { return }
        try await pool.write { db in
            let insert = try db.cachedStatement(
                sql: "INSERT INTO event (user, item, type, value, timestamp, scenario) VALUES (?, ?, ?, ?, ?, ?)")
            for e in events {
                try insert.execute(arguments: [e.user, e.item, e.type.rawValue, e.value, e.timestamp, e.scenario])
            }
        }
    }

    public func upsert(items: [Item]) async throws {
        guard !items.isEmpty else { return }
        let rows = try items.map { ($0, try Self.json($0.categories), try Self.json($0.attributes)) }
        try await pool.write { db in
            let upsert = try db.cachedStatement(
                sql:
                    "INSERT OR REPLACE INTO item (id, title, description, categories, attributes) VALUES (?, ?, ?, ?, ?)"
            )
            for (item, categories, attributes) in rows {
                try upsert.execute(arguments: [item.id, item.title, item.description, categories, attributes])
            }
        }
    }

    public func upsert(users: [User]) async throws {
        guard !users.isEmpty else { return }
        let rows = try users.map { ($0.id, try Self.json($0.attributes)) }
        try await pool.write { db in
            let upsert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO user (id, attributes) VALUES (?, ?)")
            for (id, attributes) in rows { try upsert.execute(arguments: [id, attributes]) }
        }
    }

    /// Deletes the user's events and attributes, then checkpoints the WAL into the database and
    /// truncates it: with `secure_delete`, no copy of the rows is left in either file.
    public func deleteUser(_ id: String) async throws -> Bool {
        let deleted = try await pool.write { db in
            try db.execute(sql: "DELETE FROM event WHERE user = ?", arguments: [id])
            let events = db.changesCount
            try db.execute(sql: "DELETE FROM user WHERE id = ?", arguments: [id])
            return events + db.changesCount > 0
        }
        if deleted {
            // A reader holding an old snapshot makes the truncation wait (busy timeout), not fail.
            _ = try await pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        }
        return deleted
    }

    public func item(_ id: String) async throws -> Item? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM item WHERE id = ?", arguments: [id]).map(Self.item)
        }
    }

    public func items(withIDs ids: Set<String>) async throws -> [String: Item] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.read { db in
            var found: [String: Item] = [:]
            // Chunks keep each statement under SQLite's bound-variable limit.
            let all = Array(ids)
            for start in stride(from: 0, to: all.count, by: 500) {
                let chunk = Array(all[start..<min(all.count, start + 500)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for row in try Row.fetchAll(
                    db, sql: "SELECT * FROM item WHERE id IN (\(marks))", arguments: StatementArguments(chunk))
                {
                    let item = try Self.item(row)
                    found[item.id] = item
                }
            }
            return found
        }
    }

    public func user(_ id: String) async throws -> User? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM user WHERE id = ?", arguments: [id]).map(Self.user)
        }
    }

    public func items(after cursor: String?, limit: Int) async throws -> Page<Item> {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM item WHERE id > ? ORDER BY id LIMIT ?", arguments: [cursor ?? "", limit + 1])
            let items = try rows.prefix(limit).map(Self.item)
            return Page(elements: items, next: rows.count > limit ? items.last?.id : nil)
        }
    }

    public func users(after cursor: String?, limit: Int) async throws -> Page<User> {
        // Users known only from their events are listed too.
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, attributes FROM (
                        SELECT id, attributes FROM user
                        UNION SELECT DISTINCT user AS id, '{}' AS attributes FROM event
                            WHERE user NOT IN (SELECT id FROM user))
                    WHERE id > ? ORDER BY id LIMIT ?
                    """, arguments: [cursor ?? "", limit + 1])
            let users = try rows.prefix(limit).map(Self.user)
            return Page(elements: users, next: rows.count > limit ? users.last?.id : nil)
        }
    }

    public func recentEvents(ofUser id: String, limit: Int) async throws -> [Event] {
        try await pool.read { db in
            // Columns by position through a cursor: a whole history is read per first request of
            // a user, and decoding rows by column name (case-folded per access) cost more than the query.
            let rows = try Row.fetchCursor(
                db,
                sql:
                    "SELECT item, type, value, timestamp, scenario FROM event WHERE user = ? ORDER BY seq DESC LIMIT ?",
                arguments: [id, limit])
            var events: [Event] = []
            while let row = try rows.next() {
                events.append(
                    Event(
                        user: id, item: row[0], type: EventType(rawValue: row[1]) ?? .other, value: row[2],
                        timestamp: row[3], scenario: row[4]))
            }
            events.reverse()
            return events
        }
    }

    public func eventCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0 }
    }

    public func shape() async throws -> DataShape {
        try await pool.read { db in
            // Users and items of the catalogue, and those known only from events, as the snapshot has them.
            let users =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM (SELECT id FROM user UNION SELECT DISTINCT user FROM event)") ?? 0
            let items =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM (SELECT id FROM item UNION SELECT DISTINCT item FROM event)") ?? 0
            let events = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0
            return DataShape(users: users, items: items, events: events)
        }
    }

    public func itemCounts(inScenario scenario: String) async throws -> [String: Int] {
        try await pool.read { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT item, COUNT(*) FROM event WHERE scenario = ? GROUP BY item", arguments: [scenario])
            var counts: [String: Int] = [:]
            while let row = try rows.next() { counts[row[0]] = row[1] }
            return counts
        }
    }

    public func snapshot() async throws -> Dataset {
        try await pool.read { db in
            var builder = DatasetBuilder()
            for row in try Row.fetchAll(db, sql: "SELECT * FROM item ORDER BY id") { builder.add(try Self.item(row)) }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM user ORDER BY id") { builder.add(try Self.user(row)) }
            let rows = try Row.fetchCursor(
                db, sql: "SELECT user, item, type, value, timestamp, scenario FROM event ORDER BY seq")
            while let row = try rows.next() {
                builder.add(
                    Event(
                        user: row[0], item: row[1], type: EventType(rawValue: row[2]) ?? .other, value: row[3],
                        timestamp: row[4], scenario: row[5]))
            }
            return builder.build()
        }
    }

    public func saveModel(_ record: ModelRecord) async throws {
        let metrics = try Self.json(record.metrics)
        try await pool.write { db in
            if record.active { try db.execute(sql: "UPDATE model SET active = 0 WHERE active = 1") }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO model (name, type, directory, items, metrics, created_at, active)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.name, record.type, record.directory, record.items, metrics, record.createdAt, record.active,
                ])
        }
    }

    public func modelRecords() async throws -> [ModelRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM model ORDER BY name").map { row in
                ModelRecord(
                    name: row["name"], type: row["type"], directory: row["directory"], items: row["items"],
                    metrics: try Self.decode([String: Double].self, row["metrics"]), createdAt: row["created_at"],
                    active: row["active"])
            }
        }
    }

    public func activateModel(_ name: String) async throws -> Bool {
        try await pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM model WHERE name = ?", arguments: [name]) != nil else {
                return false
            }
            try db.execute(sql: "UPDATE model SET active = 0 WHERE active = 1")
            try db.execute(sql: "UPDATE model SET active = 1 WHERE name = ?", arguments: [name])
            return true
        }
    }

    public func deleteModel(_ name: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM model WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    private static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    private static func item(_ row: Row) throws -> Item {
        Item(
            id: row["id"], title: row["title"], description: row["description"],
            categories: try decode([String].self, row["categories"]),
            attributes: try decode([String: String].self, row["attributes"]))
    }

    private static func user(_ row: Row) throws -> User {
        User(id: row["id"], attributes: try decode([String: String].self, row["attributes"]))
    }
}
