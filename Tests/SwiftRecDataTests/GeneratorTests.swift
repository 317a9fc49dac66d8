import Testing

@testable import SwiftRecData

@Suite("Synthetic generator")
struct GeneratorTests {
    @Test func countsIdsAndFeaturesAreAsConfigured() {
        let config = SyntheticConfig(users: 50, categories: 4, itemsPerCategory: 10, eventsPerUser: 5...9, seed: 2)
        let data = SyntheticGenerator.generate(config)
        let d = data.dataset
        #expect(d.userCount == 50 && d.itemCount == 40)
        #expect(d.users.id(at: 7) == "user-7" && d.items.id(at: 23) == "item-23")
        #expect((0..<50).allSatisfy { (5...9).contains(d.sequences.items(of: $0).count) })
        #expect(data.itemCategory == (0..<40).map { $0 / 10 })
        #expect(data.categoryNames.count == 4 && Set(data.categoryNames).count == 4)
        let item = d.itemInfo[23]!
        #expect(item.title?.hasPrefix("Category 2 item 3: ") == true)
        #expect(item.categories == [data.categoryNames[2]] && item.attributes["category"] == "2")
        let user = d.userInfo[0]!
        #expect(Set(user.attributes.keys) == ["age", "gender", "location"])
        // Times strictly increase within a user and start in the configured window.
        for u in 0..<50 {
            let times = Array(d.sequences.timestamps(of: u))
            #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
            #expect(times[0] >= config.startTime && times[0] <= config.startTime + config.startSpreadSeconds)
        }
        // Without repeats, a user has each item at most once.
        #expect((0..<50).allSatisfy { Set(d.sequences.items(of: $0)).count == d.sequences.items(of: $0).count })
        // Many categories get names beyond the word list.
        let wide = SyntheticGenerator.generate(SyntheticConfig(users: 1, categories: 45, itemsPerCategory: 1))
        #expect(Set(wide.categoryNames).count == 45)
    }

