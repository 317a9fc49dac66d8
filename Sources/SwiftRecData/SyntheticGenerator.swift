import Foundation

/// What the synthetic generator makes. The defaults give 1,000 users over 20 categories of 50 items.
///
/// The model behind the data:
/// - Items: `categories × itemsPerCategory` items. Item index `c * itemsPerCategory + r` is the
///   item of popularity rank r (0 = most popular) in category c; its id is `"item-<index>"`.
/// - Users: user index u has id `"user-<u>"` and attributes `age`, `gender` and `location`.
/// - Interests: a user starts in a uniformly drawn category and later switches to another one
///   (uniformly among the others) as ``switches`` says. The timeline is the ground truth. With
///   ``attributeAffinity`` p > 0, attributes drive interests: the user's segment (age band
///   under 30 / 30–44 / 45 and over, times female / not) favours the categories c with
///   c mod 6 = segment, and each interest (the first and every switch) is drawn among those
///   with probability p (uniformly otherwise).
/// - Events: at each step, with probability ``noiseProbability`` the item comes from another
///   random category (the interest does not change); otherwise, with probability
///   ``sequentialProbability``, it is the next item (rank + 1, wrapping) of the current category
///   after the user's previous in-interest item; otherwise it is drawn from the category with
///   Zipf popularity: rank r has probability ∝ 1 / (r + 1)^``popularityExponent``. Unless
///   ``allowRepeats`` is set, an item the user already has is redrawn (up to 32 times).
/// - Times: a user starts at `startTime` plus a uniform offset in `0...startSpreadSeconds`;
///   the gaps between a user's events are exponential with mean ``meanGapSeconds``, at least 1 s,
///   so a user's times strictly increase and sequence order is generation order.
public struct SyntheticConfig: Sendable, Equatable {
    /// When a user's interest switches category.
    public enum Switches: Sendable, Equatable {
        /// Before each event after the first, switch with this probability.
        case probability(Double)
        /// Exactly this many switches per user (as many as fit when the sequence is shorter),
        /// at distinct positions drawn uniformly from 1..<length.
        case perUser(Int)
    }

    public var users: Int
    public var categories: Int
    public var itemsPerCategory: Int
    public var eventsPerUser: ClosedRange<Int>
    public var switches: Switches
    /// The Zipf exponent of item popularity within a category (0 = uniform).
    public var popularityExponent: Double
    /// The chance that the next item is the one after the previous one in the category.
    public var sequentialProbability: Double
    /// The chance that an event is off-interest (from another category).
    public var noiseProbability: Double
    /// Whether a user may have an item more than once.
    public var allowRepeats: Bool
    public var seed: UInt64
    /// Seconds since 1970 (UTC) of the earliest possible first event.
    public var startTime: Int64
    /// Users start at a uniform offset in `0...startSpreadSeconds` after `startTime`.
    public var startSpreadSeconds: Int64
    public var meanGapSeconds: Double
    /// The chance that an interest is drawn among the user's segment's categories (0: attributes
    /// do not drive behaviour).
    public var attributeAffinity: Double

    public init(
        users: Int = 1000, categories: Int = 20, itemsPerCategory: Int = 50, eventsPerUser: ClosedRange<Int> = 20...60,
        switches: Switches = .probability(0.05), popularityExponent: Double = 1.0, sequentialProbability: Double = 0,
        noiseProbability: Double = 0, allowRepeats: Bool = false, seed: UInt64 = 1,
        startTime: Int64 = 1_700_000_000, startSpreadSeconds: Int64 = 30 * 86_400, meanGapSeconds: Double = 3600,
        attributeAffinity: Double = 0
    ) {
        self.users = users
        self.categories = categories
        self.itemsPerCategory = itemsPerCategory
        self.eventsPerUser = eventsPerUser
        self.switches = switches
        self.popularityExponent = popularityExponent
        self.sequentialProbability = sequentialProbability
        self.noiseProbability = noiseProbability
        self.allowRepeats = allowRepeats
        self.seed = seed
        self.startTime = startTime
        self.startSpreadSeconds = startSpreadSeconds
        self.meanGapSeconds = meanGapSeconds
        self.attributeAffinity = attributeAffinity
    }

    /// The segment (0..<6) of a user with these attributes: age band × female or not.
    public static func segment(age: Int, gender: String) -> Int {
        (age < 30 ? 0 : age < 45 ? 1 : 2) * 2 + (gender == "female" ? 0 : 1)
    }

    /// The categories a segment favours: c mod 6 = segment.
    public func favouredCategories(ofSegment segment: Int) -> [Int] {
        Array(stride(from: segment, to: categories, by: 6))
    }

