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
    /// What the person asked for in words ("something for astronomy"): matched against the
    /// items' text and blended with the model's scores (``QueryBlend``).
    public var query: String?
    /// The query's weight in the blend (0…1).
    public var queryWeight: Float = RecommendationRequest.defaultQueryWeight
    /// The query weight when a request does not give one.
    public static let defaultQueryWeight: Float = 0.5

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
    /// How much of the score came from the request's query, when explanations were asked for.
    public var query: QueryReason?
}

/// The query's part in a recommendation.
public struct QueryReason: Codable, Sendable, Equatable {
    /// The query's share of the blended score (0…1), the model's being the rest.
    public var share: Float
    /// The query's words the item's text has.
    public var words: [String]
}

/// A history item's share in a recommendation.
public struct Reason: Codable, Sendable, Equatable {
    public var item: String
    public var weight: Float
}
