import HTTPTypes
import Hummingbird

/// What a key may do. With no key configured every route is open; with keys, each route needs
/// a key holding its scope (`docs/openapi.yaml` names it on each operation).
public enum APIScope: String, Codable, Sendable, CaseIterable {
    /// Recommendations, similar items, sessions, the catalogue.
    case read
    /// Events, items, user attributes.
    case write
    /// Models, training, listing users, their interests, deleting users.
    case admin
}

/// A key and the scopes it grants.
public struct APIKey: Codable, Sendable, Equatable {
    public var key: String
    public var scopes: Set<APIScope>

    public init(key: String, scopes: Set<APIScope> = Set(APIScope.allCases)) {
        self.key = key
        self.scopes = scopes
    }

    /// Whether `given` is this key, comparing every byte whatever the first difference is, so
    /// the time taken does not tell how much of a guess was right.
    func matches(_ given: String) -> Bool {
        let (a, b) = (Array(key.utf8), Array(given.utf8))
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}

/// Refuses requests without a configured key that holds `scope`.
struct APIKeyMiddleware: RouterMiddleware {
    let keys: [APIKey]
    let scope: APIScope

    func handle(
        _ request: Request, context: ServiceContext, next: (Request, ServiceContext) async throws -> Response
    ) async throws -> Response {
        let given =
            request.headers[HTTPField.Name("X-API-Key")!]
            ?? request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let given else {
            throw APIError(.unauthorized, "this request needs an X-API-Key header with the '\(scope.rawValue)' scope")
        }
        // Every key is compared, so the time does not tell which one (if any) matched.
        var found: APIKey?
        for key in keys where key.matches(given) { found = key }
        guard let found else { throw APIError(.unauthorized, "the API key is wrong") }
        guard found.scopes.contains(scope) else {
            throw APIError(.forbidden, "this key lacks the '\(scope.rawValue)' scope")
        }
        return try await next(request, context)
    }
}
