import Crypto
import Foundation
import SwiftRecData
import Synchronization

/// Why a privacy setting cannot be used.
public struct PrivacyError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Pseudonymised user ids: every user id that enters the service (paths, event bodies,
/// `swiftrec import`) is replaced by `HMAC-SHA256(secret, id)` in hex before it reaches the
/// store, the live state or a model, so the store never holds a raw user id.
///
/// What it gives and what it does not (docs/serving.md, "Pseudonymised ids"):
/// - The same id always maps to the same pseudonym, so histories, recommendations, deletion
///   and training work unchanged; without the secret a pseudonym cannot be turned back into
///   the id, nor an id into its pseudonym.
/// - Whoever holds the secret can test a guessed id. Keep the secret outside the store.
/// - `GET /users` lists pseudonyms; attributes are stored as given (they are not ids).
/// - Item ids are the catalogue's and are stored as given.
/// - Losing the secret orphans every user: their events stay, but no request can name them.
public struct UserPseudonyms: Sendable {
    private let key: SymmetricKey
    /// The shortest secret accepted, in bytes.
    public static let minimumSecretBytes = 16

    public init(secret: Data) throws {
        guard secret.count >= Self.minimumSecretBytes else {
            throw PrivacyError(
                "the pseudonym secret has \(secret.count) bytes; at least \(Self.minimumSecretBytes) are needed "
                    + "(e.g. `head -c 32 /dev/urandom | base64 > pseudonym.key`)")
        }
        key = SymmetricKey(data: secret)
    }

    /// The secret in `file` (its bytes, a trailing newline dropped).
    public init(contentsOf file: URL) throws {
        guard var data = FileManager.default.contents(atPath: file.path) else {
            throw PrivacyError("cannot read the pseudonym secret \(file.path)")
        }
        while data.last == UInt8(ascii: "\n") || data.last == UInt8(ascii: "\r") { data.removeLast() }
        try self.init(secret: data)
    }

    /// The stored id of the user known outside as `id`: 64 hex digits.
    public func pseudonym(of id: String) -> String {
        Self.hex(HMAC<SHA256>.authenticationCode(for: Data(id.utf8), using: key))
    }

    /// A check value the store keeps, so a store pseudonymised with one secret is not opened
    /// with another (or with none): the HMAC of a fixed label, never the secret.
    public var fingerprint: String {
        String(
            Self.hex(HMAC<SHA256>.authenticationCode(for: Data("swiftrec pseudonym check".utf8), using: key)).prefix(32)
        )
    }

    static func hex(_ code: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in code {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Laplace noise on the popularity counts the service releases as scores: the scenario
/// popularity it computes from stored events, and the scores of models whose scores are event
/// counts (``CountScoring``, e.g. `pop`). Each count gets noise of scale `1/ε`, which makes each
/// released count ε-differentially private with respect to one event (a user with `k` events in
/// it is protected at `k·ε`).
///
/// The noise of a count is drawn from an HMAC of the secret seed, the list it belongs to, the
/// item and the count itself, so asking again returns the same noisy value (averaging repeated
/// requests gains nothing); a count that changes is a new release with fresh noise, and
/// releases compose (docs/serving.md, "Noisy popularity").
public struct PopularityNoise: Sendable {
    /// The privacy parameter of each released count.
    public let epsilon: Double
    private let key: SymmetricKey

    public init(epsilon: Double, seed: Data) throws {
        guard epsilon.isFinite, epsilon > 0, epsilon <= 100 else {
            throw PrivacyError("ε must be a number in (0, 100], got \(epsilon)")
        }
        self.epsilon = epsilon
        key = SymmetricKey(data: seed)
    }

    /// `counts` (one per item) with Laplace noise of scale 1/ε added to each, for the list `context`.
    public func noised(_ counts: [Float], context: String) -> [Float] {
        counts.enumerated().map { noised($1, item: $0, context: context) }
    }

    /// `count` of item `item` in the list `context`, with its Laplace noise of scale 1/ε.
    public func noised(_ count: Float, item: Int, context: String) -> Float {
        var message = [UInt8](context.utf8)
        message.append(0)
        withUnsafeBytes(of: UInt64(item).littleEndian) { message.append(contentsOf: $0) }
        withUnsafeBytes(of: count.bitPattern.littleEndian) { message.append(contentsOf: $0) }
        let code = HMAC<SHA256>.authenticationCode(for: message, using: key)
        let bits = code.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        return count + Float(Self.laplace(bits, scale: 1 / epsilon))
    }

    /// The Laplace(0, scale) value at the uniform number `bits` gives, by the inverse CDF.
    static func laplace(_ bits: UInt64, scale: Double) -> Double {
        // 53 bits to a uniform in (0, 1), never exactly 0 or 1.
        let u = (Double(bits >> 11) + 0.5) / Double(1 << 53) - 0.5
        return -scale * (u < 0 ? -1 : 1) * log(1 - 2 * abs(u))
    }
}

extension Data {
    /// The bytes of an even-length string of lower-case hex digits (as ``UserPseudonyms/hex(_:)`` writes them), or nil.
    init?(hexadecimal text: String) {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        for k in stride(from: 0, to: digits.count, by: 2) {
            guard let high = value(digits[k]), let low = value(digits[k + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.init(bytes)
    }
}
