import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecTensor
import Synchronization

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Run a benchmark and print its figures.",
        subcommands: [
            GEMMBench.self, TransformerBench.self, InferenceBench.self, InterestSwitchBench.self, EncoderBench.self,
            DiversityBench.self, NewUserBench.self, ScenarioBench.self, QueryBench.self, PairUnitBench.self,
            TopKBench.self,
        ])
}

struct GEMMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm", abstract: "GEMM GFLOP/s per backend, shape and thread count.")

    @Flag(help: "Print one JSON object as the last line.") var json = false
    @Option(help: "Seconds of repeats per measurement (best time counts).") var seconds = 1.0
    @Option(
        help:
            "Shapes as M,K,N separated by ';', each optionally followed by ,NT / ,TN / ,TT: A or B stored transposed, as backward passes read them (default: the shapes recommendation training uses)."
    )
    var shapes = "1024,1024,1024;12800,64,64;12800,64,256;256,64,3416;25600,64,3416"
    @Option(help: "Thread counts, comma-separated.") var threads = "1,2"

    func run() throws {
        let shapeList = try shapes.split(separator: ";").map { s -> (Int, Int, Int, String) in
            let parts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let v = parts.prefix(3).compactMap { Int($0) }
            let layout = parts.count == 4 ? parts[3].uppercased() : "NN"
            guard parts.count == 3 || parts.count == 4, v.count == 3, v.allSatisfy({ $0 > 0 }),
                ["NN", "NT", "TN", "TT"].contains(layout)
            else { throw ValidationError("--shapes: '\(s)' is not M,K,N or M,K,N,NN|NT|TN|TT") }
            return (v[0], v[1], v[2], layout)
        }
        let threadList = try integerList(threads, option: "--threads", in: 1...1_024)
        var rows: [[String: JSONValue]] = []
        var table: [[String]] = []
        Console.log(
            "GEMM benchmark: native kernels \(GEMM.nativeISA), OpenBLAS \(GEMM.openBLASDescription ?? "absent")")
        for (m, k, n, layout) in shapeList {
            var generator = SeededGenerator(seed: 7)
            let transA = layout.first == "T", transB = layout.last == "T"
            let a = Tensor.randomUniform(transA ? [k, m] : [m, k], low: -1, high: 1, generator: &generator)
            let b = Tensor.randomUniform(transB ? [n, k] : [k, n], low: -1, high: 1, generator: &generator)
            var c = Tensor.zeros([m, n])
            for t in threadList {
                for backend in GEMM.availableBackends {
                    let flops = 2.0 * Double(m) * Double(n) * Double(k)
                    let best = c.withUnsafeMutableBufferPointer { cp in
                        a.withUnsafeBufferPointer { ap in
                            b.withUnsafeBufferPointer { bp in
                                bestTime(seconds: seconds) {
                                    GEMM.multiply(
                                        transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!,
                                        lda: transA ? m : k, b: bp.baseAddress!, ldb: transB ? k : n,
                                        c: cp.baseAddress!, ldc: n, backend: backend, threads: t)
                                }
                            }
                        }
                    }
                    let gflops = flops / best / 1e9
                    let selected = GEMM.backend(m: m, n: n, k: k) == backend
                    rows.append([
                        "m": m.json, "k": k.json, "n": n.json, "layout": layout.json, "threads": t.json,
                        "backend": backend.rawValue.json,
                        "gflops": ((gflops * 10).rounded() / 10).json, "auto_selected": selected.json,
                    ])
                    table.append([
                        "\(m)×\(k)×\(n)" + (layout == "NN" ? "" : " \(layout)"), "\(t)",
                        backend.rawValue + (selected ? " *" : ""),
                        String(format: "%.1f", gflops),
                    ])
                }
            }
        }
        Console.log(Console.table(["M×K×N", "threads", "backend", "GF/s"], table))
        Console.log("(* = the backend chosen automatically for this shape)")
        Console.log(
            "command: swiftrec bench gemm --seconds \(seconds) --shapes '\(shapes)' --threads \(threads)\(json ? " --json" : "")"
        )
        if json { try Console.printResults(rows) }
    }
}

