import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// Lists from the recommendation pipeline: `GET /users/{id}/recommendations`,
/// `POST /sessions/recommendations` (an anonymous session's events) and `GET /items/{id}/similar`.
/// Each decodes the request, asks ``RecommendationPipeline`` and encodes its list.
struct RecommendationsController {
    let service: RecommendationService
    var store: any RecommendationStore { service.store }
    var limits: ServiceLimits { service.limits }

    func addRoutes(to routes: ServiceRoutes) {
        routes.read.get("users/:id/recommendations") { request, context in
            try await userRecommendations(request, context)
        }
        // Session recommendations only read: the read scope, like the user's.
        routes.read.post("sessions/recommendations") { request, context in
            try await sessionRecommendations(request, context)
        }
        routes.read.get("items/:id/similar") { request, context in
            let id = try limits.pathID(context)
            let query = try recommendationQuery(request, defaultExcludeSeen: true)
            return try await answer(.similar(toItem: id), query)
        }
    }

    func userRecommendations(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let (given, user) = try limits.pathUser(context)
        var query = try recommendationQuery(request, defaultExcludeSeen: true)
        if let scenario = request.uri.queryParameters["scenario"].map(String.init) {
            try checkScenario(scenario)
            query.scenario = scenario
        }
        return try await answer(.user(user), query, user: given)
    }

    /// The pipeline's list for `subject` (naming `user` as the caller knows them), or the 4xx
    /// naming what the caller can fix.
    func answer(_ subject: RecommendationSubject, _ query: RecommendationRequest, user: String? = nil) async throws
        -> Response
    {
        do {
            var list = try await service.pipeline.recommend(subject, query)
            if let user { list.user = user }
            return JSONResponse.make(list: list)
        } catch let error as RecommendationError {
            switch error {
            case .noActiveModel: throw APIError(.serviceUnavailable, error.description)
            case .unknownItem, .unknownScenario: throw APIError(.notFound, error.description)
            case .unknownUser: throw APIError(.notFound, RecommendationError.unknownUser(user ?? "").description)
            }
        }
    }

    func sessionRecommendations(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let limits = self.limits
        let body = try await limits.readJSONBody(request) { try SessionBody(reading: &$0, limits: limits) }
        let object = body.members
        var query = RecommendationRequest()
        switch object["n"] {
        case nil: break
        case .number(let n) where n == n.rounded() && (1...Double(limits.maxCount)).contains(n): query.count = Int(n)
        default: throw APIError(.badRequest, "n: expected an integer from 1 to \(limits.maxCount)")
        }
        switch object["explain"] {
        case nil: break
        case .bool(let explain): query.explain = explain
        case .string(let text) where ExplanationMethod(rawValue: text) != nil:
            query.explain = true
            query.explanationMethod = ExplanationMethod(rawValue: text)!
        default: throw APIError(.badRequest, "explain: expected true, false, \"attention\" or \"gradient\"")
        }
        switch object["scenario"] {
        case nil: break
        case .string(let scenario):
            try checkScenario(scenario)
            query.scenario = scenario
        default: throw APIError(.badRequest, "scenario: expected a string")
        }
        switch object["query"] {
        case nil: break
        case .string(let text): try applyQuery(&query, text: text, weight: nil, field: "query")
        default: throw APIError(.badRequest, "query: expected a string such as \"something for astronomy\"")
        }
        switch object["query_weight"] {
        case nil: break
        case .number(let w): try applyQuery(&query, text: nil, weight: String(w), field: "query")
        default: throw APIError(.badRequest, "query_weight: expected a number from 0 to 1")
        }
        if case .object(let fields)? = object["options"] {
            try applyReranking(&query) { name in
                switch fields[name] {
                case nil: return nil
                case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
                case .string(let text): return text
                case .bool(let flag): return String(flag)
                default: throw APIError(.badRequest, "options.\(name): expected a number or a string")
                }
            }
        } else if object["options"] != nil {
            throw APIError(.badRequest, "options: expected an object like {\"diversity\": 0.7}")
        }
        return try await answer(.session(body.events), query)
    }

