import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwiftRecData
import SwiftRecModels
import Testing

@testable import SwiftRecServing

/// A response's status and its body as JSON (or text).
struct Reply {
    let status: HTTPResponse.Status
    let text: String
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var error: String { object["error"] as? String ?? "" }
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil, key: String? = nil) async throws
        -> Reply
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[HTTPField.Name("X-API-Key")!] = key }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        { Reply(status: $0.status, text: String(buffer: $0.body)) }
    }
}

/// A service over an in-memory store holding the generated catalogue, with the small SASRec active.
func makeService(apiKey: String? = nil, maxBatch: Int = 1_000) async throws -> (RecommendationService, SyntheticData) {
    let (data, model) = servingModel
    var limits = ServiceLimits(apiKey: apiKey)
    limits.maxBatch = maxBatch
    let service = RecommendationService(store: InMemoryStore(), limits: limits)
    try await service.store.upsert(items: data.dataset.itemInfo.compactMap { $0 })
    try await service.install(model)
    return (service, data)
}

private func category(_ data: SyntheticData, _ item: Any?) -> Int {
    Int(((item as? [String: Any])?["item"] as? String ?? "item-0").dropFirst(5)).map { data.itemCategory[$0] } ?? -1
}

@Suite("HTTP API")
struct HTTPAPITests {
    @Test func readsHealthModelsListsAndMetrics() async throws {
        let (service, data) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            let health = try await client.call(.get, "/health")
            #expect(health.status == .ok && health.object["status"] as? String == "ok")
            let models = try await client.call(.get, "/models")
            let first = (models.json as? [[String: Any]])?.first
            #expect(first?["name"] as? String == "sasrec" && first?["active"] as? Bool == true)
            let page = try await client.call(.get, "/items?limit=3")
            #expect((page.object["items"] as? [Any])?.count == 3 && page.object["next"] as? String == "item-10")
            let next = try await client.call(.get, "/items?limit=3&cursor=item-10")
            #expect(((next.object["items"] as? [[String: Any]])?.first?["id"] as? String) == "item-11")
            #expect(try await client.call(.get, "/items?limit=0").error.hasPrefix("limit:"))
            let item = try await client.call(.get, "/items/item-5")
            #expect(item.object["categories"] as? [String] == [data.categoryNames[0]])
            #expect(try await client.call(.get, "/items/nope").status == .notFound)
            _ = try await client.call(.post, "/events", #"{"user": "u1", "item": "item-1"}"#)
            let users = try await client.call(.get, "/users")
            #expect(((users.object["users"] as? [[String: Any]])?.map { $0["id"] as? String }) == ["u1"])
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.text.contains("swiftrec_events_total{outcome=\"accepted\"} 1"))
            #expect(
                metrics.text.contains("swiftrec_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1")
            )
            // Latency histograms per route (for p50/p99), the score cache, live state, the model.
            _ = try await client.call(.get, "/users/u1/recommendations")
            _ = try await client.call(.get, "/users/u1/recommendations")
            let after = try await client.call(.get, "/metrics").text
            #expect(
                after.contains(
                    #"swiftrec_http_request_duration_seconds_bucket{route="/users/{id}/recommendations",method="GET",le="+Inf"} 2"#
                ))
            #expect(after.contains(#"swiftrec_score_cache_total{result="hit"} 1"#))
            #expect(after.contains(#"swiftrec_score_cache_total{result="miss"} 1"#))
            #expect(after.contains("swiftrec_live_users 1.0"))
            #expect(after.contains(#"swiftrec_active_model{name="sasrec"} 1.0"#))
            #expect(after.contains(#"swiftrec_training_jobs{state="running"} 0.0"#))
        }
    }

    @Test func aUserWithAHistoryLongerThanAnyWindowIsNeverShownASeenItem() async throws {
        let (service, data) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            // 60 distinct items, then 240 events on ten more: the newest 200 events hold only those ten.
            let items = (0..<60).map { $0 } + (0..<240).map { 60 + $0 % 10 }
            let events = items.enumerated().map { #"{"user": "long", "item": "item-\#($1)", "timestamp": \#($0)}"# }
            let posted = try await client.call(.post, "/events", "[" + events.joined(separator: ",") + "]")
            #expect(posted.status == .ok)
            let reply = try await client.call(.get, "/users/long/recommendations?n=100")
            let listed = (reply.object["recommendations"] as? [[String: Any]] ?? []).compactMap {
                $0["item"] as? String
            }
            // Every unseen item, and only those.
            #expect(Set(listed) == Set((70..<data.dataset.itemCount).map { "item-\($0)" }))
            let all = try await client.call(.get, "/users/long/recommendations?n=100&exclude_seen=false")
            #expect((all.object["recommendations"] as? [Any])?.count == data.dataset.itemCount)
        }
    }

    @Test func aPostedEventChangesTheNextRecommendation() async throws {
        let (service, data) = try await makeService()
        let per = data.config.itemsPerCategory
        try await Application(router: service.router()).test(.router) { client async throws in
            let history = (0..<6).map { #"{"user": "ann", "item": "item-\#($0)", "timestamp": \#($0)}"# }
            let posted = try await client.call(.post, "/events", "[\(history.joined(separator: ","))]")
            #expect(posted.status == .ok && posted.object["accepted"] as? Int == 6, "\(posted.text)")
            let before = try await client.call(.get, "/users/ann/recommendations?n=10")
            let first = before.object["recommendations"] as? [Any] ?? []
            #expect(first.count == 10 && first.filter { category(data, $0) == 0 }.count >= 6)
            // Three clicks in category 2, then the very next request follows them.
            for k in 0..<3 {
                let reply = try await client.call(
                    .post, "/events", #"{"user": "ann", "item": "item-\#(2 * per + 4 + k)", "type": "click"}"#)
                #expect(reply.status == .ok)
            }
            let after = try await client.call(.get, "/users/ann/recommendations?n=10&explain=true")
            let list = after.object["recommendations"] as? [[String: Any]] ?? []
            #expect(list.filter { category(data, $0) == 2 }.count >= 6)
            #expect((list.first?["because"] as? [[String: Any]])?.isEmpty == false)
            let seen = try await client.call(.get, "/users/ann/recommendations?n=100&exclude_seen=false")
            #expect((seen.object["recommendations"] as? [Any])?.count == 80)
        }
    }

    @Test func scenariosLimitCandidatesAndExplanationMethodsAnswer() async throws {
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            let home = (10..<16).map { #"{"user": "bo", "item": "item-\#($0)", "scenario": "home"}"# }
            let other = (20..<23).map { #"{"user": "cy", "item": "item-\#($0)", "scenario": "search"}"# }
            _ = try await client.call(.post, "/events", "[\((home + other).joined(separator: ","))]")
            let reply = try await client.call(.get, "/users/cy/recommendations?n=10&scenario=home")
            let items = (reply.object["recommendations"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String }
            #expect(reply.status == .ok && items.count == 6, "\(reply.text)")
            #expect(Set(items) == Set((10..<16).map { "item-\($0)" }))
            // A new event in the scenario makes its item a candidate at once.
            _ = try await client.call(.post, "/events", #"{"user": "bo", "item": "item-70", "scenario": "home"}"#)
            let grown = try await client.call(.get, "/users/cy/recommendations?n=10&scenario=home")
            #expect((grown.object["recommendations"] as? [Any])?.count == 7)
            // A user with no events and no attributes: the scenario's most popular items, in order.
            let popular =
                (0..<3).map { #"{"user": "u\#($0)", "item": "item-13", "scenario": "home"}"# } + [
                    #"{"user": "u9", "item": "item-11", "scenario": "home"}"#,
                    #"{"user": "u8", "item": "item-11", "scenario": "home"}"#,
                ]
            _ = try await client.call(.post, "/events", "[\(popular.joined(separator: ","))]")
            #expect(try await client.call(.put, "/users/newcomer", "{}").status == .ok)
            let first = try await client.call(.get, "/users/newcomer/recommendations?n=3&scenario=home")
            let firstItems = (first.object["recommendations"] as? [[String: Any]] ?? []).compactMap {
                $0["item"] as? String
            }
            #expect(first.object["model"] as? String == "scenario-popularity", "\(first.text)")
            #expect(firstItems.count == 3 && Array(firstItems.prefix(2)) == ["item-13", "item-11"], "\(first.text)")
            // Without a scenario, the active model answers as before.
            let plain = try await client.call(.get, "/users/newcomer/recommendations?n=3")
            #expect(plain.status == .ok && plain.object["model"] as? String != "scenario-popularity")
            let unknown = try await client.call(.get, "/users/cy/recommendations?scenario=nowhere")
            #expect(unknown.status == .notFound && unknown.error.hasPrefix("scenario:"))
            let session = try await client.call(
                .post, "/sessions/recommendations",
                #"{"events": [{"item": "item-1"}], "scenario": "search", "explain": "gradient", "n": 5}"#)
            let listed = session.object["recommendations"] as? [[String: Any]] ?? []
            #expect(listed.count == 3, "\(session.text)")  // item-20..22, none seen by the session
            // Explained (an item that no history item raised has an empty list).
            #expect(listed.allSatisfy { $0["because"] is [Any] })
            for method in ["attention", "gradient", "true"] {
                let explained = try await client.call(.get, "/users/bo/recommendations?n=3&explain=\(method)")
                let list = explained.object["recommendations"] as? [[String: Any]] ?? []
                #expect(list.count == 3 && list.allSatisfy { ($0["because"] as? [Any])?.isEmpty == false })
            }
        }
    }

    @Test func diversityAndExplorationReshapeTheList() async throws {
        let (service, data) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            let history = (0..<6).map { #"{"user": "di", "item": "item-\#($0)"}"# }
            _ = try await client.call(.post, "/events", "[\(history.joined(separator: ","))]")
            func categories(_ uri: String) async throws -> [Int] {
                let reply = try await client.call(.get, uri)
                #expect(reply.status == .ok, "\(reply.text)")
                return (reply.object["recommendations"] as? [Any] ?? []).map { category(data, $0) }
            }
            let plain = try await categories("/users/di/recommendations?n=10")
            let capped = try await categories("/users/di/recommendations?n=10&category_cap=2")
            #expect(capped.count == 10 && Dictionary(grouping: capped, by: { $0 }).values.allSatisfy { $0.count <= 2 })
            #expect(Dictionary(grouping: plain, by: { $0 }).values.contains { $0.count > 2 })
            let varied = try await categories("/users/di/recommendations?n=10&diversity=0.2")
            #expect(Set(varied).count > Set(plain).count, "\(varied) vs \(plain)")
            let byVectors = try await categories("/users/di/recommendations?n=10&diversity=0.2&diversify_by=embedding")
            #expect(byVectors.count == 10)
            let explored = try await client.call(.get, "/users/di/recommendations?n=5&explore=1")
            let flags = (explored.object["recommendations"] as? [[String: Any]] ?? []).map { $0["explore"] as? Bool }
            #expect(flags.count == 5 && flags.last == true && flags.dropLast().allSatisfy { $0 == nil })
            let session = try await client.call(
                .post, "/sessions/recommendations",
                #"{"events": [{"item": "item-1"}], "n": 10, "options": {"category_cap": 1}}"#)
            let listed = (session.object["recommendations"] as? [Any] ?? []).map { category(data, $0) }
            #expect(listed.count == Set(listed).count && !listed.isEmpty, "\(session.text)")
            for bad in ["diversity=2", "category_cap=0", "diversify_by=colour", "explore=-1"] {
                let reply = try await client.call(.get, "/users/di/recommendations?\(bad)")
                #expect(reply.status == .badRequest && reply.error.hasPrefix(String(bad.prefix { $0 != "=" })))
            }
        }
    }

    @Test func aQueryInWordsMovesTheListAndIsExplained() async throws {
        let (service, data) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            let history = (0..<6).map { #"{"user": "qa", "item": "item-\#($0)"}"# }
            _ = try await client.call(.post, "/events", "[\(history.joined(separator: ","))]")
            let wanted = 3
            let words = data.categoryNames[wanted].addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            func list(_ uri: String) async throws -> [[String: Any]] {
                let reply = try await client.call(.get, uri)
                #expect(reply.status == .ok, "\(reply.text)")
                return reply.object["recommendations"] as? [[String: Any]] ?? []
            }
            let plain = try await list("/users/qa/recommendations?n=10").map { category(data, $0) }
            let asked = try await list("/users/qa/recommendations?n=10&explain=true&q=something%20for%20\(words)")
            let askedCategories = asked.map { category(data, $0) }
            #expect(plain.filter { $0 == wanted }.count < 5, "\(plain)")
            // The user's own category stays where the model is surest; most of the list is what was asked for.
            #expect(askedCategories.filter { $0 == wanted }.count >= 6, "\(askedCategories)")
            // Explanations say how much came from the query and which of its words matched.
            let reasons = asked.compactMap { $0["query"] as? [String: Any] }
            #expect(reasons.count == asked.count)
            let first = asked.indices.first { askedCategories[$0] == wanted }.map { reasons[$0] } ?? [:]
            #expect((first["share"] as? Double ?? 0) > 0 && (first["share"] as? Double ?? 2) <= 1)
            #expect(
                (first["words"] as? [String] ?? []).contains(
                    data.categoryNames[wanted].lowercased().split(separator: " ")[0].description))
            // Weight 0 is the model alone; without explain no query part is given.
            let ignored = try await list("/users/qa/recommendations?n=10&q=\(words)&query_weight=0")
            #expect(ignored.map { category(data, $0) } == plain && ignored.allSatisfy { $0["query"] == nil })
            // Sessions take the query in the body.
            let session = try await client.call(
                .post, "/sessions/recommendations",
                #"{"events": [{"item": "item-1"}], "n": 10, "query": "\#(data.categoryNames[wanted])"}"#)
            let sessionCategories = (session.object["recommendations"] as? [Any] ?? []).map { category(data, $0) }
            #expect(sessionCategories.filter { $0 == wanted }.count >= 6, "\(session.text)")
            // Empty, blank, over-long and badly weighted queries are refused by name.
            let long = String(repeating: "a", count: QueryIndex.maxCharacters + 1)
            for (bad, field) in [
                ("q=", "q"), ("q=%20%20", "q"), ("q=\(long)", "q"), ("q=x&query_weight=2", "query_weight"),
            ] {
                let reply = try await client.call(.get, "/users/qa/recommendations?\(bad)")
                #expect(reply.status == .badRequest && reply.error.hasPrefix(field), "\(bad): \(reply.text)")
            }
            for body in [#""query": """#, #""query": 5"#, #""query": "x", "query_weight": -1"#] {
                let reply = try await client.call(
                    .post, "/sessions/recommendations", #"{"events": [{"item": "item-1"}], \#(body)}"#)
                #expect(reply.status == .badRequest && reply.error.hasPrefix("query"), "\(body): \(reply.text)")
            }
        }
    }

    @Test func badWritesGetClearErrorsAndKeepTheValidPart() async throws {
        let (service, _) = try await makeService(maxBatch: 5)
        try await Application(router: service.router()).test(.router) { client async throws in
            let malformed = try await client.call(.post, "/events", #"{"user": "a", "item": "#)
            #expect(malformed.status == .badRequest && malformed.error.contains("not valid JSON"))
            let batch = """
                [{"user": "a", "item": "item-1"}, {"user": "a", "item": "no-such-item"},
                 {"user": "a", "item": "item-2", "value": "NaN"}, {"item": "item-3"},
                 {"user": "a", "item": "item-4", "colour": "red"}]
                """
            let mixed = try await client.call(.post, "/events", batch)
            #expect(mixed.status == .unprocessableContent && mixed.object["accepted"] as? Int == 1)
            let errors = (mixed.object["rejected"] as? [[String: Any]] ?? []).map { $0["error"] as? String ?? "" }
            #expect(errors.count == 4)
            #expect(errors[0].hasPrefix("item: unknown item 'no-such-item'"))
            #expect(errors[1].hasPrefix("value:") && errors[2].hasPrefix("user: missing"))
            #expect(errors[3].hasPrefix("colour: unknown field"))
            #expect(try await service.store.eventCount() == 1)
            let tooMany = (0..<6).map { _ in #"{"user": "b", "item": "item-1"}"# }.joined(separator: ",")
            let oversized = try await client.call(.post, "/events", "[\(tooMany)]")
            #expect(oversized.status == .contentTooLarge && oversized.error.contains("at most 5"))
            // The three shapes of a batch, read in one pass: the wrapper's other members are ignored,
            // a single object is one event, an element that is no object is refused by index.
            let wrapped = try await client.call(
                .post, "/events", #"{"events": [{"user": "c", "item": "item-1"}, 7], "user": 5}"#)
            #expect(wrapped.status == .unprocessableContent && wrapped.object["accepted"] as? Int == 1)
            let wrappedErrors = wrapped.object["rejected"] as? [[String: Any]] ?? []
            #expect(wrappedErrors.first?["index"] as? Int == 1)
            #expect(wrappedErrors.first?["error"] as? String == "expected an event object")
            #expect(
                try await client.call(.post, "/events", #"{"events": {}}"#).error.hasPrefix("events: expected an array")
            )
            #expect(
                try await client.call(.post, "/events", #"{"events": []}"#).error.hasPrefix(
                    "events: the batch is empty"))
            #expect(try await client.call(.post, "/events", "5").error.hasPrefix("expected an event object, an array"))
            // A refused field before a syntax error: the body is reported as not JSON.
            let broken = try await client.call(.post, "/events", #"{"events": 5, "x": }"#)
            #expect(broken.status == .badRequest && broken.error.contains("not valid JSON"), "\(broken.text)")
            #expect(try await service.store.eventCount() == 2)
            let huge = try await client.call(.post, "/events", #"{"user": "a", "item": "item-1", "value": 1e999}"#)
            #expect(huge.status.code >= 400 && huge.status.code < 500)
            #expect(try await service.store.eventCount() == 2)
            #expect(try await client.call(.get, "/users/a/recommendations?n=0").error.hasPrefix("n:"))
            #expect(try await client.call(.get, "/users/a/recommendations?n=101").error.hasPrefix("n:"))
            #expect(try await client.call(.get, "/users/a/recommendations?explain=maybe").error.hasPrefix("explain:"))
            #expect(try await client.call(.get, "/users/ghost/recommendations").status == .notFound)
            let item = try await client.call(.put, "/items/new-item", #"{"title": 5}"#)
            #expect(item.status == .badRequest && item.error.hasPrefix("title"))
            let stored = try await client.call(.put, "/items/new-item", #"{"title": "New", "categories": ["c"]}"#)
            #expect(stored.status == .ok && stored.object["title"] as? String == "New")
            #expect(try await client.call(.post, "/events", #"{"user": "a", "item": "new-item"}"#).status == .ok)
        }
    }

    @Test func aKeyWithEveryScopeOpensEveryRouteAndNoKeyOnlyTheOpenOnes() async throws {
        let (service, _) = try await makeService(apiKey: "s3cret")
        try await Application(router: service.router()).test(.router) { client async throws in
            let event = #"{"user": "k", "item": "item-1"}"#
            #expect(try await client.call(.post, "/events", event).status == .unauthorized)
            #expect(try await client.call(.post, "/events", event, key: "wrong").error == "the API key is wrong")
            #expect(try await client.call(.post, "/events", event, key: "s3cret").status == .ok)
            #expect(try await client.call(.get, "/users/k/recommendations").status == .unauthorized)
            #expect(try await client.call(.get, "/users/k/recommendations", key: "s3cret").status == .ok)
            #expect(try await client.call(.delete, "/users/k").status == .unauthorized)
            #expect(try await client.call(.post, "/models/sasrec/activate").status == .unauthorized)
            #expect(try await client.call(.post, "/models/sasrec/activate", key: "s3cret").status == .ok)
            #expect(try await client.call(.post, "/models/nope/activate", key: "s3cret").status == .notFound)
            for open in ["/health", "/metrics", "/openapi.yaml"] {
                #expect(try await client.call(.get, open).status == .ok, "\(open)")
            }
        }
    }

    @Test func scopedKeysOpenTheirRoutesOnly() async throws {
        let (data, model) = servingModel
        let limits = ServiceLimits(apiKeys: [
            APIKey(key: "reader", scopes: [.read]), APIKey(key: "writer", scopes: [.write]),
            APIKey(key: "operator", scopes: [.admin]),
        ])
        let service = RecommendationService(store: InMemoryStore(), limits: limits)
        try await service.store.upsert(items: data.dataset.itemInfo.compactMap { $0 })
        try await service.install(model)
        // Route → the one scope that opens it.
        let routes: [(HTTPRequest.Method, String, String?, APIScope)] = [
            (.post, "/events", #"{"user": "k", "item": "item-1"}"#, .write),
            (.put, "/items/item-1", #"{"title": "t"}"#, .write),
            (.put, "/users/k", #"{"attributes": {}}"#, .write),
            (.get, "/users/k/recommendations", nil, .read),
            (.post, "/sessions/recommendations", #"{"events": [{"item": "item-1"}]}"#, .read),
            (.get, "/items/item-1/similar", nil, .read),
            (.get, "/items", nil, .read),
            (.get, "/users", nil, .admin),
            (.get, "/users/k/interests", nil, .admin),
            (.get, "/models", nil, .admin),
            (.get, "/train", nil, .admin),
        ]
        let keys: [APIScope: String] = [.read: "reader", .write: "writer", .admin: "operator"]
        try await Application(router: service.router()).test(.router) { client async throws in
            for (method, uri, body, scope) in routes {
                for (held, key) in keys.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    let reply = try await client.call(method, uri, body, key: key)
                    if held == scope {
                        #expect(reply.status.code < 400, "\(method) \(uri) with \(held): \(reply.text)")
                    } else {
                        #expect(
                            reply.status == .forbidden && reply.error.contains(scope.rawValue),
                            "\(method) \(uri) with \(held)")
                    }
                }
                #expect(
                    try await client.call(method, uri, body).status == .unauthorized, "\(method) \(uri) without a key")
            }
            #expect(try await client.call(.delete, "/users/k", key: "operator").status == .ok)
        }
        #expect(APIKey(key: "abc").matches("abc") && !APIKey(key: "abc").matches("abd"))
        #expect(
            !APIKey(key: "abc").matches("ab") && !APIKey(key: "abc").matches("abcd") && !APIKey(key: "abc").matches(""))
    }

    @Test func deletingAUserLeavesNoTrace() async throws {
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            #expect(try await client.call(.put, "/users/dora", #"{"attributes": {"age": "31"}}"#).status == .ok)
            _ = try await client.call(
                .post, "/events", #"[{"user": "dora", "item": "item-3"}, {"user": "dora", "item": "item-4"}]"#)
            #expect(try await client.call(.get, "/users/dora/recommendations").status == .ok)
            #expect(try await client.call(.delete, "/users/dora").status == .ok)
            #expect(try await service.store.recentEvents(ofUser: "dora", limit: 10).isEmpty)
            #expect(try await service.store.user("dora") == nil)
            #expect(try await client.call(.get, "/users/dora/recommendations").status == .notFound)
            #expect(try await client.call(.delete, "/users/dora").status == .notFound)
        }
    }

    @Test func sessionsSimilarItemsAndInterests() async throws {
        let (service, data) = try await makeService()
        let per = data.config.itemsPerCategory
        try await Application(router: service.router()).test(.router) { client async throws in
            let items = (0..<3).map { #"{"item": "item-\#(3 * per + $0)"}"# }.joined(separator: ",")
            let session = try await client.call(.post, "/sessions/recommendations", #"{"events": [\#(items)], "n": 5}"#)
            let list = session.object["recommendations"] as? [Any] ?? []
            #expect(session.status == .ok && list.count == 5 && list.filter { category(data, $0) == 3 }.count >= 3)
            let bad = try await client.call(.post, "/sessions/recommendations", #"{"events": [{"item": 7}]}"#)
            #expect(bad.status == .badRequest && bad.error.hasPrefix("events[0].item"))
            for (body, status, prefix) in [
                (
                    #"{"n": 5, "events": [{"item": "item-1"}, [], {"item": "item-2"}]}"#, 400,
                    "events[1]: expected an event object"
                ),
                (
                    #"{"events": [{"item": "item-1", "colour": "red", "brand": 1}]}"#, 400,
                    "events[0].brand: unknown field"
                ),
                (#"{"events": {"item": "item-1"}}"#, 400, "expected {\"events\""),
                (#"{"n": 5}"#, 400, "expected {\"events\""),
                (#"[{"item": "item-1"}]"#, 400, "expected {\"events\""),
                (#"{"events": [{"item": 7}], "n": }"#, 400, "the body is not valid JSON"),
                (#"{"events": [{"item": "item-1"}], "n": 0}"#, 400, "n:"),
                (
                    "{\"events\": [" + Array(repeating: #"{"item": "item-1"}"#, count: 1_001).joined(separator: ",")
                        + "]}", 413,
                    "events: at most 1000 events"
                ),
            ] {
                let reply = try await client.call(.post, "/sessions/recommendations", body)
                #expect(
                    reply.status.code == status && reply.error.hasPrefix(prefix), "\(body.prefix(80)): \(reply.text)")
            }
            // Keys are compared by their text, escapes and all; a repeated member keeps its last value.
            let spelled = try await client.call(
                .post, "/sessions/recommendations", #"{"events": [{"it\u0065m": "item-1"}], "n": 9, "n": 3}"#)
            #expect(
                spelled.status == .ok && (spelled.object["recommendations"] as? [Any])?.count == 3, "\(spelled.text)")
            let similar = try await client.call(.get, "/items/item-\(per + 2)/similar?n=5")
            #expect((similar.object["recommendations"] as? [Any])?.count == 5)
            #expect(try await client.call(.get, "/items/nope/similar").status == .notFound)
            let events =
                (0..<4).map { #"{"user": "ivy", "item": "item-\#($0)", "timestamp": \#($0)}"# }
                + (0..<4).map { #"{"user": "ivy", "item": "item-\#(4 * per + $0)", "timestamp": \#(10 + $0)}"# }
            _ = try await client.call(.post, "/events", "[\(events.joined(separator: ","))]")
            let interests = try await client.call(.get, "/users/ivy/interests?window=4")
            let windows = interests.object["windows"] as? [[String: Any]] ?? []
            #expect(windows.count == 2, "\(interests.text)")
            #expect((windows.first?["shares"] as? [String: Double])?[data.categoryNames[0]] == 1)
            #expect((windows.last?["shares"] as? [String: Double])?[data.categoryNames[4]] == 1)
        }
    }

    @Test func trainingInTheBackgroundSwapsTheNewModelIn() async throws {
        let (service, _) = try await makeService()
        let (data, _) = servingModel
        try await service.store.load(data.dataset)
        try await Application(router: service.router()).test(.router) { client async throws in
            let unknown = try await client.call(.post, "/train", #"{"model": "nope"}"#)
            #expect(unknown.status == .badRequest && unknown.error.hasPrefix("model: unknown model 'nope'"))
            let badOption = try await client.call(
                .post, "/train", #"{"model": "sasrec", "options": {"colour": "red"}}"#)
            #expect(badOption.status == .badRequest && badOption.error.hasPrefix("options.colour"))
            let body =
                #"{"model": "gru4rec", "name": "fresh", "options": {"epochs": "3", "dim": "16", "max-len": "20"}}"#
            let started = try await client.call(.post, "/train", body)
            #expect(started.status == .accepted && started.object["state"] as? String == "queued")
            let id = try #require(started.object["id"] as? Int)
            var state = ""
            for _ in 0..<600 where state != "finished" && state != "failed" {
                try await Task.sleep(for: .milliseconds(100))
                state = try await client.call(.get, "/train/\(id)").object["state"] as? String ?? ""
            }
            let job = try await client.call(.get, "/train/\(id)").object
            #expect(state == "finished", "\(job)")
            #expect(job["epoch"] as? Int == 3 && (job["validNDCG10"] as? Double) != nil)
            let models = try await client.call(.get, "/models").json as? [[String: Any]] ?? []
            #expect(models.contains { $0["name"] as? String == "fresh" && $0["active"] as? Bool == true })
            _ = try await client.call(.post, "/events", #"{"user": "t", "item": "item-3"}"#)
            let reply = try await client.call(.get, "/users/t/recommendations?n=3")
            #expect(
                reply.object["model"] as? String == "fresh" && (reply.object["recommendations"] as? [Any])?.count == 3)
            #expect(try await client.call(.get, "/train/99").status == .notFound)
            let jobs = try await client.call(.get, "/train").json as? [[String: Any]] ?? []
            #expect(jobs.map { $0["id"] as? Int } == [id] && jobs.first?["name"] as? String == "fresh")
        }
    }

    @Test func modelNamesStayBelowTheModelsDirectoryAndCanBeTrainedAgain() async throws {
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            for name in ["../escaped", "/tmp/absolute", "a b", "", ".hidden", String(repeating: "x", count: 65)] {
                let body = #"{"model": "pop", "name": "\#(name)"}"#
                let reply = try await client.call(.post, "/train", body)
                #expect(reply.status == .badRequest && reply.error.hasPrefix("name:"), "\(name): \(reply.error)")
            }
        }
        let (_, model) = servingModel
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-names-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let saving = RecommendationService(store: InMemoryStore(), modelDirectory: root)
        // The same name twice: the second replaces the first (it used to fail, "Directory not empty").
        try await saving.install(model)
        try await saving.install(model)
        let entries = try FileManager.default.contentsOfDirectory(atPath: root.path)
        #expect(entries == [model.name], "\(entries)")
        #expect(throws: ModelName.Invalid.self) { try ModelName.check("../x") }
        #expect(throws: Never.self) { try ModelName.check("sasrec-v2.1_final") }
    }

    @Test func trainedModelsAndTheActiveChoiceSurviveARestart() async throws {
        let (data, model) = servingModel
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swiftrec-registry-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let db = root.appendingPathComponent("store.sqlite").path
        let models = root.appendingPathComponent("models")
        do {
            let service = RecommendationService(store: try SQLiteStore(path: db), modelDirectory: models)
            try await service.store.load(data.dataset)
            try await service.install(model)
            try await Application(router: service.router()).test(.router) { client async throws in
                let body = #"{"model": "pop", "name": "fresh"}"#
                let id = try #require(try await client.call(.post, "/train", body).object["id"] as? Int)
                var state = ""
                for _ in 0..<600 where state != "finished" && state != "failed" {
                    try await Task.sleep(for: .milliseconds(50))
                    state = try await client.call(.get, "/train/\(id)").object["state"] as? String ?? ""
                }
                #expect(state == "finished")
                let conflict = try await client.call(.delete, "/models/fresh")
                #expect(conflict.status == .conflict && conflict.error.contains("active model"))
            }
        }
        #expect(FileManager.default.fileExists(atPath: models.appendingPathComponent("fresh/item_ids.json").path))
        #expect(FileManager.default.fileExists(atPath: models.appendingPathComponent("sasrec/item_ids.json").path))

        // A new process on the same files: both models come back, the trained one still active.
        let restarted = RecommendationService(store: try SQLiteStore(path: db), modelDirectory: models)
        #expect(try await restarted.restoreModels().isEmpty)
        try await Application(router: restarted.router()).test(.router) { client async throws in
            let listed = try await client.call(.get, "/models").json as? [[String: Any]] ?? []
            #expect(listed.map { $0["name"] as? String } == ["fresh", "sasrec"])
            #expect(listed.map { $0["active"] as? Bool } == [true, false])
            #expect(listed.allSatisfy { $0["saved"] as? Bool == true })
            let first = try await client.call(.get, "/users/\(data.dataset.users.ids[0])/recommendations?n=3")
            #expect(first.object["model"] as? String == "fresh")
            #expect(try await client.call(.post, "/models/sasrec/activate").status == .ok)
            #expect(try await client.call(.delete, "/models/nope").status == .notFound)
            #expect(try await client.call(.delete, "/models/fresh").object["deleted"] as? String == "fresh")
        }
        #expect(!FileManager.default.fileExists(atPath: models.appendingPathComponent("fresh").path))

        // The activation and the removal were durable too.
        let third = RecommendationService(store: try SQLiteStore(path: db), modelDirectory: models)
        try await third.restoreModels()
        #expect(third.models.map(\.record.name) == ["sasrec"] && third.active.current?.name == "sasrec")
        // A model whose files are gone is reported, not fatal.
        try FileManager.default.removeItem(at: models.appendingPathComponent("sasrec"))
        let fourth = RecommendationService(store: try SQLiteStore(path: db), modelDirectory: models)
        let failures = try await fourth.restoreModels()
        #expect(failures.map(\.name) == ["sasrec"] && fourth.active.current == nil)
    }

    @Test func aNewItemIsRecommendableAtOnceByAContentAwareModel() async throws {
        let data = servingModel.data
        var config = (servingModel.model.model as! SASRec).config
        config.itemText = ItemTextSettings(representation: "bm25", dimension: 32)
        let model = try SASRec(config: config)
        try model.fit(data.dataset, validation: nil, progress: nil)
        let service = RecommendationService(store: InMemoryStore())
        try await service.store.upsert(items: data.dataset.itemInfo.compactMap { $0 })
        try await service.install(ServableModel(name: "sasrec-content", model: model, items: data.dataset.items))
        try await service.install(servingModel.model)  // plain SASRec: cannot take new items in
        let (liked, other) = (data.categoryNames[2], data.categoryNames[4])
        @Sendable func newItem(_ name: String) -> String {
            #"{"title": "New: \#(name.lowercased()) special", "description": "For people into \#(name.lowercased()).", "categories": ["\#(name)"]}"#
        }
        try await Application(router: service.router()).test(.router) { client async throws in
            let events = (0..<6).map { #"{"user": "fan", "item": "item-\#(2 * 16 + $0)"}"# }
            #expect(try await client.call(.post, "/events", "[\(events.joined(separator: ","))]").status == .ok)
            let put = try await client.call(.put, "/items/fresh-liked", newItem(liked))
            #expect(put.status == .ok && put.object["id"] as? String == "fresh-liked")
            // Says which models took the new item in; plain SASRec cannot and is not a failure.
            #expect(put.object["extendedModels"] as? [String] == ["sasrec-content"], "\(put.object)")
            #expect((put.object["failedModels"] as? [Any])?.isEmpty == true, "\(put.object)")
            #expect(try await client.call(.put, "/items/fresh-other", newItem(other)).status == .ok)
            let models = try await client.call(.get, "/models").json as? [[String: Any]] ?? []
            let sizes = Dictionary(uniqueKeysWithValues: models.map { ($0["name"] as! String, $0["items"] as! Int) })
            #expect(sizes == ["sasrec-content": 82, "sasrec": 80], "\(models)")
            let reply = try await client.call(.get, "/users/fan/recommendations?n=100")
            let ranked = (reply.object["recommendations"] as? [[String: Any]] ?? []).compactMap {
                $0["item"] as? String
            }
            let (a, b) = (ranked.firstIndex(of: "fresh-liked"), ranked.firstIndex(of: "fresh-other"))
            #expect(
                a != nil && b != nil && a! < b!,
                "fresh-liked at \(a ?? -1), fresh-other at \(b ?? -1) of \(ranked.count)")
            // A second PUT of a known item does not grow the catalogue.
            let again = try await client.call(.put, "/items/fresh-liked", newItem(liked))
            #expect(again.object["extendedModels"] as? [String] == [])
            #expect(service.models.first { $0.record.name == "sasrec-content" }?.servable.items.count == 82)
        }
    }

    @Test func anItemWhoseTextChangesIsEmbeddedAgainAndTheChangedModelIsSaved() async throws {
        let data = servingModel.data
        let model = try ContentRecommender()
        try model.fit(data.dataset, validation: nil, progress: nil)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-reembed-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let db = folder.appendingPathComponent("store.sqlite").path, models = folder.appendingPathComponent("models")
        let service = RecommendationService(store: try SQLiteStore(path: db), modelDirectory: models)
        try await service.store.upsert(items: data.dataset.itemInfo.compactMap { $0 })
        try await service.install(ServableModel(name: "content", model: model, items: data.dataset.items))
        let (liked, other) = (data.categoryNames[2], data.categoryNames[4])
        @Sendable func text(_ name: String) -> String {
            #"{"title": "New: \#(name.lowercased()) special", "description": "For people into \#(name.lowercased()).", "categories": ["\#(name)"]}"#
        }
        @Sendable func rank(_ client: some TestClientProtocol) async throws -> Int? {
            let reply = try await client.call(.get, "/users/fan/recommendations?n=100")
            let ranked = (reply.object["recommendations"] as? [[String: Any]] ?? []).compactMap {
                $0["item"] as? String
            }
            return ranked.firstIndex(of: "fresh")
        }
        let (before, after) = try await Application(router: service.router()).test(.router) {
            client async throws in
            let events = (0..<6).map { #"{"user": "fan", "item": "item-\#(2 * 16 + $0)"}"# }
            #expect(try await client.call(.post, "/events", "[\(events.joined(separator: ","))]").status == .ok)
            let put = try await client.call(.put, "/items/fresh", text(other))
            #expect(put.object["extendedModels"] as? [String] == ["content"], "\(put.object)")
            let before = try await rank(client)
            // The same text again changes nothing; new text is embedded again in the model that knew it.
            let same = try await client.call(.put, "/items/fresh", text(other))
            #expect(same.object["extendedModels"] as? [String] == [], "\(same.object)")
            let changed = try await client.call(.put, "/items/fresh", text(liked))
            #expect(changed.object["extendedModels"] as? [String] == ["content"], "\(changed.object)")
            #expect(service.models.first?.servable.items.count == 81)
            return (before, try await rank(client))
        }
        #expect(
            after != nil && (before == nil || after! < before!), "rank \(before ?? -1) before, \(after ?? -1) after")
        // Saved with the item and its new text: a restarted service has both without extending.
        await service.flushPendingSaves()
        let restarted = RecommendationService(store: try SQLiteStore(path: db), modelDirectory: models)
        #expect(try await restarted.restoreModels().isEmpty)
        #expect(restarted.models.first?.servable.items.index(of: "fresh") != nil)
        let again = try await Application(router: restarted.router()).test(.router) { try await rank($0) }
        #expect(again == after)
    }

    @Test func idsWithSpacesSlashesPercentEmojiAndCombiningMarksRoundTripThroughPaths() async throws {
        let (service, data) = try await makeService()
        let item = data.dataset.items.ids[0]
        @Sendable func path(_ id: String) -> String { id.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
        @Sendable func json(_ id: String) -> String { String(decoding: try! JSONEncoder().encode(id), as: UTF8.self) }
        try await Application(router: service.router()).test(.router) { client async throws in
            for user in ["jane doe", "a/b", "100%", "🙂 fan", "cafe\u{301}", "x+y"] {
                let posted = try await client.call(.post, "/events", #"{"user": \#(json(user)), "item": "\#(item)"}"#)
                #expect(posted.status == .ok, "\(user): \(posted.text)")
                let reply = try await client.call(.get, "/users/\(path(user))/recommendations?n=3")
                #expect(reply.status == .ok && reply.object["user"] as? String == user, "\(user): \(reply.text)")
                let interests = try await client.call(.get, "/users/\(path(user))/interests")
                #expect(interests.status == .ok, "\(user): \(interests.text)")
                #expect(try await client.call(.delete, "/users/\(path(user))").status == .ok, "\(user)")
                #expect(try await client.call(.get, "/users/\(path(user))/recommendations").status == .notFound)
            }
            // An id is at most 256 bytes of UTF-8 (64 emoji are 256 bytes, 65 are too many) and
            // has no control characters: a NUL would cut it short in storage.
            let longest = String(repeating: "🙂", count: 64), tooLong = String(repeating: "🙂", count: 65)
            let fine = try await client.call(.post, "/events", #"{"user": "\#(longest)", "item": "\#(item)"}"#)
            #expect(fine.status == .ok, "\(fine.text)")
            let long = try await client.call(.post, "/events", #"{"user": "\#(tooLong)", "item": "\#(item)"}"#)
            // A rejected event is listed by index (422), the message naming the field.
            #expect(long.status.code == 422 && long.text.contains("user: expected 1 to 256 bytes"), "\(long.text)")
            for bad in [#""nul\u0000user""#, #""tab\there""#] {
                let reply = try await client.call(.post, "/events", #"{"user": \#(bad), "item": "\#(item)"}"#)
                #expect(reply.status.code == 422 && reply.text.contains("control character U+"), "\(reply.text)")
            }
            #expect(try await client.call(.put, "/users/nul%00user", #"{"attributes": {}}"#).status == .badRequest)
            #expect(try await client.call(.get, "/users/bad%ZZ/recommendations").status == .badRequest)
            #expect(try await client.call(.put, "/items/\(path(tooLong))", #"{"title": "t"}"#).status == .badRequest)
        }
    }

    @Test func trainingsAreLimitedInNumberAndTimeAndCanBeCancelled() async throws {
        var limits = ServiceLimits()
        (limits.maxPendingTrainings, limits.maxTrainingSeconds) = (1, 60)
        let service = RecommendationService(store: InMemoryStore(), limits: limits)
        let data = servingModel.data
        try await service.store.upsert(items: data.dataset.itemInfo.compactMap { $0 })
        #expect(
            try service.training.bounded("sasrec", ["time-budget": "3600"])["time-budget"] == 60
                && service.training.bounded("sasrec", ["time-budget": 5])["time-budget"] == 5
                && service.training.bounded("sasrec", [:])["time-budget"] == 60
                && service.training.bounded("itemknn", [:])["time-budget"] == nil)
        try await Application(router: service.router()).test(.router) { client async throws in
            let events = (0..<40).map { #"{"user": "u\#($0 % 8)", "item": "item-\#($0)"}"# }
            #expect(try await client.call(.post, "/events", "[\(events.joined(separator: ","))]").status == .ok)
            let body =
                #"{"model": "sasrec", "name": "slow", "options": {"epochs": 10000, "patience": 1000, "dim": 16}}"#
            let first = try await client.call(.post, "/train", body)
            #expect(first.status == .accepted, "\(first.text)")
            let second = try await client.call(.post, "/train", body)
            #expect(second.status == .tooManyRequests && second.error.contains("1 trainings"), "\(second.text)")
            let cancelled = try await client.call(.delete, "/train/1")
            #expect(cancelled.status == .ok, "\(cancelled.text)")
            #expect(
                cancelled.object["state"] as? String == "cancelled"
                    || cancelled.object["cancelRequested"] as? Bool == true)
            var state = ""
            for _ in 0..<600 where state != "cancelled" {
                try await Task.sleep(for: .milliseconds(100))
                state = try await client.call(.get, "/train/1").object["state"] as? String ?? ""
            }
            #expect(state == "cancelled")
            #expect(service.models.isEmpty, "a cancelled training registers nothing")
            #expect(try await client.call(.delete, "/train/1").status == .conflict)
            #expect(try await client.call(.delete, "/train/7").status == .notFound)
            // The queue has room again.
            let again = try await client.call(.post, "/train", #"{"model": "pop"}"#)
            #expect(again.status == .accepted, "\(again.text)")
        }
    }

    @Test func trainingsAboveTheMemoryBudgetAreRefusedBeforeTheyStart() async throws {
        var limits = ServiceLimits()
        limits.maxTrainingBytes = 2e9
        let service = RecommendationService(store: InMemoryStore(), limits: limits)
        try await service.store.upsert(items: servingModel.data.dataset.itemInfo.compactMap { $0 })
        try await Application(router: service.router()).test(.router) { client async throws in
            let events = (0..<40).map { #"{"user": "u\#($0 % 8)", "item": "item-\#($0)"}"# }
            #expect(try await client.call(.post, "/events", "[\(events.joined(separator: ","))]").status == .ok)
            // The tester's SASRec with dim 4096: each block alone is 200M parameters.
            let huge = try await client.call(.post, "/train", #"{"model": "sasrec", "options": {"dim": 4096}}"#)
            #expect(huge.status == .badRequest, "\(huge.text)")
            #expect(huge.error.contains("training memory budget of 2.0 GB"), "\(huge.text)")
            #expect(service.training.all.isEmpty, "a refused training is not queued")
            let small = try await client.call(.post, "/train", #"{"model": "pop"}"#)
            #expect(small.status == .accepted, "\(small.text)")
            let estimate = try #require(small.object["estimatedBytes"] as? Double)
            #expect(estimate > 1e6 && estimate < 2e9)
        }
    }

    @Test func asksForUnknownUsersKeepNoState() async throws {
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            for k in 0..<500 {
                #expect(try await client.call(.get, "/users/ghost-\(k)/recommendations").status == .notFound)
                #expect(try await client.call(.get, "/users/ghost-\(k)/interests").status == .notFound)
                let scenario = try await client.call(.get, "/users/ghost-\(k)/recommendations?scenario=made-up-\(k)")
                #expect(scenario.status == .notFound)
            }
        }
        #expect(await service.live.userCount == 0)
        #expect(await service.live.bytesHeld == 0)
    }

    @Test func aDeletedUserIsGoneFromCountsCachesAndTheStoreFiles() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-forget-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("store.sqlite").path
        let service = RecommendationService(store: try SQLiteStore(path: db))
        let (data, model) = servingModel
        try await service.store.upsert(items: data.dataset.itemInfo.compactMap { $0 })
        try await service.install(model)
        let (user, secret) = ("forget-me-zq7", "secret-attr-x1")
        try await Application(router: service.router()).test(.router) { client async throws in
            func scenarioItems() async throws -> Set<String> {
                let reply = try await client.call(.get, "/users/newbie/recommendations?n=100&scenario=home")
                #expect(reply.object["model"] as? String == "scenario-popularity", "\(reply.text)")
                return Set(
                    (reply.object["recommendations"] as? [[String: Any]] ?? []).compactMap { $0["item"] as? String })
            }
            #expect(
                try await client.call(.put, "/users/\(user)", #"{"attributes": {"note": "\#(secret)"}}"#).status == .ok)
            #expect(try await client.call(.put, "/users/newbie", #"{"attributes": {}}"#).status == .ok)
            let theirs = (0..<4).map { _ in #"{"user": "\#(user)", "item": "item-5", "scenario": "home"}"# }
            let others = (0..<4).map { #"{"user": "other\#($0)", "item": "item-9", "scenario": "home"}"# }
            let events = (theirs + others).joined(separator: ",")
            #expect(try await client.call(.post, "/events", "[\(events)]").status == .ok)
            #expect(try await client.call(.get, "/users/\(user)/recommendations").status == .ok)
            #expect(try await scenarioItems() == ["item-5", "item-9"])
            #expect(try await client.call(.delete, "/users/\(user)").status == .ok)
            #expect(try await scenarioItems() == ["item-9"], "the deleted user's events no longer count")
            #expect(try await client.call(.get, "/users/\(user)/recommendations").status == .notFound)
            #expect(try await client.call(.get, "/users/\(user)/interests").status == .notFound)
        }
        for suffix in ["", "-wal", "-shm"] {
            guard let bytes = FileManager.default.contents(atPath: db + suffix) else { continue }
            for needle in [user, secret] {
                #expect(bytes.range(of: Data(needle.utf8)) == nil, "'\(needle)' is still in store.sqlite\(suffix)")
            }
        }
        // Positive control: the other users' ids are in the files.
        let all = ["", "-wal"].compactMap { FileManager.default.contents(atPath: db + $0) }
        #expect(all.contains { $0.range(of: Data("other0".utf8)) != nil })
    }

    @Test func aStoreCopiedWithItsModelsDirectoryStillLoadsItsModels() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-move-\(UUID())")
        let (first, moved) = (base.appendingPathComponent("a"), base.appendingPathComponent("b"))
        try FileManager.default.createDirectory(at: first, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let service = RecommendationService(
            store: try SQLiteStore(path: first.appendingPathComponent("store.sqlite").path),
            modelDirectory: first.appendingPathComponent("models"))
        try await service.install(servingModel.model)
        #expect(try await service.store.modelRecords().map(\.directory) == ["sasrec"], "recorded relative")
        try FileManager.default.moveItem(at: first, to: moved)
        let restarted = RecommendationService(
            store: try SQLiteStore(path: moved.appendingPathComponent("store.sqlite").path),
            modelDirectory: moved.appendingPathComponent("models"))
        #expect(try await restarted.restoreModels().isEmpty)
        #expect(restarted.active.current?.name == "sasrec")
    }

    @Test func aUserWithoutHistoryGetsPopularityAmongTheirPeers() async throws {
        // Women choose a, men b, everyone c.
        var builder = DatasetBuilder()
        for item in ["a", "b", "c"] { builder.add(Item(id: item)) }
        for u in 0..<40 {
            let gender = u % 2 == 0 ? "f" : "m"
            builder.add(User(id: "p\(u)", attributes: ["gender": gender]))
            builder.add(Event(user: "p\(u)", item: "c", timestamp: Int64(2 * u)))
            builder.add(Event(user: "p\(u)", item: gender == "f" ? "a" : "b", timestamp: Int64(2 * u + 1)))
            if u % 4 == 0 { builder.add(Event(user: "p\(u)", item: "c", timestamp: Int64(2 * u + 1))) }
        }
        let peers = builder.build()
        let byAttributes = try SegmentPopularity()
        try byAttributes.fit(peers, validation: nil, progress: nil)
        let (service, _) = try await makeService()
        try await service.store.upsert(items: ["a", "b", "c"].map { Item(id: $0) })
        try await service.install(ServableModel(name: "peers", model: byAttributes, items: peers.items))
        try await Application(router: service.router()).test(.router) { client async throws in
            func top(_ user: String) async throws -> (model: String, items: [String]) {
                let reply = try await client.call(.get, "/users/\(user)/recommendations?n=2")
                let items = (reply.object["recommendations"] as? [[String: Any]] ?? []).compactMap {
                    $0["item"] as? String
                }
                return (reply.object["model"] as? String ?? "", items)
            }
            _ = try await client.call(.put, "/users/newbie", #"{"attributes": {"gender": "f"}}"#)
            let first = try await top("newbie")
            #expect(first.model == "peers" && first.items == ["c", "a"], "\(first)")
            // Changed attributes count at once.
            _ = try await client.call(.put, "/users/newbie", #"{"attributes": {"gender": "m"}}"#)
            #expect(try await top("newbie").items == ["c", "b"])
            // From the first event on, the active model answers.
            _ = try await client.call(.post, "/events", #"{"user": "newbie", "item": "item-3"}"#)
            #expect(try await top("newbie").model == "sasrec")
        }
    }

    /// Feature values through the API: a value of the wrong type is refused by name; a category
    /// the feature model never saw is read as the field's unknown value (documented), and the
    /// user is still ranked with finite scores.
    @Test func badFeatureValuesAreRefusedByNameOrReadAsUnknown() async throws {
        var builder = DatasetBuilder()
        for item in ["a", "b", "c"] { builder.add(Item(id: item, categories: [item == "a" ? "x" : "y"])) }
        for u in 0..<40 {
            let gender = u % 2 == 0 ? "f" : "m"
            builder.add(User(id: "p\(u)", attributes: ["gender": gender]))
            builder.add(Event(user: "p\(u)", item: gender == "f" ? "a" : "b", timestamp: Int64(2 * u + 1)))
        }
        let peers = builder.build()
        let model = try ModelCatalog.make("fm", options: ["epochs": 5, "labels": "implicit", "dim": 4])
        try model.fit(peers, validation: nil, progress: nil)
        let (service, _) = try await makeService()
        try await service.store.upsert(items: ["a", "b", "c"].map { Item(id: $0) })
        try await service.install(ServableModel(name: "fm", model: model, items: peers.items))
        try await Application(router: service.router()).test(.router) { client async throws in
            for body in [#"{"attributes": {"gender": 31}}"#, #"{"attributes": {"gender": ["f"]}}"#] {
                let reply = try await client.call(.put, "/users/typed", body)
                #expect(reply.status == .badRequest, "\(body)")
                #expect(reply.text.contains("gender"), "the error names the field: \(reply.text)")
            }
            let nan = try await client.call(.put, "/users/typed", #"{"attributes": {"gender": NaN}}"#)
            #expect(nan.status == .badRequest)
            #expect(try await client.call(.put, "/users/stranger", #"{"attributes": {"gender": "zz"}}"#).status == .ok)
            let reply = try await client.call(.get, "/users/stranger/recommendations?n=3")
            #expect(reply.status == .ok)
            let scores = (reply.object["recommendations"] as? [[String: Any]] ?? []).compactMap {
                $0["score"] as? Double
            }
            #expect(scores.count == 3 && scores.allSatisfy(\.isFinite), "\(reply.text)")
        }
    }
}
