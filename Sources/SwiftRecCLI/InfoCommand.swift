import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecTensor

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the version, GEMM backends, threads and CPU features, and the models' options.")

    @Flag(help: "Print one JSON object.")
    var json = false
    @Option(help: "Show this model's options: key, range, default and meaning.") var model: String?

    func run() throws {
        if let model {
            let entry: ModelEntry
            do { entry = try ModelCatalog.require(model) } catch { throw ValidationError("--model: \(error)") }
            print("\(entry.name): \(entry.summary)")
            print(
                Console.table(
                    ["option", "range", "default", "meaning"],
                    entry.options.map { [$0.key, $0.range, $0.defaultValue?.description ?? "none", $0.help] }))
            if ModelCatalog.acceptedKeys(model).count > entry.options.count {
                print("It also passes its members' options on to each member that has them.")
            }
            return
        }
        let features = CPUFeatures.flags
        let facts = Facts(
            version: SwiftRecInfo.version, gemmBackends: GEMM.availableBackends.map(\.rawValue),
            gemmDefaultLarge: GEMM.backend(m: 1024, n: 1024, k: 1024).rawValue, nativeKernels: GEMM.nativeISA,
            openblas: GEMM.openBLASDescription ?? "not found (install libopenblas0 or libopenblas-dev to use it)",
            threads: Threading.threadCount, cores: ProcessInfo.processInfo.activeProcessorCount,
            cpuFeatures: features, models: ModelCatalog.names,
            modelOptions: Dictionary(
                uniqueKeysWithValues: ModelCatalog.entries.map { entry in
                    (
                        entry.name,
                        entry.options.map {
                            Facts.Option(key: $0.key, range: $0.range, help: $0.help, default: $0.defaultValue ?? .null)
                        }
                    )
                }))
        if json {
            try Console.printJSON(facts)
            return
        }
        print("SwiftRec \(SwiftRecInfo.version)")
        print(
            "GEMM backends:  \(GEMM.availableBackends.map(\.rawValue).joined(separator: ", ")) (large products use \(facts.gemmDefaultLarge))"
        )
        print("Native kernels: \(GEMM.nativeISA)")
        print("OpenBLAS:       \(facts.openblas)")
        print("Threads:        \(Threading.threadCount) of \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("CPU features:   \(features.isEmpty ? "unknown" : features.joined(separator: " "))")
        print("Models:         \(ModelCatalog.names.joined(separator: ", "))")
    }

    /// What `swiftrec info --json` prints.
    struct Facts: Encodable {
        struct Option: Encodable {
            var key: String
            var range: String
            var help: String
            var `default`: JSONValue
        }
        var version: String
        var gemmBackends: [String]
        var gemmDefaultLarge: String
        var nativeKernels: String
        var openblas: String
        var threads: Int
        var cores: Int
        var cpuFeatures: [String]
        var models: [String]
        var modelOptions: [String: [Option]]

        enum CodingKeys: String, CodingKey {
            case version, openblas, threads, cores, models
            case gemmBackends = "gemm_backends"
            case gemmDefaultLarge = "gemm_default_large"
            case nativeKernels = "native_kernels"
            case cpuFeatures = "cpu_features"
            case modelOptions = "model_options"
        }
    }
}
