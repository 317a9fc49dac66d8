import Foundation
import Synchronization

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
