import Foundation

/// The folder this test process writes its fixture files under, removed when the process
/// exits, so test runs leave nothing behind in the temporary directory.
let fixtureRoot: URL = {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
        "swiftrec-data-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: fixtureRoot) }
    return root
}()
