import Hummingbird

/// Records each request's route pattern, method, status and latency in ``ServiceMetrics``.
struct RequestMetricsMiddleware: RouterMiddleware {
    let metrics: ServiceMetrics

    /// Methods the API answers; anything else is counted as `other`, so a client cannot make
    /// new label values at will.
    private static let methods: Set<String> = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]

    func handle(
        _ request: Request, context: ServiceContext, next: (Request, ServiceContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let method = Self.methods.contains(request.method.rawValue) ? request.method.rawValue : "other"
        func record(_ status: Int) {
            metrics.request(
                route: context.endpointPath ?? "unmatched", method: method, status: status,
                duration: ContinuousClock.now - start)
        }
        do {
            let response = try await next(request, context)
            record(response.status.code)
            return response
        } catch {
            record((error as? any HTTPResponseError)?.status.code ?? 500)
            throw error
        }
    }
}
