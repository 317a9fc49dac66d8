import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// The catalogue: `PUT /items/{id}` (stored, then taken in by the models that can), `GET /items`,
/// `GET /items/{id}`.
struct ItemsController {
    let service: RecommendationService
    var store: any RecommendationStore { service.store }
    var limits: ServiceLimits { service.limits }

    func addRoutes(to routes: ServiceRoutes) {
        routes.write.put("items/:id") { request, context in try await putItem(request, context) }
        routes.read.get("items") { request, _ in
            let (cursor, limit) = try limits.paging(request)
            let page = try await store.items(after: cursor, limit: limit)
            return JSONResponse.make(ItemsPage(items: page.elements, next: page.next))
        }
        routes.read.get("items/:id") { _, context in
            let id = try limits.pathID(context)
            guard let item = try await store.item(id) else { throw APIError(.notFound, "no item '\(id)'") }
            return JSONResponse.make(item)
        }
    }

    func putItem(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let id = try limits.pathID(context)
        let body = try await limits.decode(ItemBody.self, request, context)
        let item = Item(
            id: id, title: body.title, description: body.description, categories: body.categories ?? [],
            attributes: body.attributes ?? [:])
        let (updated, failures) = try await service.putItem(item)
        return JSONResponse.make(PutItemReply(item: item, extended: updated, failures: failures))
    }
}

struct ItemBody: Decodable {
    var title: String?
    var description: String?
    var categories: [String]?
    var attributes: [String: String]?
}

struct ItemsPage: Encodable {
    var items: [Item]
    var next: String?
}

/// The stored item, plus which registered models took it in just now (a new item, or new text
/// of a known one) and which could not, with the reason; both are empty when nothing changed
/// for any model.
private struct PutItemReply: Encodable {
    let item: Item
    let extended: [String]
    let failures: [ModelFailure]

    private enum Keys: String, CodingKey { case extendedModels, failedModels }
    private struct Failure: Encodable {
        let model: String
        let error: String
    }

    func encode(to encoder: any Encoder) throws {
        try item.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(extended, forKey: .extendedModels)
        try container.encode(failures.map { Failure(model: $0.name, error: $0.reason) }, forKey: .failedModels)
    }
}
