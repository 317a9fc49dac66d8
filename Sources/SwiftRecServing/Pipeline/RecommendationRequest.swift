import Foundation
import SwiftRecEvaluation
import SwiftRecModels

/// What a caller asks for: how many items, which filters, re-ranking and explanations.
public struct RecommendationRequest: Sendable {
    public var count: Int
    public var excludeSeen: Bool
    public var explain: Bool
    /// How explanations are computed when asked for.
    public var explanationMethod: ExplanationMethod
    /// Items that must not be recommended (unavailable, filtered by the caller).
    public var excluded: Set<String>
    /// When set, only these items may be recommended.
    public var candidates: Set<String>?
    /// Where the request comes from (e.g. `home`): only items with events in that scenario may
    /// be recommended, and the model reads it from the user's state.
    public var scenario: String?
    /// MMR re-ranking and a per-category cap (inactive by default).
    public var diversification = Diversification()
    /// Diversify by shared categories (default) or by the model's item vectors.
    public var diversifyByVectors = false
    /// The probability that the last slot goes to an exploration item: one the model ranks
    /// below the list, drawn at random from the candidate pool.
    public var exploration: Double = 0

    public init(
        count: Int = 10, excludeSeen: Bool = true, explain: Bool = false,
        explanationMethod: ExplanationMethod = .attention, excluded: Set<String> = [], candidates: Set<String>? = nil
    ) {
        self.count = count
        self.excludeSeen = excludeSeen
        self.explain = explain
        self.explanationMethod = explanationMethod
        self.excluded = excluded
        self.candidates = candidates
    }
}

/// One recommended item.
public struct Recommendation: Codable, Sendable, Equatable {
    public var item: String
    public var score: Float
    /// The history items that drove it, strongest first, when explanations were asked for.
    public var because: [Reason]?
    /// The user's and the item's features that drove it (feature models), largest share
    /// first, when explanations were asked for.
    public var features: [FeatureAttribution]?
    /// True when the item fills the exploration slot.
    public var explore: Bool?
}

/// A history item's share in a recommendation.
public struct Reason: Codable, Sendable, Equatable {
    public var item: String
    public var weight: Float
}
