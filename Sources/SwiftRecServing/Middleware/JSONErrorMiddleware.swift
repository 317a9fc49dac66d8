import Hummingbird

/// Gives every error reply the API's JSON shape, `{"error": message}`: errors the router or
/// Hummingbird raise (an unmatched route's 404, a wrong method) would otherwise have an empty body.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let message =
                error.status == .notFound
                ? "no route \(request.method) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            throw APIError(error.status, message)
        }
    }
}
