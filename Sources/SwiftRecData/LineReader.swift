import Foundation

/// Reads a file line by line in fixed-size chunks, so files of any size stream in constant
/// memory. Lines end with `\n` (a trailing `\r` is dropped); the last line may lack one.
public struct LineReader: Sequence {
    public let url: URL
    public let chunkSize: Int

    public init(url: URL, chunkSize: Int = 1 << 20) {
        self.url = url
        self.chunkSize = chunkSize
    }

    public func makeIterator() -> Iterator {
        Iterator(handle: try? FileHandle(forReadingFrom: url), chunkSize: chunkSize)
    }

    /// Yields each line's bytes (without the terminator).
    public struct Iterator: IteratorProtocol {
        let handle: FileHandle?
        let chunkSize: Int
        var buffer: [UInt8] = []
        var start = 0
        var finished = false

        init(handle: FileHandle?, chunkSize: Int) {
            self.handle = handle
            self.chunkSize = chunkSize
            finished = handle == nil
        }

        public mutating func next() -> ArraySlice<UInt8>? {
            while true {
                if let newline = buffer[start...].firstIndex(of: 0x0A) {
                    var end = newline
                    if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                    let line = buffer[start..<end]
                    start = newline + 1
                    return line
                }
                if finished {
                    guard start < buffer.count else { return nil }
                    var end = buffer.count
                    if buffer[end - 1] == 0x0D { end -= 1 }
                    let line = buffer[start..<end]
                    start = buffer.count
                    return line
                }
                // Keep the unfinished tail, then read the next chunk after it.
                buffer.removeSubrange(0..<start)
                start = 0
                let data = handle?.readData(ofLength: chunkSize) ?? Data()
                if data.isEmpty {
                    finished = true
                    try? handle?.close()
                } else {
                    buffer.append(contentsOf: data)
                }
            }
        }
    }
}

/// Errors that stop an import before it reads any record.
public enum ImportError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case unknownFormat(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .unknownFormat(let name): return "unknown format '\(name)'"
        }
    }
}

extension ArraySlice<UInt8> {
    /// The line's fields split on `separator` bytes (runs of it count once when `collapse`).
    func fields(separatedBy separator: UInt8, collapse: Bool = false) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var fieldStart = startIndex
        for i in indices where self[i] == separator {
            if !(collapse && i == fieldStart) { result.append(self[fieldStart..<i]) }
            fieldStart = i + 1
        }
        if !(collapse && fieldStart == endIndex) { result.append(self[fieldStart..<endIndex]) }
        return result
    }

    /// The field as a non-negative decimal integer, or nil.
    var unsignedInteger: Int? {
        guard !isEmpty, count <= 18 else { return nil }
        var value = 0
        for byte in self {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}
