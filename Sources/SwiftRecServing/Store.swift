import Foundation
import SwiftRecData

/// One page of a listing and the cursor of the next page (nil on the last page).
public struct Page<Element: Sendable>: Sendable {
    public var elements: [Element]
    public var next: String?

    public init(elements: [Element], next: String?) {
        self.elements = elements
        self.next = next
    }
}

/// A model the service serves: its type, where its files are, how it scored, and whether it
/// is the one answering requests. At most one record is active.
public struct ModelRecord: Codable, Sendable, Equatable {
    /// The name requests and `POST /models/{name}/activate` use.
    public var name: String
    /// The ``ModelCatalog`` type, e.g. `sasrec`.
    public var type: String
    /// The saved model's directory (`swiftrec train --out` layout): its name below the service's
    /// models directory, or an absolute path; nil when it lives only in the process that trained it.
    public var directory: String?
    /// Catalogue size the model scores.
    public var items: Int
    /// Figures measured when it was trained, e.g. `valid_NDCG@10`.
    public var metrics: [String: Double]
    /// Seconds since 1970 when the record was written.
    public var createdAt: Int64
    public var active: Bool

    public init(
        name: String, type: String, directory: String?, items: Int, metrics: [String: Double] = [:],
        createdAt: Int64 = Int64(Date().timeIntervalSince1970), active: Bool = false
    ) {
        self.name = name
        self.type = type
        self.directory = directory
        self.items = items
        self.metrics = metrics
        self.createdAt = createdAt
        self.active = active
    }
}

/// Where the service keeps events, items, users and its model registry. Every write has happened durably when
/// the call returns, so an acknowledged write is never lost. Implementations: ``InMemoryStore``
/// (tests, demos); SQLite and PostgreSQL follow the same contract.
public protocol RecommendationStore: Sendable {
    /// Appends events, oldest first per user.
    func append(_ events: [Event]) async throws
    /// Inserts or replaces items by id.
    func upsert(items: [Item]) async throws
    /// Inserts or replaces users by id.
    func upsert(users: [User]) async throws
    /// Removes a user with all their events; false when the user was unknown.
    func deleteUser(_ id: String) async throws -> Bool
    func item(_ id: String) async throws -> Item?
    /// The stored items among `ids`, by id (one read for a whole batch).
    func items(withIDs ids: Set<String>) async throws -> [String: Item]
    func user(_ id: String) async throws -> User?
    /// Items in id order after `cursor` (an id), at most `limit`.
    func items(after cursor: String?, limit: Int) async throws -> Page<Item>
    /// Users in id order after `cursor` (an id), at most `limit`.
    func users(after cursor: String?, limit: Int) async throws -> Page<User>
    /// The user's newest `limit` events, oldest first.
    func recentEvents(ofUser id: String, limit: Int) async throws -> [Event]
    /// How many events are stored.
    func eventCount() async throws -> Int
    /// The items that have events in `scenario`, with how many events each.
    func itemCounts(inScenario scenario: String) async throws -> [String: Int]
    /// Everything stored, as a dataset to train on (events in the order they were stored).
    func snapshot() async throws -> Dataset
    /// The sizes ``snapshot()`` would have (users with attributes or events, items, events),
    /// without reading the events into memory.
    func shape() async throws -> DataShape
    /// Inserts or replaces a model record by name; an active record deactivates the others.
    func saveModel(_ record: ModelRecord) async throws
    /// The registered models by name.
    func modelRecords() async throws -> [ModelRecord]
    /// Marks one model active and every other inactive; false when no record has that name.
    func activateModel(_ name: String) async throws -> Bool
    /// Removes a model record; false when no record has that name.
    func deleteModel(_ name: String) async throws -> Bool
}