    @Test func eventsFollowTheGroundTruthTimeline() {
        let config = SyntheticConfig(
            users: 200, categories: 6, itemsPerCategory: 30, eventsPerUser: 10...40, switches: .probability(0.1),
            seed: 4)
        let data = SyntheticGenerator.generate(config)
        let d = data.dataset
        var switches = 0
        var steps = 0
        for u in 0..<d.userCount {
            let timeline = data.timelines[u]
            let items = Array(d.sequences.items(of: u))
            #expect(timeline.first?.start == 0)
            #expect(
                zip(timeline, timeline.dropFirst()).allSatisfy { $0.start < $1.start && $0.category != $1.category })
            #expect(timeline.last!.start < items.count)
            // With no noise every event comes from the user's current interest.
            for (p, item) in items.enumerated() {
                #expect(data.itemCategory[Int(item)] == data.interest(ofUser: u, at: p))
            }
            // The ground-truth switch positions are where the item category changes.
            let changes = (1..<items.count).filter {
                data.itemCategory[Int(items[$0])] != data.itemCategory[Int(items[$0 - 1])]
            }
            #expect(changes == data.switchPositions(ofUser: u))
            switches += timeline.count - 1
            steps += items.count - 1
        }
        // About one switch per ten steps.
        let rate = Double(switches) / Double(steps)
        #expect(rate > 0.08 && rate < 0.12)
    }

    @Test func switchesPerUserAreExact() {
        let data = SyntheticGenerator.generate(
            SyntheticConfig(
                users: 100, categories: 5, itemsPerCategory: 40, eventsPerUser: 2...30, switches: .perUser(2)))
        for u in 0..<100 {
            let length = data.dataset.sequences.items(of: u).count
            #expect(data.switchPositions(ofUser: u).count == min(2, length - 1))
        }
    }

    @Test func attributeAffinityMakesASegmentsCategoriesItsInterests() {
        func favouredShare(_ affinity: Double) -> Double {
            let config = SyntheticConfig(
                users: 600, categories: 20, itemsPerCategory: 10, eventsPerUser: 10...20, switches: .perUser(1),
                seed: 4, attributeAffinity: affinity)
            let data = SyntheticGenerator.generate(config)
            var favoured = 0, spans = 0
            for u in 0..<config.users {
                let attributes = data.dataset.userInfo[u]!.attributes
                let segment = SyntheticConfig.segment(age: Int(attributes["age"]!)!, gender: attributes["gender"]!)
                let categories = Set(config.favouredCategories(ofSegment: segment))
                for span in data.timelines[u] {
                    spans += 1
                    if categories.contains(span.category) { favoured += 1 }
                }
            }
            return Double(favoured) / Double(spans)
        }
        // A segment favours 3 or 4 of the 20 categories: about 17 % of interests by chance.
        #expect(favouredShare(0) < 0.25)
        #expect(favouredShare(0.9) > 0.85)
    }

    @Test func popularityIsSkewed() {
        func topDecileShare(_ exponent: Double) -> Double {
            let data = SyntheticGenerator.generate(
                SyntheticConfig(
                    users: 500, categories: 10, itemsPerCategory: 100, eventsPerUser: 10...20,
                    popularityExponent: exponent, seed: 9))
            var counts = [Int](repeating: 0, count: data.dataset.itemCount)
            for i in data.dataset.log.items { counts[Int(i)] += 1 }
            let sorted = counts.sorted(by: >)
            return Double(sorted.prefix(sorted.count / 10).reduce(0, +)) / Double(data.dataset.eventCount)
        }
        // With uniform popularity the top 10% of items get about 17% of the events here (10%
        // plus sampling noise); with Zipf exponent 1 (and no repeats per user) well over 30%.
        let skewed = topDecileShare(1.0)
        let uniform = topDecileShare(0)
        #expect(uniform < 0.2)
        #expect(skewed > 0.3 && skewed > 1.8 * uniform)
    }

    @Test func sequentialPatternAndNoiseAreConfigurable() {
        let sequential = SyntheticGenerator.generate(
            SyntheticConfig(
                users: 50, categories: 3, itemsPerCategory: 20, eventsPerUser: 10...20, sequentialProbability: 1,
                allowRepeats: true, seed: 3))
        for u in 0..<50 {
            let items = Array(sequential.dataset.sequences.items(of: u))
            let switches = Set(sequential.switchPositions(ofUser: u))
            for p in 1..<items.count where !switches.contains(p) {
                let previous = Int(items[p - 1])
                #expect(Int(items[p]) == (previous / 20) * 20 + (previous % 20 + 1) % 20)
            }
        }

        let noisy = SyntheticGenerator.generate(
            SyntheticConfig(users: 300, categories: 5, eventsPerUser: 20...20, noiseProbability: 0.2, seed: 6))
        var off = 0
        for u in 0..<300 {
            for (p, item) in noisy.dataset.sequences.items(of: u).enumerated()
            where noisy.itemCategory[Int(item)] != noisy.interest(ofUser: u, at: p) {
                off += 1
            }
        }
        let fraction = Double(off) / Double(noisy.dataset.eventCount)
        #expect(fraction > 0.17 && fraction < 0.23)
    }

    @Test func sameSeedSameData() {
        let config = SyntheticConfig(users: 80, categories: 5, itemsPerCategory: 12, eventsPerUser: 3...15, seed: 21)
        let a = SyntheticGenerator.generate(config)
        let b = SyntheticGenerator.generate(config)
        #expect(a.dataset.log.items == b.dataset.log.items && a.dataset.log.timestamps == b.dataset.log.timestamps)
        #expect(a.timelines == b.timelines && a.dataset.userInfo == b.dataset.userInfo)
        var other = config
        other.seed = 22
        let c = SyntheticGenerator.generate(other)
        #expect(a.dataset.log.items != c.dataset.log.items)
        #expect(a.timelines != c.timelines)
    }
}
