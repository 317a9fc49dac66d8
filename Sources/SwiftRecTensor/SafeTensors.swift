import Foundation

/// Reads and writes the safetensors format used by PyTorch and Hugging Face:
/// an 8-byte little-endian header length, a JSON header, then raw little-endian data.
public struct SafeTensors: Sendable {
    /// Element types the format names.
    public enum DType: String, Sendable, CaseIterable {
        case f64 = "F64"
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"
        case i64 = "I64"
        case i32 = "I32"
        case i16 = "I16"
        case i8 = "I8"
        case u8 = "U8"
        case bool = "BOOL"

        public var byteCount: Int {
            switch self {
            case .f64, .i64: 8
            case .f32, .i32: 4
            case .f16, .bf16, .i16: 2
            case .i8, .u8, .bool: 1
            }
        }
    }

    /// One stored tensor: its type, shape and where its bytes are.
    public struct Entry: Sendable, Equatable {
        public let dtype: DType
        public let shape: [Int]
        public let byteRange: Range<Int>
    }

    /// The reasons a file cannot be read, each naming what is wrong.
    public enum FormatError: Error, CustomStringConvertible, Equatable {
        case tooShort(Int)
        case headerLength(Int, fileSize: Int)
        case headerNotJSON(String)
        case badEntry(name: String, reason: String)
        case missingTensor(String)
        case notNumeric(name: String, dtype: String)

        public var description: String {
            switch self {
            case .tooShort(let n): return "safetensors: file is \(n) bytes, too short for a header"
            case .headerLength(let n, let size):
                return "safetensors: header length \(n) does not fit a file of \(size) bytes"
            case .headerNotJSON(let why): return "safetensors: header is not a JSON object: \(why)"
            case .badEntry(let name, let reason): return "safetensors: tensor '\(name)': \(reason)"
            case .missingTensor(let name): return "safetensors: no tensor named '\(name)'"
            case .notNumeric(let name, let dtype):
                return "safetensors: tensor '\(name)' has type \(dtype), not convertible"
            }
        }
    }

    /// The free-form string metadata (`__metadata__`).
    public let metadata: [String: String]
    /// Entries by name.
    public let entries: [String: Entry]
    /// Tensor names in the order of their data.
    public var names: [String] {
        entries.sorted { $0.value.byteRange.lowerBound < $1.value.byteRange.lowerBound }.map(\.key)
    }
    private let data: Data
    private let dataStart: Int

    /// Reads a file; it is memory-mapped, so large files load lazily.
    public init(contentsOf url: URL) throws {
        try self.init(data: Data(contentsOf: url, options: .alwaysMapped))
    }

    /// Parses a safetensors buffer, checking every entry against the buffer's size.
    public init(data: Data) throws {
        guard data.count >= 8 else { throw FormatError.tooShort(data.count) }
        let headerLength = data.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard headerLength >= 2, headerLength <= 100_000_000, 8 + headerLength <= data.count else {
            throw FormatError.headerLength(headerLength, fileSize: data.count)
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength)))
        } catch {
            throw FormatError.headerNotJSON(String(describing: error))
        }
        guard let header = json as? [String: Any] else { throw FormatError.headerNotJSON("top level is not an object") }
        let payload = data.count - 8 - headerLength
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let dict = value as? [String: Any] else {
                    throw FormatError.badEntry(name: name, reason: "not an object")
                }
                for (k, v) in dict {
                    guard let s = v as? String else {
                        throw FormatError.badEntry(name: name, reason: "value of '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else {
                throw FormatError.badEntry(name: name, reason: "not an object")
            }
            guard let dtypeName = info["dtype"] as? String, let dtype = DType(rawValue: dtypeName) else {
                throw FormatError.badEntry(name: name, reason: "unknown dtype \(info["dtype"] ?? "nil")")
            }
            guard let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                (info["shape"] as? [Any])?.count == shape.count, shape.allSatisfy({ $0 >= 0 })
            else { throw FormatError.badEntry(name: name, reason: "shape is not a list of non-negative integers") }
            guard let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                offsets.count == 2,
                offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= payload
            else {
                throw FormatError.badEntry(
                    name: name, reason: "data_offsets missing or outside the \(payload)-byte data")
            }
            let expected = shape.reduce(1, *) * dtype.byteCount
            guard offsets[1] - offsets[0] == expected else {
                throw FormatError.badEntry(
                    name: name,
                    reason: "holds \(offsets[1] - offsets[0]) bytes but \(dtype.rawValue)\(shape) needs \(expected)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
        self.data = data
        self.dataStart = 8 + headerLength
    }

    /// The named tensor converted to Float32 (from any float or integer type).
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw FormatError.missingTensor(name) }
        var out = Tensor(uninitializedShape: entry.shape)
        let n = out.count
        let start = dataStart + entry.byteRange.lowerBound
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    let p = base + i * entry.dtype.byteCount
                    switch entry.dtype {
                    case .f32: dst[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
                    case .f64:
                        dst[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))))
                    case .f16: dst[i] = SafeTensors.halfToFloat(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
                    case .bf16:
                        dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))) << 16)
                    case .i64: dst[i] = Float(Int64(littleEndian: p.loadUnaligned(as: Int64.self)))
                    case .i32: dst[i] = Float(Int32(littleEndian: p.loadUnaligned(as: Int32.self)))
                    case .i16: dst[i] = Float(Int16(littleEndian: p.loadUnaligned(as: Int16.self)))
                    case .i8: dst[i] = Float(p.load(as: Int8.self))
                    case .u8, .bool: dst[i] = Float(p.load(as: UInt8.self))
                    }
                }
            }
        }
        return out
    }

    /// The named integer tensor's values, exactly (for ids and counts beyond Float's range).
    public func integers(_ name: String) throws -> [Int64] {
        guard let entry = entries[name] else { throw FormatError.missingTensor(name) }
        let n = entry.shape.reduce(1, *)
        let start = dataStart + entry.byteRange.lowerBound
        return try data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            return try (0..<n).map { i in
                let p = base + i * entry.dtype.byteCount
                switch entry.dtype {
                case .i64: return Int64(littleEndian: p.loadUnaligned(as: Int64.self))
                case .i32: return Int64(Int32(littleEndian: p.loadUnaligned(as: Int32.self)))
                case .i16: return Int64(Int16(littleEndian: p.loadUnaligned(as: Int16.self)))
                case .i8: return Int64(p.load(as: Int8.self))
                case .u8, .bool: return Int64(p.load(as: UInt8.self))
                default: throw FormatError.notNumeric(name: name, dtype: entry.dtype.rawValue)
                }
            }
        }
    }

    /// Every tensor converted to Float32, by name.
    public func allTensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in entries.keys { result[name] = try tensor(name) }
        return result
    }

    /// Encodes Float32 tensors (sorted by name) with optional string metadata.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] =
                ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.count * 4]] as [String: Any]
            offset += t.count * 4
        }
        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { buffer in
                #if _endian(little)
                    out.append(UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
                #else
                    for v in buffer { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                #endif
            }
        }
        return out
    }

    /// Writes Float32 tensors to `url` atomically.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try encode(tensors, metadata: metadata).write(to: url, options: .atomic)
    }

    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2^-24.
            let value = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -value : value
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}

extension Layer {
    /// Saves every parameter to a safetensors file under its dotted name.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDict(), metadata: metadata, to: url)
    }

    /// Loads parameters from a safetensors file written by ``save(to:metadata:)`` or PyTorch.
    public func load(from url: URL, strict: Bool = true) throws {
        let file = try SafeTensors(contentsOf: url)
        try loadStateDict(file.allTensors(), strict: strict)
    }
}
