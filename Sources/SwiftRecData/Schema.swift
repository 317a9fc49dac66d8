import Foundation

/// What a user did with an item.
public enum EventType: String, Codable, Sendable, CaseIterable {
    case view, click, cart, purchase, rating, like, share, other
}

/// One behaviour event: a user did something with an item at a time.
public struct Event: Codable, Sendable, Equatable {
    public var user: String
    public var item: String
    public var type: EventType
    /// A rating or other strength, when the source has one.
    public var value: Double?
    /// Seconds since 1970 (UTC). Sources without time use the position in the file.
    public var timestamp: Int64
    /// Where it happened, e.g. `home`, `search`, `detail`.
    public var scenario: String?

    public init(
        user: String, item: String, type: EventType = .view, value: Double? = nil, timestamp: Int64,
        scenario: String? = nil
    ) {
        self.user = user
        self.item = item
        self.type = type
        self.value = value
        self.timestamp = timestamp
        self.scenario = scenario
    }
}

/// An item and what is known about it.
public struct Item: Codable, Sendable, Equatable {
    public var id: String
    public var title: String?
    public var description: String?
    public var categories: [String]
    public var attributes: [String: String]

    public init(
        id: String, title: String? = nil, description: String? = nil, categories: [String] = [],
        attributes: [String: String] = [:]
    ) {
        self.id = id
        self.title = title
        self.description = description
        self.categories = categories
        self.attributes = attributes
    }
}

/// A user and what is known about them (age, gender, location, occupation, …).
public struct User: Codable, Sendable, Equatable {
    public var id: String
    public var attributes: [String: String]

    public init(id: String, attributes: [String: String] = [:]) {
        self.id = id
        self.attributes = attributes
    }
}

/// A two-way map between string ids and dense indices 0..<count, in first-seen order.
public struct IDMap: Sendable, Equatable {
    public private(set) var ids: [String] = []
    private var indices: [String: Int32] = [:]

    public init() {}

    public init<S: Sequence>(_ ids: S) where S.Element == String {
        for id in ids { _ = intern(id) }
    }

    public var count: Int { ids.count }

    /// The index of `id`, adding it when new.
    public mutating func intern(_ id: String) -> Int32 {
        if let i = indices[id] { return i }
        let i = Int32(ids.count)
        ids.append(id)
        indices[id] = i
        return i
    }

    /// The index of a known id, or nil.
    public func index(of id: String) -> Int32? { indices[id] }

    /// The id at a dense index.
    public func id(at index: Int32) -> String { ids[Int(index)] }

    /// A short digest of the ids in order, so a model can tell whether it was trained on this map.
    public var fingerprint: String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in ids {
            for byte in id.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            hash ^= 0x1F
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return String(hash, radix: 16) + "-\(ids.count)"
    }
}
