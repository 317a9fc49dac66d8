import SwiftRecData
import SwiftRecTensor

/// SwiftRecModels will hold the `Recommender` protocol and every model (DESIGN.md §3, §5;
/// issues 3, 4 and 6), built on the tensor core and the data layer.
public enum SwiftRecModels {
    /// The version of the model artifact manifest.
    public static let manifestVersion = 1
}
