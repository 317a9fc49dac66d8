import Foundation
import SwiftRecData
import Testing

@testable import SwiftRecEvaluation
@testable import SwiftRecModels

/// Scores the category of the user's newest item above everything else.
private final class LastCategoryOracle: Recommender {
    let name = "oracle"
    let inputs: Set<ModelInput> = [.sequence]
    let categories: [Int]
    var itemCount: Int { categories.count }

    init(_ categories: [Int]) { self.categories = categories }

    func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {}

    func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        let last = state.items.last.map { categories[Int($0)] }
        for i in 0..<itemCount { scores[i] = categories[i] == last ? 1 : 0 }
    }

    func save(to directory: URL) throws {}
}

@Suite("Interest switch probe")
struct InterestSwitchTests {
    let data = SyntheticGenerator.generate(
        SyntheticConfig(
            users: 120, categories: 5, itemsPerCategory: 60, eventsPerUser: 30...40, switches: .perUser(1), seed: 3))

    @Test func anOracleFollowsAfterOneEventAndPopularityNever() throws {
        let users = Array(0..<120)
        let cases = InterestSwitchProbe.cases(data, users: users, maxEvents: 8)
        #expect(cases.count > 50)
        for (u, position) in cases {
            #expect(data.switchPositions(ofUser: u).first == position)
        }
        let oracle = InterestSwitchProbe.measure(
            LastCategoryOracle(data.itemCategory), data: data, users: users, maxEvents: 8)
        #expect(oracle.cases == cases.count && oracle.meanEvents == 1 && oracle.medianEvents == 1, "\(oracle)")
        #expect(oracle.neverReached == 0 && oracle.shareAfter[0] == 0 && oracle.shareAfter[1] == 1)

        let pop = Popularity()
        try pop.fit(InterestSwitchProbe.trainingData(data, users: Array(0..<60)), validation: nil, progress: nil)
        let stuck = InterestSwitchProbe.measure(pop, data: data, users: Array(60..<120), maxEvents: 8)
        #expect(stuck.meanEvents > 3 * oracle.meanEvents && stuck.neverReached > stuck.cases / 4, "\(stuck)")
    }

    @Test func trainingDataKeepsItemIndicesAndOnlyTheGivenUsers() {
        let train = InterestSwitchProbe.trainingData(data, users: [5, 7])
        #expect(train.itemCount == data.dataset.itemCount && train.userCount == 2)
        #expect(train.items.id(at: 17) == data.dataset.items.id(at: 17))
        #expect(Array(train.sequences.items(of: 1)) == Array(data.dataset.sequences.items(of: 7)))
    }
}
