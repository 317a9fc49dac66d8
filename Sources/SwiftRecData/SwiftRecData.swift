/// SwiftRecData will hold schemas (`Event`, `Item`, `User`), id maps, the columnar
/// interaction log, importers, preprocessing, splits and the synthetic generator
/// (DESIGN.md §2; issue 3). It depends on nothing above it.
public enum SwiftRecData {
    /// The version of the data layer's on-disk formats.
    public static let formatVersion = 1
}
