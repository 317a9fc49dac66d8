import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels
import Synchronization

/// Limits and protection of the HTTP API.
public struct ServiceLimits: Sendable {
    /// When set, writes need `X-API-Key: <key>` (or `Authorization: Bearer <key>`).
    public var apiKey: String?
    /// Events in one `POST /events`.
    public var maxBatch = 1_000
    /// The largest `n` of a recommendation request.
    public var maxCount = 100
    /// Request bodies above this are refused with 413.
    public var maxBodyBytes = 4 << 20
    /// The longest id accepted for users and items.
    public var maxIDLength = 256

    public init(apiKey: String? = nil) { self.apiKey = apiKey }
}

/// Everything a request handler needs: the store, the live user state, the models.
public final class RecommendationService: Sendable {
    public let store: any RecommendationStore
    public let live: LiveInterests
    public let active: ActiveModel
    public let limits: ServiceLimits
    /// Background trainings started with `POST /train`.
    public let training = TrainingJobs()
    /// Users' scores from the active model, reused until their history or the model changes.
    public let scoreCache: ScoreCache
    /// Items per scenario, for `scenario=` requests.
    public let scenarios = ScenarioCatalog()
    let metrics = ServiceMetrics()
    let registry = ModelRegistry()
    /// Where models trained by the service are saved (nil: they live only in this process).
    public let modelDirectory: URL?

    public init(
        store: any RecommendationStore, limits: ServiceLimits = .init(), modelDirectory: URL? = nil,
        liveCapacity: Int = 200, cachedUsers: Int = 20_000
    ) {
        self.store = store
        self.scoreCache = ScoreCache(capacity: cachedUsers)
        self.live = LiveInterests(store: store, capacity: liveCapacity)
        self.active = ActiveModel()
        self.limits = limits
        self.modelDirectory = modelDirectory
    }
}

/// The request context. Bodies are read with ``ServiceLimits/maxBodyBytes`` as their bound.
public struct ServiceContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public init(source: Source) { coreContext = .init(source: source) }
}

/// A 4xx/5xx with a JSON body `{"error": message}` naming what was wrong.
public struct APIError: HTTPResponseError {
    public let status: HTTPResponse.Status
    public let message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(["error": message], status: status)
    }
}

enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":"response could not be encoded"}"#.utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Counters for `GET /metrics` (Prometheus text format).
final class ServiceMetrics: Sendable {
    private struct State {
        var requests: [String: Int] = [:]
        var seconds: [String: Double] = [:]
        var eventsAccepted = 0
        var eventsRejected = 0
    }
    private let state = Mutex(State())

    func request(route: String, method: String, status: Int, seconds: Double) {
        state.withLock {
            $0.requests["route=\"\(route)\",method=\"\(method)\",status=\"\(status)\"", default: 0] += 1
            $0.seconds["route=\"\(route)\",method=\"\(method)\"", default: 0] += seconds
        }
    }

    func events(accepted: Int, rejected: Int) {
        state.withLock {
            $0.eventsAccepted += accepted
            $0.eventsRejected += rejected
        }
    }

    func prometheus(model: String?, liveUsers: Int) -> String {
        let s = state.withLock { $0 }
        var lines = [
            "# HELP swiftrec_http_requests_total HTTP requests by route, method and status.",
            "# TYPE swiftrec_http_requests_total counter",
        ]
        lines += s.requests.keys.sorted().map { "swiftrec_http_requests_total{\($0)} \(s.requests[$0]!)" }
        lines += [
            "# HELP swiftrec_http_request_seconds_total Time spent answering, by route and method.",
            "# TYPE swiftrec_http_request_seconds_total counter",
        ]
        lines += s.seconds.keys.sorted().map { "swiftrec_http_request_seconds_total{\($0)} \(s.seconds[$0]!)" }
        lines += [
            "# HELP swiftrec_events_total Events posted, by outcome.", "# TYPE swiftrec_events_total counter",
            "swiftrec_events_total{outcome=\"accepted\"} \(s.eventsAccepted)",
            "swiftrec_events_total{outcome=\"rejected\"} \(s.eventsRejected)",
            "# HELP swiftrec_live_users Users whose newest events are held in memory.",
            "# TYPE swiftrec_live_users gauge", "swiftrec_live_users \(liveUsers)",
            "# HELP swiftrec_active_model The model answering requests.", "# TYPE swiftrec_active_model gauge",
            "swiftrec_active_model{name=\"\(model ?? "")\"} \(model == nil ? 0 : 1)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}

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
