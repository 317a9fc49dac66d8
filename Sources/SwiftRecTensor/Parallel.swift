import Dispatch
import Foundation
import Synchronization

/// How many threads SwiftRec's kernels use.
///
/// Defaults to the number of active cores; `SWIFTREC_THREADS` in the environment or
/// ``setThreadCount(_:)`` override it.
public enum Threading {
    private static let configured = Atomic<Int>(0)
    /// A limit set by ``withThreadCount(_:_:)`` for the calls made inside it; 0 = none.
    @TaskLocal private static var scoped = 0

    /// The number of threads kernels split work over.
    public static var threadCount: Int {
        let limit = scoped
        if limit > 0 { return limit }
        let n = configured.load(ordering: .relaxed)
        if n > 0 { return n }
        let fromEnvironment = ProcessInfo.processInfo.environment["SWIFTREC_THREADS"].flatMap { Int($0) }
        let resolved = max(1, fromEnvironment ?? ProcessInfo.processInfo.activeProcessorCount)
        configured.store(resolved, ordering: .relaxed)
        return resolved
    }

    /// Sets the thread count for all later kernel calls (also the BLAS backend's).
    public static func setThreadCount(_ n: Int) {
        precondition(n >= 1, "thread count must be at least 1, got \(n)")
        configured.store(n, ordering: .relaxed)
        OpenBLAS.shared?.setThreads(n)
    }

    /// Runs `body` with kernels called inside it (on this thread or task) using `n` threads,
    /// so independent pieces of work can run side by side, each on one thread.
    public static func withThreadCount<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        precondition(n >= 1, "thread count must be at least 1, got \(n)")
        return try $scoped.withValue(n, operation: body)
    }
}

/// Runs `body` over `0..<count` split into contiguous ranges, one per thread, when the
/// work is large enough (`count * costPerItem` ≥ ~32k operations); otherwise inline.
@inline(__always)
public func parallelRanges(
    _ count: Int, costPerItem: Int = 1, threads: Int = Threading.threadCount,
    _ body: (Range<Int>) -> Void
) {
    let workers = min(threads, count, max(1, count * costPerItem / 32_768))
    if workers <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = count * w / workers
            let hi = count * (w + 1) / workers
            if lo < hi { body(lo..<hi) }
        }
    }
}
