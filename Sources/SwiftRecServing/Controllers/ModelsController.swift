import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// The model registry: `GET /models`, `POST /models/{name}/activate`, `DELETE /models/{name}`.
struct ModelsController {
    let service: RecommendationService

    func addRoutes(to routes: ServiceRoutes) {
        routes.admin.get("models") { _, _ in
            JSONResponse.make(
                service.models.map {
                    ModelInfo(
                        name: $0.record.name, type: $0.record.type, items: $0.servable.items.count,
                        active: $0.record.active, saved: $0.record.directory != nil,
                        createdAt: $0.record.createdAt, metrics: $0.record.metrics)
                })
        }
        routes.admin.post("models/:name/activate") { _, context in
            let name = try context.parameters.require("name")
            guard try await service.activate(name) else { throw APIError(.notFound, "no model named '\(name)'") }
            return JSONResponse.make(["active": name])
        }
        routes.admin.delete("models/:name") { _, context in
            let name = try context.parameters.require("name")
            do {
                guard try await service.removeModel(name) else {
                    throw APIError(.notFound, "no model named '\(name)'")
                }
            } catch let error as ModelRemovalError {
                throw APIError(.conflict, "name: \(error)")
            }
            return JSONResponse.make(["deleted": name])
        }
    }
}

struct ModelInfo: Codable, Sendable {
    var name: String
    var type: String
    var items: Int
    var active: Bool
    /// Whether the model's files are saved, so it survives a restart.
    var saved: Bool
    var createdAt: Int64
    var metrics: [String: Double]
}
