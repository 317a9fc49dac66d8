import Foundation
import SwiftRecData
import SwiftRecModels

/// How fast a model's recommendations follow a change of interest.
///
/// For each probed user of generated data (``SyntheticData``) and the first interest switch
/// that is followed by at least `maxEvents` events in the new category, the model scores the
/// user as a new user from the events before the switch, then after each new event; the
/// answer for that user is the number of new events after which at least `threshold` of the
/// top `k` (history excluded) is in the new category. Users who never get there within
/// `maxEvents` count as `maxEvents + 1`.
public enum InterestSwitchProbe {
    public struct Result: Sendable, Equatable {
        /// Switches probed.
        public var cases: Int
        /// Mean and median new events until the threshold is reached.
        public var meanEvents: Double
        public var medianEvents: Double
        /// Cases that never reached the threshold within `maxEvents`.
        public var neverReached: Int
        /// Mean share of the top k in the new category after 0, 1, … `maxEvents` new events.
        public var shareAfter: [Double]
    }

    /// The users and switch positions a probe looks at: the first switch of each user whose
    /// new interest lasts at least `maxEvents` events and comes after at least `minHistory` events.
    public static func cases(_ data: SyntheticData, users: [Int], maxEvents: Int, minHistory: Int = 3) -> [(
        user: Int, position: Int
    )] {
        users.compactMap { u in
            let timeline = data.timelines[u]
            let length = data.dataset.sequences.items(of: u).count
            for (index, span) in timeline.enumerated().dropFirst() where span.start >= minHistory {
                let end = index + 1 < timeline.count ? timeline[index + 1].start : length
                if end - span.start >= maxEvents { return (u, span.start) }
            }
            return nil
        }
    }

    /// Probes `model`, which scores items of `data` by the same indices, with `users`.
    public static func measure(
        _ model: any Recommender, data: SyntheticData, users: [Int], maxEvents: Int = 10, k: Int = 10,
        threshold: Double = 0.5
    ) -> Result {
        precondition(model.itemCount == data.dataset.itemCount, "probe: model and data have different catalogues")
        let probes = cases(data, users: users, maxEvents: maxEvents)
        var needed: [Int] = []
        var shareSums = [Double](repeating: 0, count: maxEvents + 1)
        for (u, position) in probes {
            let sequence = Array(data.dataset.sequences.items(of: u))
            let newCategory = data.interest(ofUser: u, at: position)
            var reachedAt: Int?
            for added in 0...maxEvents {
                let history = Array(sequence[0..<(position + added)])
                let top = TopK.select(k, from: model.scores(for: UserState(items: history)), excluding: history)
                let share = Double(top.filter { data.itemCategory[Int($0)] == newCategory }.count) / Double(k)
                shareSums[added] += share
                if reachedAt == nil && share >= threshold { reachedAt = added }
            }
            needed.append(reachedAt ?? maxEvents + 1)
        }
        let sorted = needed.sorted()
        let median =
            sorted.isEmpty
            ? .nan
            : sorted.count % 2 == 1
                ? Double(sorted[sorted.count / 2]) : Double(sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        return Result(
            cases: probes.count, meanEvents: needed.isEmpty ? .nan : Double(needed.reduce(0, +)) / Double(needed.count),
            medianEvents: median, neverReached: needed.filter { $0 > maxEvents }.count,
            shareAfter: shareSums.map { probes.isEmpty ? .nan : $0 / Double(probes.count) })
    }

    /// The dataset of `data` restricted to `users`' events, with every item kept at its index.
    public static func trainingData(_ data: SyntheticData, users: [Int]) -> Dataset {
        var builder = DatasetBuilder()
        let full = data.dataset
        for i in 0..<full.itemCount {
            builder.add(full.itemInfo[i] ?? Item(id: full.items.id(at: Int32(i))))
        }
        for u in users {
            let id = full.users.id(at: Int32(u))
            if let info = full.userInfo[u] { builder.add(info) }
            for (item, time) in zip(full.sequences.items(of: u), full.sequences.timestamps(of: u)) {
                builder.add(Event(user: id, item: full.items.id(at: item), timestamp: time))
            }
        }
        let dataset = builder.build()
        precondition(
            (0..<Int32(full.itemCount)).allSatisfy { dataset.items.id(at: $0) == full.items.id(at: $0) },
            "probe: item indices moved")
        return dataset
    }
}