/// A store in memory: nothing survives the process. For tests and throw-away demos.
public actor InMemoryStore: RecommendationStore {
    private var events: [String: [Event]] = [:]
    private var itemTable: [String: Item] = [:]
    private var userTable: [String: User] = [:]
    private var count = 0
    private var modelTable: [String: ModelRecord] = [:]

    public init() {}

    public func append(_ new: [Event]) {
        for event in new { events[event.user, default: []].append(event) }
        count += new.count
    }

    public func upsert(items: [Item]) { for item in items { itemTable[item.id] = item } }

    public func upsert(users: [User]) { for user in users { userTable[user.id] = user } }

    public func deleteUser(_ id: String) -> Bool {
        let removed = events.removeValue(forKey: id)
        count -= removed?.count ?? 0
        return userTable.removeValue(forKey: id) != nil || removed != nil
    }

    public func item(_ id: String) -> Item? { itemTable[id] }

    public func items(withIDs ids: Set<String>) -> [String: Item] {
        ids.reduce(into: [:]) { found, id in found[id] = itemTable[id] }
    }

    public func user(_ id: String) -> User? { userTable[id] }

    public func items(after cursor: String?, limit: Int) -> Page<Item> {
        Self.page(itemTable, after: cursor, limit: limit)
    }

    public func users(after cursor: String?, limit: Int) -> Page<User> {
        // Users known only from their events are listed too.
        var all = userTable
        for id in events.keys where all[id] == nil { all[id] = User(id: id) }
        return Self.page(all, after: cursor, limit: limit)
    }

    public func recentEvents(ofUser id: String, limit: Int) -> [Event] { Array((events[id] ?? []).suffix(limit)) }

    public func eventCount() -> Int { count }

    public func shape() -> DataShape {
        let users = Set(userTable.keys).union(events.keys).count
        let items = Set(itemTable.keys).union(events.values.lazy.flatMap { $0.map(\.item) }).count
        return DataShape(users: users, items: items, events: count)
    }

    public func itemCounts(inScenario scenario: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for list in events.values {
            for event in list where event.scenario == scenario { counts[event.item, default: 0] += 1 }
        }
        return counts
    }

    public func snapshot() -> Dataset {
        var builder = DatasetBuilder()
        for id in itemTable.keys.sorted() { builder.add(itemTable[id]!) }
        for id in userTable.keys.sorted() { builder.add(userTable[id]!) }
        for user in events.keys.sorted() { for event in events[user]! { builder.add(event) } }
        return builder.build()
    }

    public func saveModel(_ record: ModelRecord) {
        if record.active { for name in modelTable.keys { modelTable[name]!.active = false } }
        modelTable[record.name] = record
    }

    public func modelRecords() -> [ModelRecord] { modelTable.keys.sorted().map { modelTable[$0]! } }

    public func activateModel(_ name: String) -> Bool {
        guard modelTable[name] != nil else { return false }
        for key in modelTable.keys { modelTable[key]!.active = key == name }
        return true
    }

    public func deleteModel(_ name: String) -> Bool { modelTable.removeValue(forKey: name) != nil }

    private static func page<T: Sendable>(_ table: [String: T], after cursor: String?, limit: Int) -> Page<T> {
        let keys = table.keys.filter { key in cursor.map { key > $0 } ?? true }.sorted()
        let taken = keys.prefix(max(limit, 0))
        return Page(elements: taken.map { table[$0]! }, next: keys.count > taken.count ? taken.last : nil)
    }
}

extension RecommendationStore {
    /// Writes a whole dataset (items, users, events in each user's time order, with their
    /// scenarios) in batches of `batchSize` events; returns the events written. With
    /// `pseudonyms`, user ids are stored as their pseudonyms.
    @discardableResult
    public func load(_ dataset: Dataset, pseudonyms: UserPseudonyms? = nil, batchSize: Int = 50_000) async throws
        -> Int
    {
        let userID: (String) -> String = { id in pseudonyms?.pseudonym(of: id) ?? id }
        try await upsert(items: (0..<dataset.itemCount).map { dataset.itemInfo[$0] ?? Item(id: dataset.items.ids[$0]) })
        try await upsert(
            users: (0..<dataset.userCount).compactMap { u in
                dataset.userInfo[u].map { User(id: userID($0.id), attributes: $0.attributes) }
            })
        var batch: [Event] = []
        batch.reserveCapacity(batchSize)
        var written = 0
        // The log index behind each sequence position: the event's type, value and scenario.
        let logIndex = dataset.sequenceOrder()
        let log = dataset.log
        for u in 0..<dataset.userCount {
            let range = dataset.sequences.offsets[u]..<dataset.sequences.offsets[u + 1]
            let user = userID(dataset.users.ids[u])
            for k in range {
                let item = dataset.sequences.items[k], e = logIndex[k]
                batch.append(
                    Event(
                        user: user, item: dataset.items.ids[Int(item)], type: log.types[e],
                        value: log.values[e].isNaN ? nil : Double(log.values[e]),
                        timestamp: dataset.sequences.timestamps[k], scenario: dataset.scenarioName(log.scenarios[e])))
                if batch.count == batchSize {
                    try await append(batch)
                    written += batch.count
                    batch.removeAll(keepingCapacity: true)
                }
            }
        }
        try await append(batch)
        return written + batch.count
    }
}