    public var itemCount: Int { categories * itemsPerCategory }
}

/// A stretch of a user's sequence spent in one category: from sequence position `start` up to
/// the next span's start (or the end).
public struct InterestSpan: Sendable, Equatable {
    public var start: Int
    public var category: Int

    public init(start: Int, category: Int) {
        self.start = start
        self.category = category
    }
}

/// Generated data with its ground truth.
public struct SyntheticData: Sendable {
    public let config: SyntheticConfig
    /// Users, items (with titles, descriptions, categories), events.
    public let dataset: Dataset
    /// Each user's interest timeline, by user index: the first span starts at 0; each later one
    /// starts at the sequence position of the first event after a switch.
    public let timelines: [[InterestSpan]]
    /// The category of each item, by item index.
    public let itemCategory: [Int]
    /// The category names, by category (also each item's `categories[0]`).
    public let categoryNames: [String]

    /// The user's interest at a sequence position.
    public func interest(ofUser u: Int, at position: Int) -> Int {
        var category = timelines[u][0].category
        for span in timelines[u] where span.start <= position { category = span.category }
        return category
    }

    /// The sequence positions where user `u`'s interest switches.
    public func switchPositions(ofUser u: Int) -> [Int] { timelines[u].dropFirst().map(\.start) }
}

/// Generates users whose interests switch between categories of items at known times (see
/// ``SyntheticConfig`` for the model). The same config gives the same data on every platform.
public enum SyntheticGenerator {
    public static func generate(_ config: SyntheticConfig) -> SyntheticData {
        precondition(config.users >= 0 && config.categories >= 1 && config.itemsPerCategory >= 1, "bad sizes")
        precondition(config.eventsPerUser.lowerBound >= 1, "every user needs at least one event")
        precondition(config.meanGapSeconds >= 0 && config.startSpreadSeconds >= 0, "times must not go backwards")
        var rng = SplitMix64(seed: config.seed)
        let perCategory = config.itemsPerCategory
        let itemCount = config.itemCount

        let names = (0..<config.categories).map { c in
            let base = categoryWords[c % categoryWords.count]
            return c < categoryWords.count ? base : "\(base) \(c / categoryWords.count + 1)"
        }
        var itemIDs: [String] = []
        var items: [Item?] = []
        var itemCategory: [Int] = []
        itemIDs.reserveCapacity(itemCount)
        items.reserveCapacity(itemCount)
        for c in 0..<config.categories {
            for r in 0..<perCategory {
                let index = c * perCategory + r
                let adjective = adjectives[(index * 7 + r) % adjectives.count]
                let noun = nouns[(index * 3 + c) % nouns.count]
                let id = "item-\(index)"
                itemIDs.append(id)
                itemCategory.append(c)
                items.append(
                    Item(
                        id: id, title: "Category \(c) item \(r): \(adjective) \(names[c].lowercased()) \(noun)",
                        description: "A \(adjective) \(noun) for people into \(names[c].lowercased()).",
                        categories: [names[c]], attributes: ["category": String(c)]))
            }
        }

        var userIDs: [String] = []
        var users: [User?] = []
        var favoured: [[Int]] = []
        for u in 0..<config.users {
            let id = "user-\(u)"
            userIDs.append(id)
            let g = rng.nextDouble()
            let age = 18 + rng.nextInt(below: 58)
            let gender = g < 0.48 ? "female" : g < 0.96 ? "male" : "other"
            let attributes = [
                "age": String(age), "gender": gender, "location": locations[rng.nextInt(below: locations.count)],
            ]
            users.append(User(id: id, attributes: attributes))
            favoured.append(config.favouredCategories(ofSegment: SyntheticConfig.segment(age: age, gender: gender)))
        }

        // Zipf cumulative distribution over ranks within a category.
        var cdf = [Double](repeating: 0, count: perCategory)
        var total = 0.0
        for r in 0..<perCategory {
            total += 1 / pow(Double(r + 1), config.popularityExponent)
            cdf[r] = total
        }
        for r in 0..<perCategory { cdf[r] /= total }
        cdf[perCategory - 1] = 1

        var log = InteractionLog()
        let expected = config.users * (config.eventsPerUser.lowerBound + config.eventsPerUser.upperBound) / 2
        log.users.reserveCapacity(expected)
        log.items.reserveCapacity(expected)
        log.timestamps.reserveCapacity(expected)
        log.values.reserveCapacity(expected)
        log.types.reserveCapacity(expected)
        var timelines: [[InterestSpan]] = []
        timelines.reserveCapacity(config.users)
        var has = [Bool](repeating: false, count: itemCount)
        var touched: [Int] = []
        var switchAt = [Bool]()
        var positions: [Int] = []
        cdf.withUnsafeBufferPointer { cdf in
            func zipfRank(_ rng: inout SplitMix64) -> Int {
                let x = rng.nextDouble()
                var lo = 0
                var hi = cdf.count - 1
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if cdf[mid] > x { hi = mid } else { lo = mid + 1 }
                }
                return lo
            }
            for u in 0..<config.users {
                let length = rng.nextInt(in: config.eventsPerUser)
                // Where the interest switches.
                switchAt.removeAll(keepingCapacity: true)
                switchAt.append(contentsOf: repeatElement(false, count: length))
                if config.categories > 1 {
                    switch config.switches {
                    case .probability(let p):
                        for t in 1..<max(1, length) where rng.nextDouble() < p { switchAt[t] = true }
                    case .perUser(let k):
                        positions.removeAll(keepingCapacity: true)
                        positions.append(contentsOf: 1..<max(1, length))
                        rng.shuffle(&positions)
                        for t in positions.prefix(k) { switchAt[t] = true }
                    }
                }
                // With attribute affinity, an interest is drawn among the segment's categories
                // (other than `current`, when there is another); without, no extra draw is made,
                // so data without affinity is what it always was.
                func segmentCategory(other current: Int?) -> Int? {
                    guard config.attributeAffinity > 0, rng.nextDouble() < config.attributeAffinity else { return nil }
                    let choices = favoured[u].filter { $0 != current }
                    return choices.isEmpty ? nil : choices[rng.nextInt(below: choices.count)]
                }
                var category = segmentCategory(other: nil) ?? rng.nextInt(below: config.categories)
                var timeline = [InterestSpan(start: 0, category: category)]
                var time = config.startTime + Int64(rng.nextInt(below: Int(config.startSpreadSeconds) + 1))
                var previousRank = -1  // the previous in-interest item's rank, -1 after a switch or at the start
                for t in 0..<length {
                    if switchAt[t] {
                        category =
                            segmentCategory(other: category)
                            ?? (category + 1 + rng.nextInt(below: config.categories - 1)) % config.categories
                        timeline.append(InterestSpan(start: t, category: category))
                        previousRank = -1
                    }
                    var eventCategory = category
                    let noise = config.categories > 1 && rng.nextDouble() < config.noiseProbability
                    if noise {
                        eventCategory = (category + 1 + rng.nextInt(below: config.categories - 1)) % config.categories
                    }
                    var rank: Int
                    if !noise && previousRank >= 0 && rng.nextDouble() < config.sequentialProbability {
                        rank = (previousRank + 1) % perCategory
                    } else {
                        rank = zipfRank(&rng)
                    }
                    var attempts = 0
                    while !config.allowRepeats && has[eventCategory * perCategory + rank] && attempts < 32 {
                        rank = zipfRank(&rng)
                        attempts += 1
                    }
                    if !noise { previousRank = rank }
                    let item = eventCategory * perCategory + rank
                    if !has[item] {
                        has[item] = true
                        touched.append(item)
                    }
                    if t > 0 {
                        let u01 = rng.nextDouble()
                        time += max(1, Int64((-Foundation.log(1 - u01) * config.meanGapSeconds).rounded()))
                    }
                    log.append(user: Int32(u), item: Int32(item), timestamp: time, value: .nan, type: .view)
                }
                for item in touched { has[item] = false }
                touched.removeAll(keepingCapacity: true)
                timelines.append(timeline)
            }
        }
        let dataset = Dataset(
            users: IDMap(userIDs), items: IDMap(itemIDs), log: log, itemInfo: items, userInfo: users)
        return SyntheticData(
            config: config, dataset: dataset, timelines: timelines, itemCategory: itemCategory, categoryNames: names)
    }

    private static let categoryWords = [
        "Jazz", "Hiking", "Cooking", "Astronomy", "Gardening", "Cycling", "Photography", "Chess", "Poetry",
        "Robotics", "Pottery", "Sailing", "Baking", "Birding", "Climbing", "Knitting", "Surfing", "Woodwork",
        "Opera", "Running",
    ]
    private static let adjectives = [
        "classic", "compact", "vintage", "modern", "essential", "deluxe", "beginner's", "expert", "handmade",
        "portable", "illustrated", "limited", "everyday", "quiet", "bold",
    ]
    private static let nouns = [
        "guide", "kit", "set", "handbook", "collection", "toolbox", "journal", "starter pack", "companion", "atlas",
        "bundle",
    ]
    private static let locations = [
        "Berlin", "Lisbon", "Toronto", "Osaka", "Nairobi", "Austin", "Melbourne", "Oslo", "Lima", "Pune",
    ]
}
