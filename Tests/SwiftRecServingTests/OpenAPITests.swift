import Foundation
import Hummingbird
import SwiftRecData
import Testing

@testable import SwiftRecServing

@Suite("OpenAPI document")
struct OpenAPITests {
    /// "METHOD /path" for every operation under `paths:` in docs/openapi.yaml, read by the
    /// same YAML reader the reply test uses.
    static func documentedOperations() throws -> Set<String> {
        guard case .object(let paths)? = try SchemaChecker.load().resolve("#/paths") else { return [] }
        var operations = Set<String>()
        for (path, item) in paths {
            guard case .object(let methods) = item else { continue }
            for method in methods.keys where ["get", "put", "post", "delete", "patch"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test func theDocumentDescribesExactlyTheRoutes() throws {
        let service = RecommendationService(store: InMemoryStore())
        let served = Set(
            service.router().routes.map { route in
                let path = "\(route.path)".split(separator: "/").map { segment in
                    segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
                }
                return "\(route.method) /\(path.joined(separator: "/"))"
            })
        let documented = try Self.documentedOperations()
        #expect(documented.count >= 15)
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented))")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served))")
    }
}
