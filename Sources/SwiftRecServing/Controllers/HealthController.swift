import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// `GET /health` (status, active model, stored events), `GET /metrics` (Prometheus text) and
/// `GET /openapi.yaml` (the API document).
struct HealthController {
    let service: RecommendationService

    func addRoutes(to routes: ServiceRoutes) {
        routes.open.get("health") { _, _ in
            JSONResponse.make(
                HealthReply(model: service.active.current?.name ?? "", events: try await service.store.eventCount()))
        }
        routes.open.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml + "\n")))
        }
        routes.open.get("metrics") { _, _ in
            let text = service.metrics.prometheus(
                model: service.active.current?.name, liveUsers: await service.live.userCount,
                liveBytes: await service.live.bytesHeld, training: service.training.all)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}

/// `GET /health`: the service is up, which model answers and how many events are stored.
struct HealthReply: Codable, Sendable {
    var status = "ok"
    var model: String
    var events: Int
}
