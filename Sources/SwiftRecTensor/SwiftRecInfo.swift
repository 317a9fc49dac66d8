/// Facts about this build of SwiftRec.
public enum SwiftRecInfo {
    /// The library version.
    public static let version = "0.1.0"
}
