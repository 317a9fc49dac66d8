import HTTPTypes
import Hummingbird

/// Refuses writes without the configured API key.
struct APIKeyMiddleware: RouterMiddleware {
    let key: String

    func handle(
        _ request: Request, context: ServiceContext, next: (Request, ServiceContext) async throws -> Response
    ) async throws -> Response {
        let given =
            request.headers[HTTPField.Name("X-API-Key")!]
            ?? request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard given == key else {
            throw APIError(
                .unauthorized, given == nil ? "this write needs an X-API-Key header" : "the API key is wrong")
        }
        return try await next(request, context)
    }
}