    func recommendationQuery(_ request: Request, defaultExcludeSeen: Bool) throws -> RecommendationRequest {
        let parameters = request.uri.queryParameters
        var query = RecommendationRequest(excludeSeen: defaultExcludeSeen)
        query.count = try limits.integer(parameters["n"], "n", in: 1...limits.maxCount) ?? query.count
        func flag(_ name: String) throws -> Bool? {
            guard let text = parameters[Substring(name)] else { return nil }
            switch text {
            case "true", "1": return true
            case "false", "0": return false
            default: throw APIError(.badRequest, "\(name): expected true or false, got '\(text)'")
            }
        }
        query.excludeSeen = try flag("exclude_seen") ?? defaultExcludeSeen
        try applyReranking(&query) { parameters[Substring($0)].map(String.init) }
        try applyQuery(
            &query, text: parameters["q"].map(String.init), weight: parameters["query_weight"].map(String.init),
            field: "q")
        if let text = parameters["explain"], let method = ExplanationMethod(rawValue: String(text)) {
            query.explain = true
            query.explanationMethod = method
        } else {
            do {
                query.explain = try flag("explain") ?? false
            } catch {
                throw APIError(
                    .badRequest, "explain: expected true, false, attention or gradient, got '\(parameters["explain"]!)'"
                )
            }
        }
        return query
    }

    /// Reads the diversity and exploration options (`diversity`, `category_cap`,
    /// `diversify_by`, `explore`) through `value`, which returns an option's text or nil.
    func applyReranking(_ query: inout RecommendationRequest, _ value: (String) throws -> String?) throws {
        if let text = try value("diversity") {
            guard let lambda = Double(text), lambda >= 0, lambda <= 1 else {
                throw APIError(
                    .badRequest,
                    "diversity: expected a number from 0 (most varied) to 1 (relevance only), got '\(text)'")
            }
            query.diversification.lambda = lambda
        }
        if let cap = try limits.integer(try value("category_cap"), "category_cap", in: 1...limits.maxCount) {
            query.diversification.categoryCap = cap
        }
        if let text = try value("diversify_by") {
            guard text == "category" || text == "embedding" else {
                throw APIError(.badRequest, "diversify_by: expected category or embedding, got '\(text)'")
            }
            query.diversifyByVectors = text == "embedding"
        }
        if let text = try value("explore") {
            guard let epsilon = Double(text), epsilon >= 0, epsilon <= 1 else {
                throw APIError(.badRequest, "explore: expected a probability from 0 to 1, got '\(text)'")
            }
            query.exploration = epsilon
        }
    }

    func checkScenario(_ scenario: String) throws { try limits.checkID(scenario, "scenario") }

    /// Reads a query (`q` / `query`) and its weight (`query_weight`), each checked by name.
    func applyQuery(_ query: inout RecommendationRequest, text: String?, weight: String?, field: String) throws {
        if let text {
            do { query.query = try QueryIndex.checked(text) } catch {
                throw APIError(.badRequest, "\(field): \(error)")
            }
        }
        if let weight {
            guard let w = Float(weight), w >= 0, w <= 1 else {
                throw APIError(.badRequest, "query_weight: expected a number from 0 to 1, got '\(weight)'")
            }
            query.queryWeight = w
        }
    }
}

/// The body of `POST /sessions/recommendations`, read in one pass: the session's events checked
/// as they are read (the first bad one refused by index), the other members kept for the
/// route to check.
struct SessionBody {
    static let shape = "expected {\"events\": [{\"item\": ...}, ...], \"n\": 10}"

    /// The session's events, oldest first.
    var events: [Event] = []
    /// The members other than `events` (`n`, `explain`, `scenario`, `query`, …), as read.
    var members: [String: JSONValue] = [:]

    init(reading reader: inout JSONReader, limits: ServiceLimits) throws {
        guard reader.next == .object else { throw APIError(.badRequest, Self.shape) }
        let parser = EventParser(limits: limits)
        var events: [Event]?
        var members: [String: JSONValue] = [:]
        try reader.readMembers { reader, key in
            guard key == "events" else {
                members[key.text] = try reader.read()
                return
            }
            guard reader.next == .array else { throw APIError(.badRequest, Self.shape) }
            var list: [Event] = []
            try reader.readElements { reader, index in
                guard index < limits.maxBatch else {
                    throw APIError(.contentTooLarge, "events: at most \(limits.maxBatch) events in a session")
                }
                let fields = try EventFields.read(&reader)
                guard fields.isObject else { throw APIError(.badRequest, "events[\(index)]: expected an event object") }
                do {
                    list.append(try parser.parseEvent(fields, now: 0, user: "session"))
                } catch let error as APIError {
                    throw APIError(error.status, "events[\(index)].\(error.message)")
                }
            }
            events = list
        }
        guard let events else { throw APIError(.badRequest, Self.shape) }
        self.events = events
        self.members = members
    }
}
