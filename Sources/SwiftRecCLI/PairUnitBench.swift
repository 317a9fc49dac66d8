import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecTensor

/// DIN's activation unit over every (candidate, history item) pair of one request (``PairMLP``),
/// float against int8 products, for the embedding dimensions given: the figures behind
/// ``DINNetwork/int8PairProductsFromDimension``.
struct PairUnitBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pair-unit",
        abstract: "DIN's activation unit over every (candidate, history item) pair: float against int8 products.")

    @Flag(help: "Print one JSON object as the last line.") var json = false
    @Option(help: "Embedding dimensions, comma-separated.") var dims = "16,32,64"
    @Option(help: "Candidates per request.") var candidates = 200
    @Option(help: "History items per request.") var history = 50
    @Option(help: "Hidden widths of the unit, comma-separated (PReLU between, one output).") var layers = "36"
    @Option(help: "Seconds of repeats per measurement (best time counts).") var seconds = 1.0

    func run() throws {
        let dimList = try integerList(dims, option: "--dims", in: 1...1_024)
        let widths = try integerList(layers, option: "--layers", in: 1...4_096)
        guard !widths.isEmpty, (1...100_000).contains(candidates), (1...10_000).contains(history) else {
            throw ValidationError("--layers needs a width; --candidates 1...100000, --history 1...10000")
        }
        var rows: [[String: JSONValue]] = [], table: [[String]] = []
        for dim in dimList {
            var g = SeededGenerator(seed: 11)
            let h = Tensor.randomNormal([history, dim], std: 0.3, generator: &g)
            let c = Tensor.randomNormal([candidates, dim], std: 0.3, generator: &g)
            let hp = Tensor.randomNormal([history, widths[0]], generator: &g)
            let cp = Tensor.randomNormal([candidates, widths[0]], generator: &g)
            let block = Tensor.randomNormal([widths[0], 4 * dim], std: 0.3, generator: &g)
            let sizes = widths + [1]
            let next = zip(sizes, sizes.dropFirst()).map { Linear($0, $1, generator: &g) }
            let slopes = widths.map { Tensor(shape: [$0], scalars: Array(repeating: 0.25, count: $0)) }
            func outputs(_ precision: ScoringPrecision) -> Tensor {
                PairMLP.outputs(
                    history: h, candidates: c, historyPart: hp, candidatePart: cp, productBlock: block,
                    productColumn: 3 * dim, layers: next, slopes: slopes, precision: precision)
            }
            let float = bestTime(seconds: seconds) { _ = outputs(.float) }
            let int8 = bestTime(seconds: seconds) { _ = outputs(.int8) }
            let difference = zip(outputs(.float).scalars, outputs(.int8).scalars).map { abs($0 - $1) }.max() ?? 0
            rows.append([
                "dim": dim.json, "candidates": candidates.json, "history": history.json, "layers": layers.json,
                "float_us": (float * 1e6).rounded().json, "int8_us": (int8 * 1e6).rounded().json,
                "int8_path": QuantizedKernelPath.current.description.json,
                "largest_difference": Double(difference).json,
            ])
            table.append([
                "\(dim)", String(format: "%.0f", float * 1e6), String(format: "%.0f", int8 * 1e6),
                String(format: "%.2f×", float / int8), String(format: "%.4f", difference),
            ])
        }
        Console.log(
            "pair unit: \(candidates) candidates × \(history) history items, layers [\(layers)] + 1, one thread, "
                + "int8 path \(QuantizedKernelPath.current)")
        Console.log(Console.table(["dim", "float µs", "int8 µs", "speed-up", "largest |Δ|"], table))
        Console.log(
            "command: swiftrec bench pair-unit --dims \(dims) --candidates \(candidates) --history \(history) "
                + "--layers \(layers) --seconds \(seconds)\(json ? " --json" : "")")
        if json { try Console.printResults(rows) }
    }
}
