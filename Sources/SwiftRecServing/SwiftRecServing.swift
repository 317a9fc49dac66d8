import SwiftRecData
import SwiftRecEvaluation
import SwiftRecModels
import SwiftRecTensor

/// SwiftRecServing will hold the store, live user state, ranking pipeline, model registry
/// and HTTP API (DESIGN.md §7; issue 5).
public enum SwiftRecServing {
    /// The port `swiftrec serve` listens on by default.
    public static let defaultPort = 8080
}
