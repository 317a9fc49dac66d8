import Foundation
import Hummingbird
import NIOCore
import SwiftRecData
import SwiftRecModels

/// `POST /events`: behaviour events, one, an array or `{"events": [...]}`. Each is checked on
/// its own (a bad one is rejected by index, the others kept), stored durably, then counted in
/// the user's next recommendation.
struct EventsController {
    let service: RecommendationService
    var store: any RecommendationStore { service.store }
    var limits: ServiceLimits { service.limits }

    func addRoutes(to routes: ServiceRoutes) {
        routes.write.post("events") { request, context in try await postEvents(request, context) }
    }

    func postEvents(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let elements: [JSONValue]
        switch try await limits.jsonBody(request, context) {
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
                parsed.append((index, try EventParser(limits: limits).parseEvent(element, now: now)))
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
        try await service.live.append(valid)
        service.pipeline.scenarios.record(valid)
        service.metrics.events(accepted: valid.count, rejected: rejected.count)
        let outcome = EventsAccepted(accepted: valid.count, rejected: rejected)
        return JSONResponse.make(outcome, status: rejected.isEmpty ? .ok : .unprocessableContent)
    }
}

/// The outcome of `POST /events`.
struct EventsAccepted: Codable, Sendable {
    struct Rejection: Codable, Sendable {
        var index: Int
        var error: String
    }
    var accepted: Int
    var rejected: [Rejection]
}

/// Reads one event object strictly: known fields only, typed, ids within the limits.
struct EventParser {
    let limits: ServiceLimits

    /// The fields an event may have.
    static let fields: Set<String> = ["user", "item", "type", "value", "timestamp", "scenario"]

    /// `user`, when given, is the user of an event without a `user` field, taken as it is (an
    /// anonymous session's events need none).
    func parseEvent(_ element: JSONValue, now: Int64, user sessionUser: String? = nil) throws -> Event {
        guard case .object(let object) = element else { throw APIError(.badRequest, "expected an event object") }
        // One pass over the members rather than a hashed lookup per field: a session of 200
        // events spent more time hashing field names than on anything else in its parsing.
        var userValue: JSONValue?, itemValue: JSONValue?, typeValue: JSONValue?
        var valueValue: JSONValue?, timestampValue: JSONValue?, scenarioValue: JSONValue?
        var unknown: String?
        for (field, value) in object {
            switch field {
            case "user": userValue = value
            case "item": itemValue = value
            case "type": typeValue = value
            case "value": valueValue = value
            case "timestamp": timestampValue = value
            case "scenario": scenarioValue = value
            default: if unknown.map({ field < $0 }) ?? true { unknown = field }
            }
        }
        func id(_ value: JSONValue?, _ field: String) throws -> String {
            guard let value else { throw APIError(.badRequest, "\(field): missing") }
            guard case .string(let text) = value else { throw APIError(.badRequest, "\(field): expected a string") }
            try limits.checkID(text, field)
            return text
        }
        // The store, live state and models know users by their stored ids.
        let user: String
        if let sessionUser, userValue == nil {
            user = sessionUser
        } else {
            user = limits.storedUserID(try id(userValue, "user"))
        }
        let item = try id(itemValue, "item")
        var type = EventType.view
        if let raw = typeValue {
            guard case .string(let text) = raw, let known = EventType(rawValue: text) else {
                throw APIError(
                    .badRequest, "type: expected one of \(EventType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            type = known
        }
        var value: Double?
        switch valueValue {
        case nil, .null: break
        case .number(let number) where number.isFinite: value = number
        default: throw APIError(.badRequest, "value: expected a finite number")
        }
        var timestamp = now
        switch timestampValue {
        case nil, .null: break
        case .number(let number) where number.isFinite && abs(number) < 1e13: timestamp = Int64(number)
        default: throw APIError(.badRequest, "timestamp: expected seconds since 1970 as a number")
        }
        var scenario: String?
        switch scenarioValue {
        case nil, .null: break
        case .string(let text):
            try limits.checkID(text, "scenario")
            scenario = text
        default: throw APIError(.badRequest, "scenario: expected a string")
        }
        // The first unknown field in sorted order, so the error names the same one every time.
        if let unknown {
            throw APIError(
                .badRequest, "\(unknown): unknown field; events have \(Self.fields.sorted().joined(separator: ", "))")
        }
        return Event(user: user, item: item, type: type, value: value, timestamp: timestamp, scenario: scenario)
    }
}
