import CSwiftRecKernels
import Foundation
import Synchronization

#if canImport(Accelerate)
    import Accelerate
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Where a matrix product runs.
public enum GEMMBackend: String, Sendable, CaseIterable, Codable {
    /// SwiftRec's own packed kernels (AVX2/FMA, NEON or portable C), threaded from Swift.
    case native
    /// OpenBLAS, found at run time with `dlopen` (Linux).
    case openBLAS = "openblas"
    /// Apple's Accelerate framework.
    case accelerate
}

/// OpenBLAS loaded at run time, so SwiftRec builds and runs without it installed.
final class OpenBLAS: @unchecked Sendable {
    typealias Sgemm =
        @convention(c) (
            Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
            UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
        ) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetConfig = @convention(c) () -> UnsafePointer<CChar>?

    let sgemm: Sgemm
    let setNumThreads: SetThreads?
    let library: String
    let config: String
    /// The core type OpenBLAS was told to use, or nil when it detected the CPU itself.
    var coreType: String? { ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] }
    private let lastThreads = Atomic<Int>(0)

    private init(sgemm: Sgemm, setNumThreads: SetThreads?, library: String, config: String) {
        self.sgemm = sgemm
        self.setNumThreads = setNumThreads
        self.library = library
        self.config = config
    }

    static let shared: OpenBLAS? = load()

    private static func load() -> OpenBLAS? {
        #if os(Linux)
            if ProcessInfo.processInfo.environment["SWIFTREC_NO_BLAS"] != nil { return nil }
            // OpenBLAS falls back to its slowest (Prescott) kernels on CPUs newer than its
            // release; naming the instruction-set family keeps it on its fast kernels.
            if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, let core = CPUFeatures.openBLASCoreType
            {
                setenv("OPENBLAS_CORETYPE", core, 0)
            }
            for name in ["libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0"] {
                guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
                guard let symbol = dlsym(handle, "cblas_sgemm") else {
                    dlclose(handle)
                    continue
                }
                let setThreads = dlsym(handle, "openblas_set_num_threads").map {
                    unsafeBitCast($0, to: SetThreads.self)
                }
                let getConfig = dlsym(handle, "openblas_get_config").map { unsafeBitCast($0, to: GetConfig.self) }
                let config = getConfig.flatMap { $0() }.map { String(cString: $0) } ?? "unknown"
                let blas = OpenBLAS(
                    sgemm: unsafeBitCast(symbol, to: Sgemm.self), setNumThreads: setThreads, library: name,
                    config: config)
                blas.setThreads(Threading.threadCount)
                return blas
            }
        #endif
        return nil
    }

    func setThreads(_ n: Int) {
        if lastThreads.exchange(n, ordering: .relaxed) != n { setNumThreads?(Int32(n)) }
    }
}

/// Single-precision matrix products on the fastest backend present.
public enum GEMM {
    /// The backends this process can use, best first.
    public static var availableBackends: [GEMMBackend] {
        var list: [GEMMBackend] = [.native]
        #if canImport(Accelerate)
            list.insert(.accelerate, at: 0)
        #endif
        if OpenBLAS.shared != nil { list.insert(.openBLAS, at: 0) }
        return list
    }

    /// A backend forced with `SWIFTREC_GEMM=native|openblas|accelerate`, if any.
    public static let forcedBackend: GEMMBackend? = {
        guard let name = ProcessInfo.processInfo.environment["SWIFTREC_GEMM"] else { return nil }
        guard let backend = GEMMBackend(rawValue: name.lowercased()), availableBackends.contains(backend) else {
            FileHandle.standardError.write(
                Data("swiftrec: SWIFTREC_GEMM=\(name) is not available here; choosing automatically\n".utf8))
            return nil
        }
        return backend
    }()

    /// The instruction set the native kernels use on this CPU.
    public static var nativeISA: String { String(cString: sr_kernel_isa()) }

    /// A description of the OpenBLAS found at run time, if any.
    public static var openBLASDescription: String? {
        OpenBLAS.shared.map { "\($0.library) (\($0.config))" }
    }

    /// Whether the native kernels have a SIMD path on this CPU (AVX-512, AVX2+FMA or NEON).
    public static let nativeKernelsAreVectorized = nativeISA != "generic"

    /// The backend ``multiply`` uses for an (m×k)·(k×n) product.
    ///
    /// Measured on the shapes training uses (`swiftrec bench gemm`, BENCHMARKS.md), the
    /// vectorised native kernels match or beat OpenBLAS, and OpenBLAS's spinning threads slow
    /// down the native threads that run between its calls; so OpenBLAS takes over only when the
    /// native kernels have no SIMD path. Apple platforms use Accelerate.
    public static func backend(m: Int, n: Int, k: Int) -> GEMMBackend {
        if let forced = forcedBackend { return forced }
        #if canImport(Accelerate)
            return .accelerate
        #else
            if !nativeKernelsAreVectorized, OpenBLAS.shared != nil { return .openBLAS }
            return .native
        #endif
    }

    /// C = alpha·op(A)·op(B) + beta·C on row-major buffers.
    ///
    /// `op(A)` is m×k (A is k×m when `transA`), `op(B)` is k×n. With `beta == 0` the old
    /// contents of C are ignored.
    public static func multiply(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
        backend: GEMMBackend? = nil, threads: Int = Threading.threadCount
    ) {
        if m == 0 || n == 0 { return }
        let chosen = backend ?? self.backend(m: m, n: n, k: k)
        switch chosen {
        case .openBLAS:
            if let blas = OpenBLAS.shared {
                blas.setThreads(threads)
                blas.sgemm(
                    101, transA ? 112 : 111, transB ? 112 : 111, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b,
                    Int32(ldb), beta, c, Int32(ldc))
                return
            }
        case .accelerate:
            #if canImport(Accelerate)
                cblas_sgemm(
                    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m),
                    Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
                return
            #else
                break
            #endif
        case .native:
            break
        }
        nativeMultiply(
            transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
            c: c, ldc: ldc, threads: threads)
    }

