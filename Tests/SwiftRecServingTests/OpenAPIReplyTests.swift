import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwiftRecData
import SwiftRecModels
import Testing
import Yams

@testable import SwiftRecServing

/// Checks JSON values against the schemas of docs/openapi.yaml: `$ref`, `allOf`, `oneOf`,
/// `type` (one or a list), `required`, `properties`, `additionalProperties`, `items` and `enum`
/// — the parts of JSON Schema the document uses.
struct SchemaChecker {
    let document: JSONValue

    static func load() throws -> SchemaChecker {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        return SchemaChecker(document: try YAMLDecoder().decode(JSONValue.self, from: text))
    }

    /// The value at a `#/a/b/c` reference.
    func resolve(_ reference: String) -> JSONValue? {
        var node: JSONValue? = document
        for key in reference.dropFirst(2).split(separator: "/") {
            guard case .object(let object)? = node else { return nil }
            node = object[String(key)]
        }
        return node
    }

    /// `schema`, with a `$ref` followed.
    func resolved(_ schema: JSONValue) -> JSONValue {
        if case .object(let object) = schema, case .string(let reference)? = object["$ref"],
            let target = resolve(reference)
        {
            return resolved(target)
        }
        return schema
    }

    /// What in `value` breaks `schema`, each with its path; empty when it conforms.
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard case .object(let rules) = resolved(schema) else { return ["\(path): the schema is not an object"] }
        var found: [String] = []
        if case .array(let parts)? = rules["allOf"] {
            for part in parts { found += problems(value, part, at: path) }
        }
        if case .array(let options)? = rules["oneOf"],
            !options.contains(where: { problems(value, $0, at: path).isEmpty })
        {
            found.append("\(path): matches none of the oneOf schemas")
        }
        let types: [String] =
            switch rules["type"] {
            case .string(let name)?: [name]
            case .array(let names)?: names.compactMap { if case .string(let n) = $0 { n } else { nil } }
            default: []
            }
        if !types.isEmpty, !types.contains(where: { Self.value(value, is: $0) }) {
            found.append("\(path): \(value) is not of type \(types.joined(separator: " or "))")
            return found
        }
        if case .array(let allowed)? = rules["enum"], !allowed.contains(value) {
            found.append("\(path): \(value) is not one of \(allowed)")
        }
        if case .object(let object) = value {
            if case .array(let required)? = rules["required"] {
                for case .string(let key) in required where object[key] == nil {
                    found.append("\(path): the required '\(key)' is missing")
                }
            }
            var properties: [String: JSONValue] = [:]
            if case .object(let declared)? = rules["properties"] { properties = declared }
            for (key, member) in object.sorted(by: { $0.key < $1.key }) {
                if let schema = properties[key] {
                    found += problems(member, schema, at: "\(path).\(key)")
                } else if case .bool(false)? = rules["additionalProperties"] {
                    found.append("\(path): '\(key)' is not documented")
                } else if let extra = rules["additionalProperties"], case .object = extra {
                    found += problems(member, extra, at: "\(path).\(key)")
                }
            }
        }
        if case .array(let elements) = value, let items = rules["items"] {
            for (index, element) in elements.enumerated() { found += problems(element, items, at: "\(path)[\(index)]") }
        }
        return found
    }

    static func value(_ value: JSONValue, is type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array),
            ("object", .object):
            true
        case ("integer", .number(let n)): n.rounded() == n
        default: false
        }
    }

    /// The JSON schema documented for `status` of the operation, following response references;
    /// nil when that status is documented without a JSON body.
    func replySchema(method: String, path: String, status: Int) throws -> JSONValue? {
        guard case .object(let paths)? = resolve("#/paths"), case .object(let operations)? = paths[path],
            case .object(let operation)? = operations[method.lowercased()],
            case .object(let responses)? = operation["responses"]
        else { throw SchemaError("\(method) \(path) is not documented") }
        guard let response = responses[String(status)] else {
            throw SchemaError("\(method) \(path) does not document status \(status)")
        }
        guard case .object(let reply) = resolved(response), case .object(let content)? = reply["content"],
            case .object(let json)? = content["application/json"]
        else { return nil }
        return json["schema"]
    }

    struct SchemaError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