/// The integers of a comma-separated option such as `--ks 10,200`, each in `range`, or an error
/// naming `option` and the value that is not.
func integerList(_ text: String, option: String, in range: ClosedRange<Int>) throws -> [Int] {
    try text.split(separator: ",").map { part -> Int in
        guard let value = Int(part.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ValidationError(
                "\(option): '\(part)' is not an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// The best wall time of `body` over repeats lasting about `seconds`.
func bestTime(seconds: Double, _ body: () -> Void) -> Double {
    body()  // warm-up: page-in and packing buffers
    var best = Double.infinity
    let start = ProcessStats.now()
    var runs = 0
    while runs < 3 || ProcessStats.now() - start < seconds {
        let t0 = ProcessStats.now()
        body()
        best = min(best, ProcessStats.now() - t0)
        runs += 1
        if runs > 10_000 { break }
    }
    return best
}

struct TransformerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transformer",
        abstract:
            "Time SASRec's training step (one block, full-catalogue cross-entropy: forward, backward, Adam) on random sequences.",
        discussion: """
            The real SASRec and its training loop: `--batch` random histories of `--length` + 1 items per \
            step, so each step reads `--batch` × `--length` inputs and targets. The first `--warmup` \
            steps are not timed; the median of the rest counts.
            """)

    @Flag(help: "Print one JSON object as the last line.") var json = false
    @Option(help: "Sequences per batch.") var batch = 128
    @Option(help: "Sequence length.") var length = 200
    @Option(help: "Model dimension.") var dim = 64
    @Option(help: "Attention heads.") var heads = 2
    @Option(help: "Catalogue size (items in the softmax).") var items = 3416
    @Option(help: "Untimed warm-up steps.") var warmup = 5
    @Option(help: "Timed steps; the median counts.") var steps = 20
    @Option(help: "Kernel threads.") var threads = 2

    func run() throws {
        guard warmup >= 1, steps >= 1 else {
            throw ValidationError("--warmup and --steps: at least 1 each (the first step also sets the model up)")
        }
        Threading.setThreadCount(threads)
        var builder = DatasetBuilder()
        var data = SeededGenerator(seed: 1)
        for user in 0..<(batch * (warmup + steps)) {
            for position in 0...length {
                builder.add(
                    Event(user: "u\(user)", item: "i\(data.nextInt(below: items))", timestamp: Int64(position)))
            }
        }
        var config = SASRecConfig()
        (config.dim, config.heads, config.blocks, config.maxLength) = (dim, heads, 1, length)
        (config.dropout, config.loss) = (0.2, .ce)
        (config.training.batchSize, config.training.epochs, config.training.learningRate) = (batch, 1, 1e-3)
        let model = try SASRec(config: config)
        // The loop reports each finished step; the time between reports is the step's.
        let clock = Mutex((stepStart: ProcessStats.now(), times: [Double](), loss: Float(0)))
        try model.fit(builder.build(), validation: nil) { update in
            guard case .step(let status) = update else { return }
            let now = ProcessStats.now()
            let seconds = clock.withLock { state in
                let seconds = now - state.stepStart
                if status.step > warmup { state.times.append(seconds) }
                state.loss = Float(status.loss)
                state.stepStart = now
                return seconds
            }
            Console.log(String(format: "step %d: %.3f s, mean loss %.4f", status.step, seconds, status.loss))
        }
        let (times, lastLoss) = clock.withLock { ($0.times, $0.loss) }
        let median = times.sorted()[times.count / 2]
        let rss = ProcessStats.peakRSSMegabytes() ?? -1
        Console.log(
            String(
                format: "SwiftRec: median %.3f s/step over %d steps, peak RSS %.0f MB (threads %d)", median, steps, rss,
                threads))
        Console.log(
            "command: swiftrec bench transformer --batch \(batch) --length \(length) --dim \(dim) --heads \(heads) --items \(items) --warmup \(warmup) --steps \(steps) --threads \(threads)"
        )
        if json {
            try Console.printJSON([
                "results": [
                    [
                        "name": "swiftrec-transformer-step", "impl": "swiftrec", "batch": batch.json,
                        "len": length.json,
                        "d": dim.json,
                        "heads": heads.json, "items": items.json, "threads": threads.json, "step_seconds": median.json,
                        "peak_rss_mb": ((rss * 10).rounded() / 10).json, "loss": lastLoss.json,
                        "gemm_native_isa": GEMM.nativeISA.json,
                    ]
                ]
            ])
        }
    }
}
