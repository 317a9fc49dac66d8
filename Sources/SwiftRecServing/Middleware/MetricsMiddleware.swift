import Hummingbird

/// Records each request's route, status and time.
struct MetricsMiddleware: RouterMiddleware {
    let metrics: ServiceMetrics

    func handle(
        _ request: Request, context: ServiceContext, next: (Request, ServiceContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        func record(_ status: Int) {
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            metrics.request(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status,
                seconds: seconds)
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
