import Foundation
import Metrics
import Prometheus
import SwiftRecTensor
import Synchronization

/// The service's figures for `GET /metrics`, kept with swift-metrics and written out by
/// swift-prometheus (which escapes label values) from a registry of this service's own, so two
/// services in one process never mix their counts.
///
/// - `swiftrec_http_requests_total{route,method,status}` and the latency histogram
///   `swiftrec_http_request_duration_seconds{route,method}` (p50/p99 via `histogram_quantile`);
///   routes are the matched patterns (`/users/{id}/recommendations`), unmatched paths `unmatched`,
///   so label values stay few.
/// - `swiftrec_events_total{outcome}` (accepted, rejected);
/// - `swiftrec_score_cache_total{result}` (hit, miss);
/// - gauges read at each scrape: `swiftrec_live_users`, `swiftrec_live_bytes`,
///   `swiftrec_active_model{name}` (1 for the active model), `swiftrec_training_jobs{state}`,
///   `swiftrec_resident_bytes` (RSS) and `swiftrec_heap_bytes{kind}` (`held` by the program,
///   `free` kept by the allocator: fragmentation), on glibc.
final class ServiceMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let eventsAccepted: Metrics.Counter
    private let eventsRejected: Metrics.Counter
    private let cacheHits: Metrics.Counter
    private let cacheMisses: Metrics.Counter
    private let liveUsers: Metrics.Gauge
    private let liveBytes: Metrics.Gauge
    private let residentBytes: Metrics.Gauge
    private let heapHeld: Metrics.Gauge
    private let heapFree: Metrics.Gauge
    /// Counters and timers by route, method and status, made once each.
    private let requestMetrics = Mutex<[RequestKey: (count: Metrics.Counter, timer: Metrics.Timer)]>([:])

    private struct RequestKey: Hashable {
        let route: String, method: String, status: Int
    }
    /// One gauge per model name ever active, so a swapped-out model reads 0, not its last value.
    private let modelGauges = Mutex<[String: Metrics.Gauge]>([:])
    private let trainingGauges: [TrainingJob.State: Metrics.Gauge]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(10),
        ]
        self.factory = factory
        eventsAccepted = Metrics.Counter(
            label: "swiftrec_events_total", dimensions: [("outcome", "accepted")], factory: factory)
        eventsRejected = Metrics.Counter(
            label: "swiftrec_events_total", dimensions: [("outcome", "rejected")], factory: factory)
        cacheHits = Metrics.Counter(
            label: "swiftrec_score_cache_total", dimensions: [("result", "hit")], factory: factory)
        cacheMisses = Metrics.Counter(
            label: "swiftrec_score_cache_total", dimensions: [("result", "miss")], factory: factory)
        liveUsers = Metrics.Gauge(label: "swiftrec_live_users", factory: factory)
        liveBytes = Metrics.Gauge(label: "swiftrec_live_bytes", factory: factory)
        residentBytes = Metrics.Gauge(label: "swiftrec_resident_bytes", factory: factory)
        heapHeld = Metrics.Gauge(label: "swiftrec_heap_bytes", dimensions: [("kind", "held")], factory: factory)
        heapFree = Metrics.Gauge(label: "swiftrec_heap_bytes", dimensions: [("kind", "free")], factory: factory)
        var training: [TrainingJob.State: Metrics.Gauge] = [:]
        for state in TrainingJob.State.allCases {
            training[state] = Metrics.Gauge(
                label: "swiftrec_training_jobs", dimensions: [("state", state.rawValue)], factory: factory)
        }
        trainingGauges = training
    }

    func request(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let metrics = requestMetrics.withLock { known in
            if let found = known[key] { return found }
            let made = (
                count: Metrics.Counter(
                    label: "swiftrec_http_requests_total",
                    dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory),
                timer: Metrics.Timer(
                    label: "swiftrec_http_request_duration_seconds",
                    dimensions: [("route", route), ("method", method)],
                    factory: factory)
            )
            known[key] = made
            return made
        }
        metrics.count.increment()
        metrics.timer.record(duration: duration)
    }

    func events(accepted: Int, rejected: Int) {
        if accepted > 0 { eventsAccepted.increment(by: accepted) }
        if rejected > 0 { eventsRejected.increment(by: rejected) }
    }

    func scoreCache(hit: Bool) { (hit ? cacheHits : cacheMisses).increment() }

    /// The Prometheus text, after setting the gauges read at scrape time.
    func prometheus(model: String?, liveUsers users: Int, liveBytes bytes: Int, training: [TrainingJob]) -> String {
        liveUsers.record(users)
        liveBytes.record(bytes)
        if let resident = ProcessHeap.residentBytes() { residentBytes.record(resident) }
        if let heap = ProcessHeap.statistics() {
            heapHeld.record(heap.held)
            heapFree.record(heap.free)
        }
        modelGauges.withLock { gauges in
            if let model, gauges[model] == nil {
                gauges[model] = Metrics.Gauge(
                    label: "swiftrec_active_model", dimensions: [("name", model)], factory: factory)
            }
            for (name, gauge) in gauges { gauge.record(name == model ? 1 : 0) }
        }
        for state in TrainingJob.State.allCases {
            trainingGauges[state]!.record(training.filter { $0.state == state }.count)
        }
        return registry.emitToString()
    }
}
