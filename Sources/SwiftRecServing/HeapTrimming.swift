import Foundation
import SwiftRecTensor

/// Hands memory the C allocator keeps after frees back to the system, now and then.
///
/// Under mixed traffic the held histories are evicted and read again from the store on many
/// threads; glibc keeps the freed blocks in per-thread arenas, so the resident size grows
/// while the memory actually held stays flat (the soak in BENCHMARKS.md measured held bytes
/// flat at 33–46 MiB while the allocator's free bytes grew 10 → 81 MiB). Trimming when the
/// free bytes pass a threshold keeps the resident size near what is held, and fewer arenas
/// (``limitArenas()``) keep less of it scattered in the first place.
public enum HeapTrimming {
    /// Caps glibc's arenas at `arenas` unless `MALLOC_ARENA_MAX` is set (the operator's choice
    /// wins). A soak with the cap at 2 ended 5 minutes at 123 MiB RSS instead of 166.
    public static func limitArenas(_ arenas: Int = 2) {
        guard ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil else { return }
        ProcessHeap.limitArenas(arenas)
    }

    /// Until cancelled: every `interval`, trims when the allocator keeps more than `threshold`
    /// bytes free. Does nothing where the allocator does not report its figures.
    public static func run(every interval: Duration = .seconds(10), threshold: Int = 16 << 20) async {
        guard ProcessHeap.statistics() != nil else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if let heap = ProcessHeap.statistics(), heap.free > threshold { ProcessHeap.trim() }
        }
    }
}
