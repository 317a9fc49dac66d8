import ArgumentParser
import Foundation
import SwiftRecServing

/// `--pseudonym-key`: user ids are stored as HMACs with the secret in this file (docs/serving.md,
/// "Pseudonymised ids"). `import` and `serve` of one store take the same file.
struct PseudonymOptions: ParsableArguments {
    @Option(
        name: .customLong("pseudonym-key"),
        help: ArgumentHelp(
            "A file holding a secret (16 bytes or more): user ids are stored as HMAC-SHA256 pseudonyms of it.",
            valueName: "file"))
    var pseudonymKey: String?

    /// The pseudonyms the flag asks for, or nil.
    func pseudonyms() throws -> UserPseudonyms? {
        guard let pseudonymKey else { return nil }
        do { return try UserPseudonyms(contentsOf: URL(fileURLWithPath: pseudonymKey)) } catch {
            throw ValidationError("--pseudonym-key: \(error)")
        }
    }

    /// The store at `path`, bound to the ids the flag asks for (raw or pseudonymised): a store made
    /// the other way is refused with the reason.
    func open(_ path: String) async throws -> (SQLiteStore, UserPseudonyms?) {
        try await Self.open(path, pseudonyms: try pseudonyms())
    }

    /// The store at `path`, bound to `pseudonyms` (nil: raw ids).
    static func open(_ path: String, pseudonyms: UserPseudonyms?) async throws -> (SQLiteStore, UserPseudonyms?) {
        let store = try SQLiteStore(path: path)
        do { try await store.bindUserIDs(to: pseudonyms) } catch let error as PrivacyError {
            throw ValidationError("--pseudonym-key: \(error)")
        }
        return (store, pseudonyms)
    }
}