@Suite("OpenAPI replies")
struct OpenAPIReplyTests {
    @Test func theServiceServesTheDocumentAndAnswersUnmatchedRoutesWithTheErrorShape() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        #expect(OpenAPIDocument.yaml + "\n" == text, "run scripts/embed-openapi.sh after editing docs/openapi.yaml")
        let checker = try SchemaChecker.load()
        let error = try #require(checker.resolve("#/components/responses/NoRoute"))
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            let document = try await client.call(.get, "/openapi.yaml")
            #expect(document.status == .ok && document.text == text)
            for (method, uri) in [(HTTPRequest.Method.get, "/no/such/route"), (.post, "/health"), (.get, "/")] {
                let reply = try await client.call(method, uri)
                #expect(reply.status.code >= 400 && reply.status.code < 500, "\(method) \(uri)")
                let value = try JSONDecoder().decode(JSONValue.self, from: Data(reply.text.utf8))
                guard case .object(let response) = error, case .object(let content)? = response["content"],
                    case .object(let json)? = content["application/json"], let schema = json["schema"]
                else {
                    Issue.record("NoRoute has no JSON schema")
                    return
                }
                #expect(checker.problems(value, schema).isEmpty, "\(method) \(uri): \(reply.text)")
            }
        }
    }

    @Test func theCheckerFindsWhatBreaksASchema() throws {
        let checker = try SchemaChecker.load()
        let item = JSONValue.object(["id": "a", "categories": .array(["x"])])
        #expect(checker.problems(item, .object(["$ref": "#/components/schemas/Item"])).isEmpty)
        let missing = checker.problems(.object(["title": "t"]), .object(["$ref": "#/components/schemas/Item"]))
        #expect(missing == ["$: the required 'id' is missing"])
        let wrongType = checker.problems(
            .object(["status": "ok", "model": "m", "events": 1.5]), .object(["$ref": "#/components/schemas/Health"]))
        #expect(wrongType == ["$.events: 1.5 is not of type integer"])
        let extra = checker.problems(
            .object(["user": "u", "item": "i", "colour": "red"]), .object(["$ref": "#/components/schemas/Event"]))
        #expect(extra == ["$: 'colour' is not documented"])
    }

    /// One real call for every documented operation (in an order where each finds what it
    /// needs), each reply checked against the schema documented for its status.
    @Test func everyDocumentedReplyDecodesFromARealCall() async throws {
        let checker = try SchemaChecker.load()
        let (service, data) = try await makeService()
        let pop = Popularity()
        try pop.fit(data.dataset, validation: nil, progress: nil)
        try await service.install(
            ServableModel(name: "pop", model: pop, items: data.dataset.items, users: data.dataset.users))
        let user = data.dataset.users.ids[0], item = data.dataset.items.ids[0]
        let calls: [(operation: String, uri: String, body: String?, status: Int)] = [
            (
                "POST /events", "/events",
                #"[{"user": "\#(user)", "item": "\#(item)"}, {"user": "\#(user)", "item": "item-2"}]"#, 200
            ),
            (
                "POST /events", "/events", #"[{"user": "\#(user)", "item": "item-3"}, {"user": "", "item": "item-3"}]"#,
                422
            ),
            ("GET /health", "/health", nil, 200),
            ("GET /metrics", "/metrics", nil, 200),
            ("GET /openapi.yaml", "/openapi.yaml", nil, 200),
            ("GET /items", "/items?limit=2", nil, 200),
            ("GET /items/{id}", "/items/\(item)", nil, 200),
            ("GET /items/{id}", "/items/no-such-item", nil, 404),
            ("PUT /items/{id}", "/items/brand-new", #"{"title": "New", "categories": ["c"]}"#, 200),
            ("GET /items/{id}/similar", "/items/\(item)/similar?n=3&explain=true", nil, 200),
            ("GET /items/{id}/similar", "/items/\(item)/similar?n=101", nil, 400),
            ("GET /users", "/users?limit=2", nil, 200),
            ("PUT /users/{id}", "/users/someone", #"{"attributes": {"age": "30"}}"#, 200),
            ("GET /users/{id}/recommendations", "/users/\(user)/recommendations?n=3&explain=true", nil, 200),
            ("GET /users/{id}/recommendations", "/users/\(user)/recommendations?n=0", nil, 400),
            ("GET /users/{id}/interests", "/users/\(user)/interests?window=2", nil, 200),
            ("GET /users/{id}/interests", "/users/\(user)/interests?window=1001", nil, 400),
            (
                "POST /sessions/recommendations", "/sessions/recommendations",
                #"{"events": [{"item": "\#(item)"}], "n": 3}"#, 200
            ),
            (
                "POST /sessions/recommendations", "/sessions/recommendations",
                #"{"events": [{"item": "\#(item)"}], "scenario": "nowhere"}"#, 404
            ),
            ("GET /models", "/models", nil, 200),
            ("POST /models/{name}/activate", "/models/pop/activate", nil, 200),
            ("POST /models/{name}/activate", "/models/sasrec/activate", nil, 200),
            ("DELETE /models/{name}", "/models/pop", nil, 200),
            ("POST /train", "/train", #"{"model": "pop", "name": "pop-again", "activate": false}"#, 202),
            ("GET /train", "/train", nil, 200),
            ("GET /train/{job}", "/train/1", nil, 200),
            ("GET /train/{job}", "/train/abc", nil, 400),
            ("DELETE /train/{job}", "/train/999", nil, 404),
            ("DELETE /users/{id}", "/users/someone", nil, 200),
        ]
        let covered = Set(calls.map(\.operation))
        let documented = try OpenAPITests.documentedOperations()
        #expect(covered == documented, "operations without a call here: \(documented.subtracting(covered))")
        let checked = try await Application(router: service.router()).test(.router) { client async throws in
            var checked = 0
            for call in calls {
                let parts = call.operation.split(separator: " ", maxSplits: 1).map(String.init)
                let method = HTTPRequest.Method(rawValue: parts[0])!
                let reply = try await client.call(method, call.uri, call.body)
                #expect(Int(reply.status.code) == call.status, "\(call.operation) \(call.uri): \(reply.text)")
                guard let schema = try checker.replySchema(method: parts[0], path: parts[1], status: call.status) else {
                    continue
                }
                let value = try JSONDecoder().decode(JSONValue.self, from: Data(reply.text.utf8))
                let problems = checker.problems(value, schema)
                #expect(problems.isEmpty, "\(call.operation) \(call.status): \(problems) in \(reply.text)")
                checked += 1
            }
            return checked
        }
        // All but GET /metrics (Prometheus text) and GET /openapi.yaml have a JSON reply to check.
        #expect(checked == calls.count - 2)
    }
}
