import Foundation
import Testing

@testable import SwiftRecData

/// Writes `text` to a temporary file and returns its URL.
func temporaryFile(_ name: String, _ text: String) throws -> URL {
    let dir = fixtureRoot.appendingPathComponent("swiftrec-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url
}

@Suite("Sequence format importer")
struct SequenceImporterTests {
    @Test func keepsGoodLinesAndNamesBadOnes() throws {
        let url = try temporaryFile("seq.txt", "1 2 3\n4 x 5\n\n2 3\r\n7 8 9 1")
        let (dataset, report) = try SequenceImporter.read(url: url)
        #expect(report.linesRead == 5)
        #expect(report.recordsKept == 9)
        #expect(report.rejected == ["item id is not a non-negative integer": 1, "blank line": 1])
        #expect(
            report.problems.first
                == .init(file: "seq.txt", line: 2, reason: "item id is not a non-negative integer: token 2 is 'x'"))
        #expect(dataset.userCount == 3 && dataset.users.ids == ["1", "4", "5"])
        #expect(dataset.sequences.items(of: 2).map { dataset.items.id(at: $0) } == ["7", "8", "9", "1"])
        #expect(dataset.sequences.items(of: 1).map { dataset.items.id(at: $0) } == ["2", "3"])
    }

    @Test func missingFileIsAClearError() {
        #expect(throws: ImportError.self) { try SequenceImporter.read(url: URL(fileURLWithPath: "/nonexistent/x.txt")) }
    }

    @Test func lineReaderHandlesChunkBoundaries() throws {
        let lines = (0..<500).map { "line \($0) " + String(repeating: "y", count: $0 % 37) }
        let url = try temporaryFile("lines.txt", lines.joined(separator: "\n") + "\n")
        let read = LineReader(url: url, chunkSize: 7).map { String(decoding: $0, as: UTF8.self) }
        #expect(read == lines)
    }

    @Test func sequencesAreTimeOrderedAndStable() {
        var builder = DatasetBuilder()
        builder.add(Event(user: "u", item: "b", timestamp: 5))
        builder.add(Event(user: "v", item: "a", timestamp: 1))
        builder.add(Event(user: "u", item: "a", timestamp: 1))
        builder.add(Event(user: "u", item: "c", timestamp: 5))
        let d = builder.build()
        #expect(d.sequences.items(of: 0).map { d.items.id(at: $0) } == ["a", "b", "c"])
        #expect(d.sequences.timestamps(of: 0) == [1, 5, 5])
        #expect(d.items.fingerprint != IDMap(["a", "b"]).fingerprint)
    }
}
