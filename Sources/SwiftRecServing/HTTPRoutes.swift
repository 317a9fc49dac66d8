import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// The outcome of `POST /events`.
struct EventsAccepted: Codable, Sendable {
    struct Rejection: Codable, Sendable {
        var index: Int
        var error: String
    }
    var accepted: Int
    var rejected: [Rejection]
}

struct RecommendationsBody: Codable, Sendable {
    var user: String?
    var model: String
    var recommendations: [Recommendation]
}

struct InterestWindow: Codable, Sendable {
    var from: Int64
    var to: Int64
    var events: Int
    var shares: [String: Double]
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

extension RecommendationService {
    /// The HTTP API; `docs/openapi.yaml` describes it.
    public func router() -> Router<ServiceContext> {
        let router = Router(context: ServiceContext.self)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        addReads(router)
        // Session recommendations only read, so they need no key.
        router.post("sessions/recommendations") { request, context in
            try await self.sessionRecommendations(request, context)
        }
        let writes = router.group()
        if let key = limits.apiKey { writes.add(middleware: APIKeyMiddleware(key: key)) }
        writes.post("events") { request, context in try await self.postEvents(request, context) }
        writes.put("items/:id") { request, context in try await self.putItem(request, context) }
        writes.put("users/:id") { request, context in try await self.putUser(request, context) }
        writes.delete("users/:id") { _, context in try await self.deleteUser(context) }
        writes.post("train") { request, context in try await self.startTraining(request, context) }
        writes.post("models/:name/activate") { _, context in
            let name = try context.parameters.require("name")
            guard try await self.activate(name) else { throw APIError(.notFound, "no model named '\(name)'") }
            return JSONResponse.make(["active": name])
        }
        writes.delete("models/:name") { _, context in
            let name = try context.parameters.require("name")
            do {
                guard try await self.removeModel(name) else { throw APIError(.notFound, "no model named '\(name)'") }
            } catch let error as ModelRemovalError {
                throw APIError(.conflict, "name: \(error)")
            }
            return JSONResponse.make(["deleted": name])
        }
        return router
    }

