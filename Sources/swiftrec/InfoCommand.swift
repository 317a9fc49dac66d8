import ArgumentParser
import Foundation
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
        let facts: [String: Any] = [
            "version": SwiftRecInfo.version,
            "gemm_backends": GEMM.availableBackends.map(\.rawValue),
            "gemm_default_large": GEMM.backend(m: 1024, n: 1024, k: 1024).rawValue,
            "native_kernels": GEMM.nativeISA,
            "openblas": GEMM.openBLASDescription ?? "not found (install libopenblas0 or libopenblas-dev to use it)",
            "threads": Threading.threadCount,
            "cores": ProcessInfo.processInfo.activeProcessorCount,
            "cpu_features": features,
            "models": ModelCatalog.names,
            "model_options": Dictionary(
                uniqueKeysWithValues: ModelCatalog.entries.map { entry in
                    (
                        entry.name,
                        entry.options.map { option -> [String: Any] in
                            [
                                "key": option.key, "range": option.range, "help": option.help,
                                "default": option.defaultValue?.foundationValue ?? NSNull(),
                            ]
                        }
                    )
                }),
        ]
        if json {
            try Console.printJSON(facts)
            return
        }
        print("SwiftRec \(SwiftRecInfo.version)")
        print(
            "GEMM backends:  \(GEMM.availableBackends.map(\.rawValue).joined(separator: ", ")) (large products use \(facts["gemm_default_large"]!))"
        )
        print("Native kernels: \(GEMM.nativeISA)")
        print("OpenBLAS:       \(facts["openblas"]!)")
        print("Threads:        \(Threading.threadCount) of \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("CPU features:   \(features.isEmpty ? "unknown" : features.joined(separator: " "))")
        print("Models:         \(ModelCatalog.names.joined(separator: ", "))")
    }
}
