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
        let now = Int64(Date().timeIntervalSince1970)
        let parser = EventParser(limits: limits)
        let batch = try await limits.readJSONBody(request) { try EventBatch(reading: &$0, parser: parser, now: now) }
        guard batch.count > 0 else { throw APIError(.badRequest, "events: the batch is empty") }
        guard batch.count <= limits.maxBatch else {
            throw APIError(
                .contentTooLarge,
                "events: \(batch.count) events in one batch; at most \(limits.maxBatch) are accepted")
        }
        let parsed = batch.parsed
        var rejected = batch.rejected
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

/// The body of `POST /events` — one event object, an array of them or `{"events": [...]}` —
/// read in one pass, each event checked on its own.
struct EventBatch {
    /// The events that passed, with their index in the batch.
    var parsed: [(index: Int, event: Event)] = []
    /// The events refused, with their index and why.
    var rejected: [EventsAccepted.Rejection] = []
    /// How many events the batch holds; those past the parser's ``ServiceLimits/maxBatch`` are
    /// counted, not checked.
    var count = 0

    init(reading reader: inout JSONReader, parser: EventParser, now: Int64) throws {
        var batch = EventBatch()
        func element(_ reader: inout JSONReader, _ index: Int) throws {
            batch.count += 1
            guard index < parser.limits.maxBatch else {
                _ = try reader.read()
                return
            }
            do {
                batch.parsed.append((index, try parser.parseEvent(try EventFields.read(&reader), now: now)))
            } catch let error as APIError {
                batch.rejected.append(.init(index: index, error: error.message))
            }
        }
        switch reader.next {
        case .array: try reader.readElements(element)
        case .object:
            // An object is the wrapper when it has "events" (its other members then ignored),
            // else one event.
            var wrapped = false
            var single = EventFields()
            try reader.readMembers { reader, key in
                guard key == "events" else { return try single.take(key, from: &reader) }
                guard reader.next == .array else { throw APIError(.badRequest, "events: expected an array of events") }
                wrapped = true
                batch = EventBatch()
                try reader.readElements(element)
            }
            if !wrapped {
                batch.count = 1
                do {
                    batch.parsed = [(0, try parser.parseEvent(single, now: now))]
                } catch let error as APIError {
                    batch.rejected = [.init(index: 0, error: error.message)]
                }
            }
        default: throw APIError(.badRequest, "expected an event object, an array of events or {\"events\": [...]}")
        }
        self = batch
    }

    private init() {}
}

/// One event's members as read from its object, before they are checked.
struct EventFields {
    var user: JSONValue?, item: JSONValue?, type: JSONValue?
    var value: JSONValue?, timestamp: JSONValue?, scenario: JSONValue?
    /// The first unknown field in sorted order, so the error names the same one every time.
    var unknown: String?
    /// False when the value read was not an object.
    var isObject = true

    /// Reads the member `key`'s value into its field; an unknown member's value is read and
    /// dropped. One pass of byte comparisons rather than a dictionary: a session of 200 events
    /// spent more time hashing field names than on anything else in its parsing.
    mutating func take(_ key: JSONKey, from reader: inout JSONReader) throws(JSONParseError) {
        if key == "item" {
            item = try reader.read()
        } else if key == "user" {
            user = try reader.read()
        } else if key == "type" {
            type = try reader.read()
        } else if key == "value" {
            value = try reader.read()
        } else if key == "timestamp" {
            timestamp = try reader.read()
        } else if key == "scenario" {
            scenario = try reader.read()
        } else {
            let name = key.text
            if unknown.map({ name < $0 }) ?? true { unknown = name }
            _ = try reader.read()
        }
    }

    /// Reads the next value as an event's members (any value: one that is not an object is read
    /// and marked, for the parser to refuse by index).
    static func read(_ reader: inout JSONReader) throws -> EventFields {
        var fields = EventFields()
        guard reader.next == .object else {
            _ = try reader.read()
            fields.isObject = false
            return fields
        }
        try reader.readMembers { reader, key in try fields.take(key, from: &reader) }
        return fields
    }
}

/// Checks one event's members strictly: known fields only, typed, ids within the limits.
struct EventParser {
    let limits: ServiceLimits

    /// The fields an event may have.
    static let fields: Set<String> = ["user", "item", "type", "value", "timestamp", "scenario"]

    /// `user`, when given, is the user of an event without a `user` field, taken as it is (an
    /// anonymous session's events need none).
    func parseEvent(_ fields: EventFields, now: Int64, user sessionUser: String? = nil) throws -> Event {
        guard fields.isObject else { throw APIError(.badRequest, "expected an event object") }
        let userValue = fields.user, itemValue = fields.item, typeValue = fields.type
        let valueValue = fields.value, timestampValue = fields.timestamp, scenarioValue = fields.scenario
        let unknown = fields.unknown
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
        if let unknown {
            throw APIError(
                .badRequest, "\(unknown): unknown field; events have \(Self.fields.sorted().joined(separator: ", "))")
        }
        return Event(user: user, item: item, type: type, value: value, timestamp: timestamp, scenario: scenario)
    }
}