    private func addReads(_ router: Router<ServiceContext>) {
        router.get("health") { _, _ in
            JSONResponse.make(
                [
                    "status": "ok", "model": self.active.current?.name ?? "",
                    "events": String(try await self.store.eventCount()),
                ])
        }
        router.get("metrics") { _, _ in
            let text = self.metrics.prometheus(model: self.active.current?.name, liveUsers: await self.live.userCount)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("models") { _, _ in
            JSONResponse.make(
                self.models.map {
                    ModelInfo(
                        name: $0.record.name, type: $0.record.type, items: $0.servable.items.count,
                        active: $0.record.active, saved: $0.record.directory != nil,
                        createdAt: $0.record.createdAt, metrics: $0.record.metrics)
                })
        }
        router.get("train") { _, _ in JSONResponse.make(self.training.all) }
        router.get("train/:job") { _, context in
            let id = try context.parameters.require("job", as: Int.self)
            guard let job = self.training.job(id) else { throw APIError(.notFound, "no training job \(id)") }
            return JSONResponse.make(job)
        }
        router.get("items") { request, _ in
            let (cursor, limit) = try self.paging(request)
            let page = try await self.store.items(after: cursor, limit: limit)
            return JSONResponse.make(ItemsPage(items: page.elements, next: page.next))
        }
        router.get("users") { request, _ in
            let (cursor, limit) = try self.paging(request)
            let page = try await self.store.users(after: cursor, limit: limit)
            return JSONResponse.make(UsersPage(users: page.elements, next: page.next))
        }
        router.get("items/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let item = try await self.store.item(id) else { throw APIError(.notFound, "no item '\(id)'") }
            return JSONResponse.make(item)
        }
        router.get("users/:id/recommendations") { request, context in
            try await self.userRecommendations(request, context)
        }
        router.get("items/:id/similar") { request, context in
            let id = try context.parameters.require("id")
            let model = try self.activeModel()
            guard model.items.index(of: id) != nil else {
                throw APIError(.notFound, "the model does not know item '\(id)'")
            }
            let query = try self.recommendationQuery(request, defaultExcludeSeen: true)
            let history = [Event(user: "", item: id, timestamp: 0)]
            return JSONResponse.make(
                RecommendationsBody(
                    user: nil, model: model.name,
                    recommendations: RankingPipeline.recommend(model, history: history, request: query)))
        }
        router.get("users/:id/interests") { request, context in
            try await self.interests(request, context)
        }
    }

    // MARK: Handlers

    func postEvents(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let elements: [JSONValue]
        switch try await jsonBody(request, context) {
        case .array(let list): elements = list
        case .object(let object):
            if let events = object["events"] {
                guard case .array(let list) = events else {
                    throw APIError(.badRequest, "events: expected an array of events")
                }
                elements = list
            } else {
                elements = [.object(object)]
            }
        default: throw APIError(.badRequest, "expected an event object, an array of events or {\"events\": [...]}")
        }
        guard !elements.isEmpty else { throw APIError(.badRequest, "events: the batch is empty") }
        guard elements.count <= limits.maxBatch else {
            throw APIError(
                .contentTooLarge,
                "events: \(elements.count) events in one batch; at most \(limits.maxBatch) are accepted")
        }
        var parsed: [(index: Int, event: Event)] = []
        var rejected: [EventsAccepted.Rejection] = []
        let now = Int64(Date().timeIntervalSince1970)
        for (index, element) in elements.enumerated() {
            do {
                parsed.append((index, try parseEvent(element, now: now)))
            } catch let error as APIError {
                rejected.append(.init(index: index, error: error.message))
            }
        }
        // One store read for the whole batch's items.
        let known = try await store.items(withIDs: Set(parsed.map(\.event.item)))
        var valid: [Event] = []
        for (index, event) in parsed {
            if known[event.item] != nil {
                valid.append(event)
            } else {
                rejected.append(
                    .init(index: index, error: "item: unknown item '\(event.item)'; add it with PUT /items/{id}"))
            }
        }
        rejected.sort { $0.index < $1.index }
        // Durable first, then visible to recommendations.
        try await live.append(valid)
        scenarios.record(valid)
        metrics.events(accepted: valid.count, rejected: rejected.count)
        let outcome = EventsAccepted(accepted: valid.count, rejected: rejected)
        return JSONResponse.make(outcome, status: rejected.isEmpty ? .ok : .unprocessableContent)
    }

    func parseEvent(_ element: JSONValue, now: Int64) throws -> Event {
        guard case .object(let object) = element else { throw APIError(.badRequest, "expected an event object") }
        func id(_ field: String) throws -> String {
            guard let value = object[field] else { throw APIError(.badRequest, "\(field): missing") }
            guard case .string(let text) = value, !text.isEmpty, text.count <= limits.maxIDLength else {
                throw APIError(
                    .badRequest, "\(field): expected a non-empty string of at most \(limits.maxIDLength) characters")
            }
            return text
        }
        let user = try id("user"), item = try id("item")
        var type = EventType.view
        if let raw = object["type"] {
            guard case .string(let text) = raw, let known = EventType(rawValue: text) else {
                throw APIError(
                    .badRequest, "type: expected one of \(EventType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            type = known
        }
        var value: Double?
        switch object["value"] {
        case nil, .null: break
        case .number(let number) where number.isFinite: value = number
        default: throw APIError(.badRequest, "value: expected a finite number")
        }
        var timestamp = now
        switch object["timestamp"] {
        case nil, .null: break
        case .number(let number) where number.isFinite && abs(number) < 1e13: timestamp = Int64(number)
        default: throw APIError(.badRequest, "timestamp: expected seconds since 1970 as a number")
        }
        var scenario: String?
        switch object["scenario"] {
        case nil, .null: break
        case .string(let text) where text.count <= limits.maxIDLength: scenario = text
        default: throw APIError(.badRequest, "scenario: expected a string")
        }
        let known: Set<String> = ["user", "item", "type", "value", "timestamp", "scenario"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError(
                .badRequest, "\(unknown): unknown field; events have \(known.sorted().joined(separator: ", "))")
        }
        return Event(user: user, item: item, type: type, value: value, timestamp: timestamp, scenario: scenario)
    }

    func putItem(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let id = try context.parameters.require("id")
        try checkID(id, "id")
        let body = try await decode(ItemBody.self, request, context)
        let item = Item(
            id: id, title: body.title, description: body.description, categories: body.categories ?? [],
            attributes: body.attributes ?? [:])
        try await store.upsert(items: [item])
        // Stored first: a model that cannot take the item in keeps serving without it.
        let (extended, failures) = try await extendCatalogues(with: [item])
        return JSONResponse.make(PutItemReply(item: item, extended: extended, failures: failures))
    }

    func putUser(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let id = try context.parameters.require("id")
        try checkID(id, "id")
        let body = try await decode(UserBody.self, request, context)
        let user = User(id: id, attributes: body.attributes ?? [:])
        try await store.upsert(users: [user])
        scoreCache.remove(user: id)  // attributes can change what a user without history is shown
        return JSONResponse.make(user)
    }

    func deleteUser(_ context: ServiceContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard try await store.deleteUser(id) else { throw APIError(.notFound, "no user '\(id)'") }
        await live.forget(id)
        scoreCache.remove(user: id)
        return JSONResponse.make(["deleted": id])
    }

    func userRecommendations(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let user = try context.parameters.require("id")
        var model = try activeModel()
        var query = try recommendationQuery(request, defaultExcludeSeen: true)
        let (history, version) = try await live.snapshot(of: user)
        var features: [String: String] = [:]
        if history.isEmpty {
            guard let stored = try await store.user(user) else {
                throw APIError(
                    .notFound, "no user '\(user)': post their events first, or use POST /sessions/recommendations")
            }
            // No history yet: popularity among users with the same stated attributes, when registered.
            if let byAttributes = modelForUsersWithoutHistory {
                model = byAttributes
                features = stored.attributes
            }
        }
        var state = RankingPipeline.state(model, history: history)
        state.features = features
        var scenarioCounts: [String: Int]?
        if let scenario = request.uri.queryParameters["scenario"].map(String.init) {
            let counts = try await scenarioItemCounts(scenario)
            query.candidates = Set(counts.keys)
            state.scenario = scenario
            if history.isEmpty && features.isEmpty { scenarioCounts = counts }
        }
        let scores: [Float]
        var answeredBy = model.name
        if let scenarioCounts {
            // No history and no attributes to go by: what is most popular in this scenario.
            var counts = [Float](repeating: 0, count: model.items.count)
            for (item, count) in scenarioCounts {
                if let index = model.items.index(of: item) { counts[Int(index)] = Float(count) }
            }
            scores = counts
            answeredBy = Self.scenarioPopularity
        } else if let cached = scoreCache.scores(user: user, model: model, version: version) {
            scores = cached
        } else {
            scores = model.model.scores(for: state)
            scoreCache.store(scores, user: user, model: model, version: version)
        }
        return JSONResponse.make(
            RecommendationsBody(
                user: user, model: answeredBy,
                recommendations: try await rank(
                    model, state: state, scores: scores, query: query,
                    cachedReasons: scenarioCounts == nil
                        ? CachedReasons(cache: scoreCache, user: user, version: version) : nil)))
    }

    /// The pipeline's ranking, with the pool's categories read from the store when the request
    /// diversifies by category or caps categories.
    func rank(
        _ model: ServableModel, state: UserState, scores: [Float], query: RecommendationRequest,
        cachedReasons: CachedReasons? = nil
    ) async throws -> [Recommendation] {
        guard query.diversification.isActive else {
            return RankingPipeline.rank(
                model, state: state, scores: scores, request: query, cachedReasons: cachedReasons)
        }
        let pool = RankingPipeline.candidatePool(model, state: state, scores: scores, request: query)
        var categories: [String: [String]] = [:]
        let byVectors = query.diversifyByVectors && model.itemVectors != nil
        if !byVectors || query.diversification.categoryCap != nil {
            let stored = try await store.items(withIDs: Set(pool.map { model.items.id(at: $0) }))
            categories = stored.mapValues(\.categories)
        }
        return RankingPipeline.rank(
            model, state: state, scores: scores, request: query, categories: categories, pool: pool,
            cachedReasons: cachedReasons)
    }

    func sessionRecommendations(_ request: Request, _ context: ServiceContext) async throws -> Response {
        guard case .object(let object) = try await jsonBody(request, context), case .array(let list)? = object["events"]
        else { throw APIError(.badRequest, "expected {\"events\": [{\"item\": ...}, ...], \"n\": 10}") }
        guard list.count <= limits.maxBatch else {
            throw APIError(.contentTooLarge, "events: at most \(limits.maxBatch) events in a session")
        }
        var history: [Event] = []
        for (index, element) in list.enumerated() {
            guard case .object(var fields) = element else {
                throw APIError(.badRequest, "events[\(index)]: expected an event object")
            }
            fields["user"] = fields["user"] ?? .string("session")
            do {
                history.append(try parseEvent(.object(fields), now: 0))
            } catch let error as APIError {
                throw APIError(error.status, "events[\(index)].\(error.message)")
            }
        }
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
        case .string(let scenario): query.candidates = try await scenarioItems(scenario)
        default: throw APIError(.badRequest, "scenario: expected a string")
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
        let model = try activeModel()
        let state = RankingPipeline.state(model, history: history)
        return JSONResponse.make(
            RecommendationsBody(
                user: nil, model: model.name,
                recommendations: try await rank(
                    model, state: state, scores: model.model.scores(for: state), query: query)))
    }

    func startTraining(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let body = try await decode(TrainBody.self, request, context)
        guard ModelCatalog.names.contains(body.model) else {
            throw APIError(
                .badRequest,
                "model: unknown model '\(body.model)'; known: \(ModelCatalog.names.joined(separator: ", "))")
        }
        let name = body.name ?? body.model
        try checkID(name, "name")
        let options = body.options ?? [:]
        let keys = ModelCatalog.optionKeys[body.model] ?? []
        if let unknown = options.keys.sorted().first(where: { !keys.contains($0) }) {
            throw APIError(
                .badRequest,
                "options.\(unknown): \(body.model) has no such option; it reads \(keys.sorted().joined(separator: ", "))"
            )
        }
        do {
            let job = try training.start(
                model: body.model, options: options, name: name, activate: body.activate ?? true, service: self)
            return JSONResponse.make(job, status: .accepted)
        } catch let error as ModelError {
            throw APIError(.badRequest, "options: \(error)")
        }
    }

    func interests(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let user = try context.parameters.require("id")
        let parameters = request.uri.queryParameters
        let window = try integer(parameters["window"], "window", in: 1...1_000) ?? 10
        let history = try await live.events(of: user)
        guard !history.isEmpty else { throw APIError(.notFound, "no events for user '\(user)'") }
        let categories = try await store.items(withIDs: Set(history.map(\.item))).mapValues(\.categories)
        var windows: [InterestWindow] = []
        for start in stride(from: 0, to: history.count, by: window) {
            let part = history[start..<min(history.count, start + window)]
            var counts: [String: Double] = [:]
            for event in part {
                let cats = categories[event.item] ?? []
                for c in cats.isEmpty ? ["(none)"] : cats { counts[c, default: 0] += 1 / Double(max(cats.count, 1)) }
            }
            windows.append(
                InterestWindow(
                    from: part.first!.timestamp, to: part.last!.timestamp, events: part.count,
                    shares: counts.mapValues { $0 / Double(part.count) }))
        }
        return JSONResponse.make(["user": AnyEncodable(user), "windows": AnyEncodable(windows)])
    }

    // MARK: Helpers

    func activeModel() throws -> ServableModel {
        guard let model = active.current else { throw APIError(.serviceUnavailable, "no model is active yet") }
        return model
    }

    func recommendationQuery(_ request: Request, defaultExcludeSeen: Bool) throws -> RecommendationRequest {
        let parameters = request.uri.queryParameters
        var query = RecommendationRequest(excludeSeen: defaultExcludeSeen)
        query.count = try integer(parameters["n"], "n", in: 1...limits.maxCount) ?? query.count
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
        if let cap = try integer(try value("category_cap"), "category_cap", in: 1...limits.maxCount) {
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

    /// The items a `scenario` request may recommend.
    func scenarioItems(_ scenario: String) async throws -> Set<String> {
        Set(try await scenarioItemCounts(scenario).keys)
    }

    /// The items with events in `scenario` and how many each; 404 for a scenario no event carries.
    func scenarioItemCounts(_ scenario: String) async throws -> [String: Int] {
        guard !scenario.isEmpty, scenario.count <= limits.maxIDLength else {
            throw APIError(.badRequest, "scenario: expected 1 to \(limits.maxIDLength) characters")
        }
        let counts = try await scenarios.itemCounts(in: scenario, store: store)
        guard !counts.isEmpty else { throw APIError(.notFound, "scenario: no event carries scenario '\(scenario)'") }
        return counts
    }

    /// The `model` a reply names when it ranked by popularity within the requested scenario.
    static let scenarioPopularity = "scenario-popularity"

    func paging(_ request: Request) throws -> (cursor: String?, limit: Int) {
        let parameters = request.uri.queryParameters
        let limit = try integer(parameters["limit"], "limit", in: 1...1_000) ?? 100
        return (parameters["cursor"].map(String.init), limit)
    }

    /// `text` as an integer in `range` (nil when absent), or a 400 naming `field`.
    func integer(_ text: (some StringProtocol)?, _ field: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw APIError(
                .badRequest,
                "\(field): expected an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return value
    }

    func checkID(_ id: String, _ field: String) throws {
        guard !id.isEmpty, id.count <= limits.maxIDLength else {
            throw APIError(.badRequest, "\(field): expected 1 to \(limits.maxIDLength) characters")
        }
    }

    func body(_ request: Request, _ context: ServiceContext) async throws -> Data {
        do {
            let buffer = try await request.body.collect(upTo: limits.maxBodyBytes)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "the request body is larger than \(limits.maxBodyBytes) bytes")
        }
    }

    func jsonBody(_ request: Request, _ context: ServiceContext) async throws -> JSONValue {
        let data = try await body(request, context)
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw APIError(.badRequest, "the body is not valid JSON")
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: ServiceContext) async throws -> T {
        let data = try await body(request, context)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c) {
            throw APIError(.badRequest, "\(c.codingPath.map(\.stringValue).joined(separator: ".")): wrong type")
        } catch {
            throw APIError(.badRequest, "the body is not a valid \(T.self): \(error)")
        }
    }
}

struct ItemBody: Decodable {
    var title: String?
    var description: String?
    var categories: [String]?
    var attributes: [String: String]?
}

struct TrainBody: Decodable {
    var model: String
    var name: String?
    var activate: Bool?
    /// Model options as strings, e.g. {"epochs": "5", "dim": "32"}.
    var options: [String: String]?
}

struct UserBody: Decodable {
    var attributes: [String: String]?
}

struct ItemsPage: Encodable {
    var items: [Item]
    var next: String?
}

struct UsersPage: Encodable {
    var users: [User]
    var next: String?
}

/// Any JSON value, decoded strictly: `true` is never the number 1 and 1 is never `true`.
enum JSONValue: Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }
}

/// Encodes any encodable value (for small mixed objects).
struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

/// The stored item, plus which registered models took it in just now (a new item) and which
/// could not, with the reason; both are empty when every model already knew the item.
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
