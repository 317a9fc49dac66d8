import CSwiftRecKernels
import Foundation

/// The process's memory as the C allocator and the kernel see it: what the program holds, what
/// the allocator keeps free after frees (which still counts in the resident size), and the
/// resident size itself. Serving exposes these so a growing RSS can be told apart as data, a
/// leak (held bytes grow) or fragmentation (free bytes grow).
public enum ProcessHeap {
    /// Bytes held by the program and bytes kept free by the allocator (glibc 2.33+; `nil`
    /// where the allocator does not report them).
    public static func statistics() -> (held: Int, free: Int)? {
        var held: UInt64 = 0
        var free: UInt64 = 0
        guard sr_heap_statistics(&held, &free) != 0 else { return nil }
        return (Int(clamping: held), Int(clamping: free))
    }

    /// Returns free allocator memory to the system (glibc's `malloc_trim`); `true` if any was.
    @discardableResult
    public static func trim() -> Bool { sr_heap_trim() != 0 }

    /// Caps the allocator's arenas (glibc's `M_ARENA_MAX`); `true` if it took effect.
    @discardableResult
    public static func limitArenas(_ arenas: Int) -> Bool { sr_heap_limit_arenas(Int32(clamping: arenas)) != 0 }

    /// The resident set size in bytes, from `/proc/self/statm` (`nil` where there is none).
    public static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
