import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// Users: `PUT /users/{id}` (attributes), `DELETE /users/{id}` (with all their events),
/// `GET /users`, and `GET /users/{id}/interests` (category shares over windows of their history).
struct UsersController {
    let service: RecommendationService
    var store: any RecommendationStore { service.store }
    var limits: ServiceLimits { service.limits }

    func addRoutes(to routes: ServiceRoutes) {
        routes.write.put("users/:id") { request, context in try await putUser(request, context) }
        routes.admin.delete("users/:id") { _, context in try await deleteUser(context) }
        routes.admin.get("users") { request, _ in
            let (cursor, limit) = try limits.paging(request)
            let page = try await store.users(after: cursor, limit: limit)
            return JSONResponse.make(UsersPage(users: page.elements, next: page.next))
        }
        routes.admin.get("users/:id/interests") { request, context in try await interests(request, context) }
    }

    func putUser(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let (given, id) = try limits.pathUser(context)
        let body = try await limits.decode(UserBody.self, request, context)
        let user = User(id: id, attributes: body.attributes ?? [:])
        try await store.upsert(users: [user])
        service.pipeline.scoreCache.remove(user: id)  // attributes can change what a user without history is shown
        return JSONResponse.make(User(id: given, attributes: user.attributes))
    }

    func deleteUser(_ context: ServiceContext) async throws -> Response {
        let (given, id) = try limits.pathUser(context)
        guard try await service.forgetUser(id) else { throw APIError(.notFound, "no user '\(given)'") }
        return JSONResponse.make(["deleted": given])
    }

    func interests(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let (given, user) = try limits.pathUser(context)
        let parameters = request.uri.queryParameters
        let window = try limits.integer(parameters["window"], "window", in: 1...1_000) ?? 10
        let history = try await service.live.history(of: user)
        guard !history.isEmpty else { throw APIError(.notFound, "no events for user '\(given)'") }
        let categories = try await store.items(withIDs: Set(history.items)).mapValues(\.categories)
        var windows: [InterestWindow] = []
        for start in stride(from: 0, to: history.count, by: window) {
            let part = start..<min(history.count, start + window)
            var counts: [String: Double] = [:]
            for item in history.items[part] {
                let cats = categories[item] ?? []
                for c in cats.isEmpty ? ["(none)"] : cats { counts[c, default: 0] += 1 / Double(max(cats.count, 1)) }
            }
            windows.append(
                InterestWindow(
                    from: history.timestamps[part.lowerBound], to: history.timestamps[part.upperBound - 1],
                    events: part.count, shares: counts.mapValues { $0 / Double(part.count) }))
        }
        return JSONResponse.make(InterestsReply(user: given, windows: windows))
    }
}

struct UserBody: Decodable {
    var attributes: [String: String]?
}

struct UsersPage: Encodable {
    var users: [User]
    var next: String?
}

/// `GET /users/{id}/interests`: category shares over consecutive windows of the history.
struct InterestsReply: Codable, Sendable {
    var user: String
    var windows: [InterestWindow]
}

struct InterestWindow: Codable, Sendable {
    var from: Int64
    var to: Int64
    var events: Int
    var shares: [String: Double]
}
