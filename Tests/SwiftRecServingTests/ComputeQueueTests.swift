import Dispatch
import Foundation
import SwiftRecTensor
import Synchronization
import Testing

@testable import SwiftRecServing

@Suite("Compute queue")
struct ComputeQueueTests {
    /// Computations that wait for a busy thread start in the order they were submitted, whatever
    /// order the executor resumes their callers in afterwards.
    @Test func waitingComputationsRunInTheOrderSubmitted() async throws {
        let queue = ComputeQueue(threads: 1)
        let release = DispatchSemaphore(value: 0)
        let order = StartOrder()
        let blocker = Task { await queue.run { release.wait() } }
        try await waitUntil { queue.submitted == 1 }
        var waiting: [Task<Int, Never>] = []
        for index in 0..<8 {
            waiting.append(
                Task {
                    await queue.run {
                        order.append(index)
                        return index * index
                    }
                })
            // The next is submitted only once this one is in the queue.
            try await waitUntil { queue.submitted == index + 2 }
        }
        #expect(order.values.isEmpty, "nothing runs while the only thread is busy")
        release.signal()
        await blocker.value
        var results: [Int] = []
        for task in waiting { results.append(await task.value) }
        #expect(order.values == Array(0..<8))
        #expect(results == (0..<8).map { $0 * $0 })
    }

    /// With two threads two computations run at the same time: each waits for the other to
    /// start (a deadlock, caught by the timeout, if they ran one after the other).
    @Test func computationsRunOnAsManyThreadsAsGiven() async throws {
        let queue = ComputeQueue(threads: 2)
        let first = DispatchSemaphore(value: 0)
        let second = DispatchSemaphore(value: 0)
        async let a = queue.run { () -> Bool in
            first.signal()
            return second.wait(timeout: .now() + 10) == .success
        }
        async let b = queue.run { () -> Bool in
            second.signal()
            return first.wait(timeout: .now() + 10) == .success
        }
        let (metA, metB) = await (a, b)
        #expect(metA && metB)
    }

    /// On the caller's thread a computation starts at once, with the kernels on that thread
    /// alone, even while every queue thread is busy; long work still goes to the queue.
    @Test func onTheCallersThreadComputationsDoNotWaitForTheQueue() async throws {
        let queue = ComputeQueue(threads: 1)
        queue.runsOnCallerThread = true
        let release = DispatchSemaphore(value: 0)
        let blocker = Task { await queue.runOnQueueThreads { release.wait() } }
        try await waitUntil { queue.submitted == 1 }
        // Should the computation wait for the queue after all, this ends the wait (and the test fails).
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            release.signal()
        }
        let started = ContinuousClock.now
        let threads = await queue.run { Threading.threadCount }
        #expect(ContinuousClock.now - started < .seconds(5), "the computation waited for the busy queue")
        #expect(threads == 1)
        #expect(queue.submitted == 2)
        watchdog.cancel()
        release.signal()
        await blocker.value
    }

    private func waitUntil(_ condition: @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            #expect(ContinuousClock.now < deadline, "timed out")
            if ContinuousClock.now >= deadline { return }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}

/// The order computations started in, written from the queue's threads.
private final class StartOrder: Sendable {
    private let started = Mutex<[Int]>([])
    var values: [Int] { started.withLock { $0 } }
    func append(_ index: Int) { started.withLock { $0.append(index) } }
}
