import ArgumentParser
import Foundation
import SwiftRecModels
import SwiftRecTensor

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the version, GEMM backends, threads and CPU features.")

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
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