    /// The native kernels, split over `threads` by rows of C (or columns when C is short).
    static func nativeMultiply(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
    ) {
        let ta: Int32 = transA ? 1 : 0
        let tb: Int32 = transB ? 1 : 0
        let work = m * n * max(k, 1)
        // Products with a handful of rows (scoring a few users) run faster on one thread, unless
        // B is long and read in place (the weight gradient of a one-output layer: 1 x 256 from a
        // batch of 2,048), where each thread takes its own columns.
        let fewRowsSplit = m <= 4 && !transB && work >= 1 << 19
        let workers = m <= 4 && !fewRowsSplit ? 1 : min(threads, max(1, work / 65_536))
        if workers <= 1 {
            sr_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        nonisolated(unsafe) let a = a, b = b, c = c
        // Split the longer side of C; rows in multiples of 12 and columns of 32 keep the
        // kernels' register tiles whole.
        let splitRows = m >= n || m >= 12 * workers * 8
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            if splitRows {
                let lo = (m * w / workers) / 12 * 12
                let hi = w == workers - 1 ? m : (m * (w + 1) / workers) / 12 * 12
                guard lo < hi else { return }
                let aw = transA ? a + lo : a + lo * lda
                sr_sgemm(ta, tb, hi - lo, n, k, alpha, aw, lda, b, ldb, beta, c + lo * ldc, ldc)
            } else {
                let lo = (n * w / workers) / 32 * 32
                let hi = w == workers - 1 ? n : (n * (w + 1) / workers) / 32 * 32
                guard lo < hi else { return }
                let bw = transB ? b + lo * ldb : b + lo
                sr_sgemm(ta, tb, m, hi - lo, k, alpha, a, lda, bw, ldb, beta, c + lo, ldc)
            }
        }
    }

    /// `batch` independent products with fixed strides between consecutive matrices.
    public static func multiplyBatched(
        batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, strideA: Int, b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int,
        threads: Int = Threading.threadCount
    ) {
        if batch == 1 || batch < threads {
            for i in 0..<batch {
                multiply(
                    transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a + i * strideA, lda: lda,
                    b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc, threads: threads)
            }
            return
        }
        nonisolated(unsafe) let a = a, b = b, c = c
        let ta: Int32 = transA ? 1 : 0
        let tb: Int32 = transB ? 1 : 0
        parallelRanges(batch, costPerItem: m * n * max(k, 1), threads: threads) { range in
            for i in range {
                sr_sgemm(ta, tb, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC, ldc)
            }
        }
    }
}

extension Tensor {
    /// The matrix product of two rank-2 tensors, optionally transposing either.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul: expects two matrices, got shapes \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(
            k == kb,
            "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
        var out = Tensor(uninitializedShape: [m, n])
        GEMM.multiply(
            transA: transposeA, transB: transposeB, m: m, n: n, k: k, a: a.storage.pointer, lda: a.shape[1],
            b: b.storage.pointer, ldb: b.shape[1], c: out.mutablePointer(), ldc: n)
        return out
    }

    /// Batched matrix product of [batch, m, k] and [batch, k, n] tensors (with optional transposes).
    public static func batchedMatmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) -> Tensor {
        precondition(
            a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0],
            "batchedMatmul: expects [batch, m, k] and [batch, k, n], got \(a.shape) and \(b.shape)")
        let batch = a.shape[0]
        let m = transposeA ? a.shape[2] : a.shape[1]
        let k = transposeA ? a.shape[1] : a.shape[2]
        let kb = transposeB ? b.shape[2] : b.shape[1]
        let n = transposeB ? b.shape[1] : b.shape[2]
        precondition(k == kb, "batchedMatmul: inner dimensions differ: \(a.shape) × \(b.shape)")
        var out = Tensor(uninitializedShape: [batch, m, n])
        GEMM.multiplyBatched(
            batch: batch, transA: transposeA, transB: transposeB, m: m, n: n, k: k, a: a.storage.pointer,
            lda: a.shape[2], strideA: a.shape[1] * a.shape[2], b: b.storage.pointer, ldb: b.shape[2],
            strideB: b.shape[1] * b.shape[2], c: out.mutablePointer(), ldc: n, strideC: m * n)
        return out
    }
}

/// SIMD features of the CPU, read once (Linux: /proc/cpuinfo).
public enum CPUFeatures {
    /// Feature flags of interest that the CPU reports.
    public static let flags: [String] = {
        #if os(Linux)
            guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
                let line = info.split(separator: "\n").first(where: {
                    $0.hasPrefix("flags") || $0.hasPrefix("Features")
                })
            else { return [] }
            let all = Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
            let interesting = [
                "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "asimd", "sve",
            ]
            return interesting.filter { all.contains($0) }
        #else
            return []
        #endif
    }()

    /// The OpenBLAS kernel family matching these features (x86-64 only).
    static var openBLASCoreType: String? {
        let f = Set(flags)
        if f.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512_bf16"]) { return "Cooperlake" }
        if f.isSuperset(of: ["avx512f", "avx512bw", "avx512vl"]) { return "SkylakeX" }
        if f.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }
}
