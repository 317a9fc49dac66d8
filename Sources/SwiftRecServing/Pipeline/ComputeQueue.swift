import Foundation
import NIOPosix
import SwiftRecTensor
import Synchronization

/// Runs model computations on one thread per core, first in, first out.
///
/// Why: computed on the threads of Swift's global executor, where requests are also decoded,
/// encoded and written, a few requests waited over 100 ms under load while most were answered
/// in 2 ms (`Benchmarks/serve_latency.sh` sessions at 16 connections: p99 109 ms against p50
/// 1.7–3.2 ms; BENCHMARKS.md, "Scores computed in arrival order"). Where they waited is not pinned
/// down (the executor itself started jobs in order in a small probe). On threads of their own,
/// each computation waits only for those submitted before it: p99 14–15 ms with 1.05–1.13× the
/// requests per second. The queue is `NIOThreadPool`'s (a FIFO deque); this type adds the async
/// call, the count of submissions and the kernels' thread count per computation.
public final class ComputeQueue: Sendable {
    /// One for the process: its threads live as long as the process.
    public static let shared = ComputeQueue(threads: ProcessInfo.processInfo.activeProcessorCount)

    /// Computations run at once.
    public let threads: Int
    private let pool: NIOThreadPool
    private let submissions = Atomic<Int>(0)
    private let inFlight = Atomic<Int>(0)

    /// A queue served by `threads` (at least 1) threads, started now. The threads run until
    /// the process ends.
    public init(threads: Int) {
        self.threads = max(1, threads)
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
    }

    /// Computations submitted so far (counted once each is in the queue).
    public var submitted: Int { submissions.load(ordering: .acquiring) }

    /// `body`'s result, computed on one of the queue's threads after every computation submitted
    /// before it has started. Its kernels split their work over the cores when it is the only
    /// computation in flight, and keep to its thread otherwise (the other cores are busy with
    /// the others, and splitting would only add waiting).
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (result: CheckedContinuation<T, Never>) in
            inFlight.wrappingAdd(1, ordering: .relaxed)
            pool.submit { _ in
                // The pool is never shut down, so every item runs (its state is always active).
                let value = self.inFlight.load(ordering: .relaxed) > 1 ? Threading.withThreadCount(1, body) : body()
                self.inFlight.wrappingSubtract(1, ordering: .relaxed)
                result.resume(returning: value)
            }
            submissions.wrappingAdd(1, ordering: .releasing)
        }
    }
}
