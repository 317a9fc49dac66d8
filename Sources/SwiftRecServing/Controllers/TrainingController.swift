import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// Background training: `POST /train` starts a job on the store's data, `GET /train` lists the
/// jobs, `GET /train/{job}` reports one, `DELETE /train/{job}` cancels it.
struct TrainingController {
    let service: RecommendationService
    var store: any RecommendationStore { service.store }
    var limits: ServiceLimits { service.limits }

    func addRoutes(to routes: ServiceRoutes) {
        routes.admin.post("train") { request, context in try await startTraining(request, context) }
        routes.admin.get("train") { _, _ in JSONResponse.make(service.training.all) }
        routes.admin.get("train/:job") { _, context in
            let id = try context.parameters.require("job", as: Int.self)
            guard let job = service.training.job(id) else { throw APIError(.notFound, "no training job \(id)") }
            return JSONResponse.make(job)
        }
        routes.admin.delete("train/:job") { _, context in
            let id = try context.parameters.require("job", as: Int.self)
            do {
                guard let job = try service.training.cancel(id) else {
                    throw APIError(.notFound, "no training job \(id)")
                }
                return JSONResponse.make(job)
            } catch let error as TrainingJobError {
                throw APIError(.conflict, "job \(id): \(error)")
            }
        }
    }

    func startTraining(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let body = try await limits.decode(TrainBody.self, request, context)
        let name = body.name ?? body.model
        do { try ModelName.check(name) } catch let error as ModelName.Invalid {
            throw APIError(.badRequest, "name: \(error.reason)")
        }
        let options = body.options ?? [:]
        do {
            let job = try await service.training.start(
                model: body.model, options: options, name: name, activate: body.activate ?? true, service: service)
            return JSONResponse.make(job, status: .accepted)
        } catch let error as TrainingJobError {
            if case .overMemoryBudget = error { throw APIError(.badRequest, "options: \(error)") }
            throw APIError(.tooManyRequests, "\(error)")
        } catch let error as ModelError {
            // The model's config names the bad key or value, and the closest valid key.
            if case .invalidParameter(let key, let reason) = error {
                throw APIError(.badRequest, "\(key == "model" ? "model" : "options.\(key)"): \(reason)")
            }
            throw APIError(.badRequest, "\(error)")
        }
    }
}

struct TrainBody: Decodable {
    var model: String
    var name: String?
    var activate: Bool?
    /// Model options, JSON-typed or as text: {"epochs": 5, "dim": "32"} (the keys of `swiftrec train --set`).
    var options: ModelCatalog.Options?
}
