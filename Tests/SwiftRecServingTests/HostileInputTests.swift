import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwiftRecData
import SwiftRecModels
import Testing

@testable import SwiftRecServing

/// The hardening review's findings, each as a regression case, and the hostile inputs it found
/// already handled: each gets its 4xx naming what is wrong, and the server keeps answering.
/// (Keys, deletion, percent-encoded ids, misses and the document have their own tests in
/// `HTTPAPITests` and `OpenAPIReplyTests`; slow clients are measured by `Benchmarks/slowloris.py`.)
@Suite("Hostile input")
struct HostileInputTests {
    /// Sends raw bytes as the body.
    func send(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, bytes: [UInt8])
        async throws -> Reply
    {
        try await client.execute(
            uri: uri, method: method, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: bytes)
        ) { Reply(status: $0.status, text: String(buffer: $0.body)) }
    }

    @Test func trainingOptionsThatCrashedOrRanForeverAreRefusedByName() async throws {
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            let cases: [(String, String)] = [
                (#"{"model": "itemknn", "options": {"neighbors": "9223372036854775807"}}"#, "options.neighbors"),
                (#"{"model": "itemknn", "options": {"neighbors": 1000000000}}"#, "options.neighbors"),
                (#"{"model": "bpr", "options": {"factors": 100000000}}"#, "options.factors"),
                (#"{"model": "sasrec", "options": {"dim": 1000000}}"#, "options.dim"),
                (#"{"model": "sasrec", "options": {"epochs": 1e9, "patience": 1e9}}"#, "options.epochs"),
                (#"{"model": "sasrec", "options": {"lr": "NaN"}}"#, "options.lr"),
                (
                    #"{"model": "blend", "options": {"members": "pop,pop,pop,pop,pop,pop,pop,pop,pop"}}"#,
                    "options.members"
                ),
            ]
            for (body, field) in cases {
                let reply = try await client.call(.post, "/train", body)
                #expect(reply.status == .badRequest && reply.error.hasPrefix(field), "\(body): \(reply.text)")
                #expect(reply.error.contains("range"), "the error states the range: \(reply.text)")
            }
            #expect(service.training.all.isEmpty, "nothing refused was queued")
        }
    }

    @Test func modelNamesThatEscapedOrForgedMetricsAreRefused() async throws {
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            for name in [
                "../escaped", "/tmp/absolute", "a/b", ".hidden", #"x\"} 1\nforged 2"#, "",
                String(repeating: "n", count: 65),
            ] {
                let reply = try await client.call(.post, "/train", #"{"model": "pop", "name": "\#(name)"}"#)
                #expect(reply.status == .badRequest && reply.error.hasPrefix("name:"), "\(name): \(reply.text)")
            }
            let metrics = try await client.call(.get, "/metrics")
            #expect(!metrics.text.contains("forged"))
        }
    }

    @Test func idsThatMergedOrGrewWithoutBoundAreRefused() async throws {
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            let megabyte = String(repeating: "é", count: 500_000)  // 500k graphemes, 1 MB of UTF-8
            let cases = [
                #"{"user": "\#(megabyte)", "item": "item-1"}"#, #"{"user": "nul\u0000user", "item": "item-1"}"#,
                #"{"user": "tab\tuser", "item": "item-1"}"#, #"{"user": "", "item": "item-1"}"#,
                #"{"user": "u", "item": "item-1", "scenario": "line\nbreak"}"#,
            ]
            for body in cases {
                let reply = try await client.call(.post, "/events", body)
                #expect(reply.status == .unprocessableContent, "\(body.prefix(60)): \(reply.text.prefix(200))")
                #expect((reply.object["accepted"] as? Int) == 0)
            }
            #expect(try await service.store.eventCount() == 0)
            #expect(try await client.call(.get, "/users/nul%00user/recommendations").status == .badRequest)
        }
    }

    @Test func malformedBodiesAndParametersGetTheir4xxAndTheServerStaysUp() async throws {
        let (service, _) = try await makeService()
        try await Application(router: service.router()).test(.router) { client async throws in
            let bodies: [(String, [UInt8], HTTPResponse.Status)] = [
                ("truncated JSON", Array(#"{"user": "u", "item":"#.utf8), .badRequest),
                ("not UTF-8", [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], .badRequest),
                ("NaN", Array(#"{"user": "u", "item": "item-1", "value": NaN}"#.utf8), .badRequest),
                ("an overflowing number", Array(#"{"user": "u", "item": "item-1", "value": 1e999}"#.utf8), .badRequest),
                ("a million levels of nesting", Array(repeating: UInt8(ascii: "["), count: 1_000_000), .badRequest),
                ("5 MiB", Array(repeating: UInt8(ascii: " "), count: 5 << 20), .contentTooLarge),
                ("an empty batch", Array("[]".utf8), .badRequest),
                ("a number", Array("42".utf8), .badRequest),
                (
                    "1,001 events",
                    Array(
                        ("[" + Array(repeating: #"{"user":"u","item":"item-1"}"#, count: 1_001).joined(separator: ",")
                            + "]").utf8), .contentTooLarge
                ),
            ]
            for (what, bytes, status) in bodies {
                let reply = try await send(client, .post, "/events", bytes: bytes)
                #expect(reply.status == status, "\(what): \(reply.text.prefix(200))")
                #expect(!reply.error.isEmpty, "\(what): the reply names the problem")
            }
            for (what, bytes) in [
                ("deep nesting", Array(repeating: UInt8(ascii: "["), count: 1_000_000)), ("not UTF-8", [0xFF, 0xFE]),
            ] {
                let reply = try await send(client, .post, "/sessions/recommendations", bytes: bytes)
                #expect(reply.status == .badRequest, "session, \(what): \(reply.text.prefix(200))")
            }
            let parameters = [
                "n=0", "n=101", "n=abc", "n=1e3", "diversity=2", "diversity=-0.1", "diversity=nan", "explore=-1",
                "explore=2", "category_cap=0", "exclude_seen=maybe", "explain=loudly", "diversify_by=colour",
            ]
            _ = try await client.call(.post, "/events", #"{"user": "hostile", "item": "item-1"}"#)
            for query in parameters {
                let reply = try await client.call(.get, "/users/hostile/recommendations?\(query)")
                #expect(reply.status == .badRequest && !reply.error.isEmpty, "\(query): \(reply.text)")
            }
            #expect(try await client.call(.get, "/health").status == .ok, "still serving")
            #expect(try await client.call(.get, "/users/hostile/recommendations?n=3").status == .ok)
        }
    }
}
