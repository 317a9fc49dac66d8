import ArgumentParser
import Foundation
import SwiftRecData

/// `TopK.select` on random scores with some items excluded, as the cascade's retrieval (200 of
/// the catalogue) and a served list (10) call it: the figures behind its sampled threshold.
struct TopKBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top-k", abstract: "Top-k selection over a catalogue's scores, with excluded items.")

    @Flag(help: "Print one JSON object as the last line.") var json = false
    @Option(help: "Items scored (the catalogue).") var items = 3_883
    @Option(help: "Items excluded (the user's history).") var excluded = 200
    @Option(help: "List lengths, comma-separated.") var ks = "10,200"
    @Option(help: "Seconds of repeats per measurement (best time counts).") var seconds = 1.0

    func run() throws {
        guard (1...10_000_000).contains(items), (0..<items).contains(excluded) else {
            throw ValidationError("--items 1...10000000; --excluded 0 up to --items − 1")
        }
        let lengths = try integerList(ks, option: "--ks", in: 1...items)
        var generator = SplitMix64(seed: 3)
        let scores = (0..<items).map { _ in Float(generator.next() % 1_000_000) / 1_000 - 500 }
        var flags = [Bool](repeating: false, count: items)
        for i in (0..<items).shuffled(using: &generator).prefix(excluded) { flags[i] = true }
        var rows: [[String: JSONValue]] = [], table: [[String]] = []
        for k in lengths {
            let best = scores.withUnsafeBufferPointer { s in
                flags.withUnsafeBufferPointer { e in
                    bestTime(seconds: seconds) { _ = TopK.select(k, from: s, excluded: e) }
                }
            }
            rows.append([
                "items": items.json, "excluded": excluded.json, "k": k.json, "us": ((best * 1e7).rounded() / 10).json,
            ])
            table.append(["\(k)", String(format: "%.2f", best * 1e6)])
        }
        Console.log("top-k of \(items) random scores, \(excluded) excluded, one thread")
        Console.log(Console.table(["k", "µs"], table))
        Console.log(
            "command: swiftrec bench top-k --items \(items) --excluded \(excluded) --ks \(ks) --seconds \(seconds)"
                + (json ? " --json" : ""))
        if json { try Console.printResults(rows) }
    }
}
