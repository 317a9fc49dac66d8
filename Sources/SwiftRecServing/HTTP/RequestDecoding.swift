import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// Reading requests within the service's limits; every failure is a 4xx naming the field.
extension ServiceLimits {
    func paging(_ request: Request) throws -> (cursor: String?, limit: Int) {
        let parameters = request.uri.queryParameters
        let limit = try integer(parameters["limit"], "limit", in: 1...1_000) ?? 100
        return (parameters["cursor"].map(String.init), limit)
    }

    /// `text` as an integer in `range` (nil when absent), or a 400 naming `field`.
    func integer(_ text: (some StringProtocol)?, _ field: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw APIError(
                .badRequest,
                "\(field): expected an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return value
    }

    /// What an id (user, item, scenario) may be: 1 to ``maxIDLength`` bytes of UTF-8 and no
    /// control characters (a NUL would cut the id short in storage and merge two users).
    func checkID(_ id: String, _ field: String) throws {
        guard !id.isEmpty, id.utf8.count <= maxIDLength else {
            throw APIError(
                .badRequest, "\(field): expected 1 to \(maxIDLength) bytes of UTF-8, got \(id.utf8.count)")
        }
        // Unicode's control category (Cc) is exactly U+0000–U+001F and U+007F–U+009F: compared
        // directly, as a property lookup per character was most of parsing a session's events.
        if let control = id.unicodeScalars.first(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            throw APIError(
                .badRequest,
                "\(field): control character U+\(String(control.value, radix: 16, uppercase: true)) is not allowed in an id"
            )
        }
    }

    /// The id in the path parameter `name`, percent-decoded (`jane%20doe` is `jane doe`) and
    /// checked as ``checkID(_:_:)`` checks ids in bodies.
    func pathID(_ context: ServiceContext, _ name: String = "id") throws -> String {
        let raw = try context.parameters.require(name)
        guard let id = raw.removingPercentEncoding else {
            throw APIError(.badRequest, "\(name): '\(raw.prefix(80))' is not valid percent-encoded UTF-8")
        }
        try checkID(id, name)
        return id
    }

    /// The stored id of the user known outside as `id`: its pseudonym when ids are pseudonymised.
    func storedUserID(_ id: String) -> String { pseudonyms?.pseudonym(of: id) ?? id }

    /// The user the path names, as ``pathID(_:_:)`` reads it: the id the caller gave (for
    /// replies) and the id it is stored under.
    func pathUser(_ context: ServiceContext) throws -> (given: String, stored: String) {
        let id = try pathID(context)
        return (id, storedUserID(id))
    }

    func body(_ request: Request, _ context: ServiceContext) async throws -> Data {
        Data(try await bodyBuffer(request).readableBytesView)
    }

    func bodyBuffer(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "the request body is larger than \(maxBodyBytes) bytes")
        }
    }

    /// The body decoded in one pass by `decode` (a typed body's reader), in place in the
    /// received bytes. A body that is not JSON is a 400 saying so, even when `decode` stopped
    /// earlier on a field it refused; `decode`'s own errors pass through.
    func readJSONBody<T>(_ request: Request, _ decode: (inout JSONReader) throws -> T) async throws -> T {
        let buffer = try await bodyBuffer(request)
        return try buffer.withUnsafeReadableBytes { bytes in
            do {
                return try JSONReader.read(bytes, decode)
            } catch let error as JSONParseError {
                throw APIError(.badRequest, "the body is not valid JSON: \(error)")
            } catch {
                do {
                    _ = try JSONValue(parsing: bytes)
                } catch let syntax {
                    throw APIError(.badRequest, "the body is not valid JSON: \(syntax)")
                }
                throw error
            }
        }
    }

    func jsonBody(_ request: Request, _ context: ServiceContext) async throws -> JSONValue {
        let data = try await self.body(request, context)
        do {
            return try JSONValue(parsing: data)
        } catch {
            throw APIError(.badRequest, "the body is not valid JSON: \(error)")
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: ServiceContext) async throws -> T {
        let data = try await self.body(request, context)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c) {
            throw APIError(.badRequest, "\(c.codingPath.map(\.stringValue).joined(separator: ".")): wrong type")
        } catch {
            throw APIError(.badRequest, "the body is not a valid \(T.self): \(error)")
        }
    }
}
