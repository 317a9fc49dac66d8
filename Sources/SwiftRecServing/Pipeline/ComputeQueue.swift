import Foundation
import NIOPosix
import SwiftRecTensor
import Synchronization

/// Runs model computations: on one thread per core, first in, first out, or, in `swiftrec
/// serve`, on the thread that asks (an event loop; ``runsOnCallerThread``).
///
/// Why a queue: computed on the threads of Swift's default global executor, where requests are
/// also decoded, encoded and written, a few requests waited over 100 ms under load while most
/// were answered in 2 ms (`Benchmarks/serve_latency.sh` sessions at 16 connections: p99 109 ms
/// against p50 1.7–3.2 ms; BENCHMARKS.md, "Scores computed in arrival order"). On threads of
/// their own, each computation waits only for those submitted before it: p99 14–15 ms with
/// 1.05–1.13× the requests per second. The queue is `NIOThreadPool`'s (a FIFO deque); this type
/// adds the async call, the count of submissions and the kernels' thread count per computation.
///
/// Why the caller's thread in `serve`: there NIO's event loops (one per core) are Swift's
/// global executor (`SwiftRecCommand.prepareExecutor(for:)`), and a connection's requests run on
/// its loop, so a request read, scored and answered on that one thread crosses no thread at
/// all (cascade sessions on 2 cores, 12 alternated pairs of runs at each load: a median 0.86×
/// and 0.83× the CPU per request, 1.17× and 1.21× the requests per second at 8 and 16
/// connections; BENCHMARKS.md, "Requests on their event loop").
public final class ComputeQueue: Sendable {
    /// One for the process: its threads live as long as the process.
    public static let shared = ComputeQueue(threads: ProcessInfo.processInfo.activeProcessorCount)

    /// Computations run at once.
    public let threads: Int
    private let pool: NIOThreadPool
    private let submissions = Atomic<Int>(0)
    private let inFlight = Atomic<Int>(0)
    private let onCallerThread = Atomic<Bool>(false)

    /// A queue served by `threads` (at least 1) threads, started now. The threads run until
    /// the process ends.
    public init(threads: Int) {
        self.threads = max(1, threads)
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
    }

    /// Computations submitted so far (counted once each is in the queue, or has started on the
    /// caller's thread).
    public var submitted: Int { submissions.load(ordering: .acquiring) }

    /// Whether ``run(_:)`` computes on the calling thread, with the kernels on that thread alone,
    /// instead of on the queue's threads. Only where the callers are the event loops that also
    /// read and write the connections (Swift's global executor is NIO's, one loop per core):
    /// on Swift's default executor that is what the queue exists to avoid.
    public var runsOnCallerThread: Bool {
        get { onCallerThread.load(ordering: .relaxed) }
        set { onCallerThread.store(newValue, ordering: .relaxed) }
    }

    /// `body`'s result: a request's computation (milliseconds). On the calling thread when
    /// ``runsOnCallerThread``, after letting the jobs already waiting on it run; otherwise as
    /// ``runOnQueueThreads(_:)``.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        guard runsOnCallerThread else { return await runOnQueueThreads(body) }
        submissions.wrappingAdd(1, ordering: .releasing)
        // The loop's other jobs that are ready now go first: most are short (answers to write,
        // bodies to read), and an answer queued behind other requests' computations waited for
        // all of them (cascade sessions, alternated pairs with and without the yield: p99 lower
        // in 7 of 8 at 8 connections, median 0.94×, and in 4 of 6 at 16; BENCHMARKS.md,
        // "Requests on their event loop").
        await Task.yield()
        return Threading.withThreadCount(1, body)
    }

    /// `body`'s result, computed on one of the queue's threads after every computation submitted
    /// there before it has started: for work too long to hold an event loop with (building a
    /// catalogue's text index), and every computation when not ``runsOnCallerThread``. Its
    /// kernels split their work over the cores when it is the only computation in flight, and
    /// keep to its thread otherwise (the other cores are busy with the others, and splitting
    /// would only add waiting).
    public func runOnQueueThreads<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
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
