import Foundation

/// A contiguous block of Float32 values owned by one or more ``Tensor`` values.
///
/// Large blocks come from and return to ``BufferPool``, so a training or inference loop
/// that repeats the same shapes stops allocating (and page-faulting) after its first step.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    init(uninitializedCount count: Int) {
        self.count = count
        self.pointer = BufferPool.shared.take(count)
    }

    convenience init(zeroedCount count: Int) {
        self.init(uninitializedCount: count)
        if count > 0 { pointer.initialize(repeating: 0, count: count) }
    }

    deinit { BufferPool.shared.give(pointer, count: count) }
}

/// A process-wide cache of large Float buffers keyed by exact size.
///
/// Buffers below ``minimumPooledCount`` go straight to `malloc`; the cache holds at most
/// ``capacityBytes`` and drops the rest.
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()

    /// Buffers smaller than this many floats are not pooled (malloc is fast for them).
    public let minimumPooledCount = 16_384
    /// The most the pool keeps cached, in bytes.
    public var capacityBytes: Int {
        get { lock.withLock { _capacityBytes } }
        set { lock.withLock { _capacityBytes = newValue } }
    }

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedBytes = 0
    private var _capacityBytes = 1 << 31

    private var _freshAllocations = 0

    /// Bytes currently held in the cache (not in use by any tensor).
    public var cachedByteCount: Int { lock.withLock { cachedBytes } }

    /// How many poolable (large) buffers had to be newly allocated so far; a loop that
    /// repeats its shapes stops raising it after the first pass.
    public var freshAllocations: Int { lock.withLock { _freshAllocations } }

    /// The pooled size for `count` floats: large sizes round up to one of eight steps per
    /// power of two (at most 12.5 % more), so tensors whose sizes vary from batch to batch
    /// still reuse each other's buffers.
    static func sizeClass(_ count: Int) -> Int {
        let n = Swift.max(count, 1)
        guard n >= 16_384 else { return n }
        let step = 1 << (Int.bitWidth - n.leadingZeroBitCount - 4)
        return (n + step - 1) / step * step
    }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = BufferPool.sizeClass(count)
        if n >= minimumPooledCount {
            let reused: UnsafeMutablePointer<Float>? = lock.withLock {
                guard var list = free[n], let p = list.popLast() else { return nil }
                free[n] = list
                cachedBytes -= n * 4
                return p
            }
            if let reused { return reused }
            lock.withLock { _freshAllocations += 1 }
            BufferPool.scopeCounter?.increment()
        }
        // 64-byte alignment keeps SIMD loads on cache-line boundaries.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let n = BufferPool.sizeClass(count)
        if n >= minimumPooledCount {
            let kept: Bool = lock.withLock {
                guard cachedBytes + n * 4 <= _capacityBytes else { return false }
                free[n, default: []].append(pointer)
                cachedBytes += n * 4
                return true
            }
            if kept { return }
        }
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    /// Counts fresh large-buffer allocations made by the current task inside a scope.
    final class ScopeCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() { lock.withLock { value += 1 } }
        var count: Int { lock.withLock { value } }
    }

    @TaskLocal static var scopeCounter: ScopeCounter?

    /// Runs `body` and returns how many large buffers it had to allocate anew (rather than
    /// reuse from the pool). Only allocations made by the calling task count.
    public static func countingFreshAllocations<R>(_ body: () throws -> R) rethrows -> (result: R, fresh: Int) {
        let counter = ScopeCounter()
        let result = try $scopeCounter.withValue(counter, operation: body)
        return (result, counter.count)
    }

    /// Frees every cached buffer.
    public func drain() {
        let lists = lock.withLock { () -> [[UnsafeMutablePointer<Float>]] in
            let all = Array(free.values)
            free = [:]
            cachedBytes = 0
            return all
        }
        for list in lists { for p in list { UnsafeMutableRawPointer(p).deallocate() } }
    }
}
