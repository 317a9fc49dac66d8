import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SwiftRecData
import SwiftRecServing
import SwiftRecTensor

/// `swiftrec`: the root command; `main.swift` of the executable runs it.
public struct SwiftRecCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "swiftrec",
        abstract: "Train, evaluate and serve dynamic-interest recommenders on the CPU.",
        version: SwiftRecInfo.version,
        subcommands: [
            InfoCommand.self, ImportCommand.self, TrainCommand.self, EvaluateCommand.self, ServeCommand.self,
            BenchCommand.self, DemoCommand.self, RecommendCommand.self,
        ])

    public init() {}

    /// For `swiftrec serve`: makes NIO's event loops (one per core, the ones Hummingbird reads
    /// and writes on) Swift's global executor and has the compute queue run each request's
    /// computations on its loop, so a request never changes threads (``ComputeQueue``). With
    /// `SWIFTREC_COMPUTE=queue` in the environment the server keeps Swift's default executor and
    /// computes on the queue's threads instead. Must run on the main thread before any task
    /// starts: the executable's first statement. Returns whether the loops took over.
    @discardableResult
    public static func prepareExecutor(
        for arguments: [String] = CommandLine.arguments,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        guard arguments.dropFirst().first == ServeCommand.configuration.commandName,
            environment["SWIFTREC_COMPUTE"] != "queue",
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        else { return false }
        ComputeQueue.shared.runsOnCallerThread = true
        return true
    }

    /// Parses `arguments` (the process's when nil) and runs the command, awaiting the ones that
    /// are asynchronous (`import`, `serve`, `demo`); exits with the command's error, as
    /// `main()` does. The executable calls this: from a plain `main.swift`, `main()` resolves to
    /// `ParsableCommand`'s synchronous version, which cannot run asynchronous subcommands.
    public static func dispatch(_ arguments: [String]? = nil) async {
        do {
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Options shared by commands that compute.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for the kernels (default: all cores, or SWIFTREC_THREADS).")
    var threads: Int?

    func apply() throws {
        if let threads {
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
            Threading.setThreadCount(threads)
        }
    }
}

/// Human output goes to stderr so stdout's last line can be one JSON object.
enum Console {
    static func log(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Prints `value` as one line of JSON on stdout, keys sorted.
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Prints a benchmark's rows as `{"results": [...]}`.
    static func printResults(_ rows: [[String: JSONValue]]) throws {
        try printJSON(["results": rows])
    }

    /// A Markdown table.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
        func line(_ cells: [String]) -> String {
            "| "
                + cells.enumerated().map {
                    $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0)
                }
                .joined(separator: " | ") + " |"
        }
        return
            ([line(header), "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"]
            + rows.map(line)).joined(separator: "\n")
    }
}

/// Process facts for benchmarks.
enum ProcessStats {
    /// Peak resident set size in MB (Linux: VmHWM), or nil where unknown.
    static func peakRSSMegabytes() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first
            return kb.map { $0 / 1024 }
        }
        return nil
    }

    static func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}
