import SwiftRecData
import SwiftRecModels

/// SwiftRecEvaluation will hold metrics, the full-ranking evaluator, cross-validation and
/// reports (DESIGN.md §6; issue 3).
public enum SwiftRecEvaluation {
    /// The evaluation protocol reports name by default.
    public static let defaultProtocol = "leave-one-out, full ranking, history excluded"
}
