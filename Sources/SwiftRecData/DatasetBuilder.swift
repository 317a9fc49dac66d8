/// Collects events, items and users with string ids, then builds a ``Dataset``.
///
/// Items and users may arrive before or after their events; features given for an id that
/// never appears in an event are kept too (cold-start items).
public struct DatasetBuilder: Sendable {
    public private(set) var users = IDMap()
    public private(set) var items = IDMap()
    public private(set) var log = InteractionLog()
    public private(set) var scenarios = IDMap()
    private var itemInfo: [Int32: Item] = [:]
    private var userInfo: [Int32: User] = [:]

    public init() {}

    /// Adds one event.
    public mutating func add(_ event: Event) {
        let u = users.intern(event.user)
        let i = items.intern(event.item)
        let scenario = event.scenario.map { scenarios.intern($0) } ?? InteractionLog.noScenario
        log.append(
            user: u, item: i, timestamp: event.timestamp, value: event.value.map(Float.init) ?? .nan, type: event.type,
            scenario: scenario)
    }

    /// Adds (or replaces) an item's features.
    public mutating func add(_ item: Item) { itemInfo[items.intern(item.id)] = item }

    /// Adds (or replaces) a user's features.
    public mutating func add(_ user: User) { userInfo[users.intern(user.id)] = user }

    public var eventCount: Int { log.count }

    public func build() -> Dataset {
        var itemList = [Item?](repeating: nil, count: items.count)
        for (i, item) in itemInfo { itemList[Int(i)] = item }
        var userList = [User?](repeating: nil, count: users.count)
        for (u, user) in userInfo { userList[Int(u)] = user }
        return Dataset(
            users: users, items: items, log: log, itemInfo: itemList, userInfo: userList, scenarios: scenarios)
    }
}
