import SwiftRecData

/// The pipeline's model for a user with nothing to go by but the request's scenario (no
/// history, no attributes): the scenario's items ranked by their events in it, kept current by
/// ``ScenarioCatalog`` as events arrive. It scores the active model's catalogue, so the rest of
/// the pipeline (filters, re-ranking, explanations) treats its scores as any model's, and
/// replies name it as their `model`.
struct ScenarioPopularity: Sendable {
    static let name = "scenario-popularity"

    /// Events per item in the scenario.
    let counts: [String: Int]

    /// One score per item of `items`: its events in the scenario (with `noise`, released with
    /// it, for the list of `scenario`), 0 for items without.
    func scores(over items: IDMap, noise: PopularityNoise? = nil, scenario: String = "") -> [Float] {
        var scores = [Float](repeating: 0, count: items.count)
        for (item, count) in counts {
            guard let index = items.index(of: item) else { continue }
            scores[Int(index)] =
                noise?.noised(Float(count), item: Int(index), context: "scenario:" + scenario) ?? Float(count)
        }
        return scores
    }
}
