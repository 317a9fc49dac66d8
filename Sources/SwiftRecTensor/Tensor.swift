/// An n-dimensional array of Float32 values, contiguous and row-major.
///
/// `Tensor` is a value type with copy-on-write storage. Shape errors are programmer
/// errors: they stop the program with a message that names the operation and the shapes.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    /// The size of each dimension, outermost first. A scalar has shape `[]`.
    public private(set) var shape: [Int]
    var storage: TensorStorage

    /// The number of elements.
    public var count: Int { storage.count }
    /// The number of dimensions.
    public var rank: Int { shape.count }

    // MARK: Creation

    /// A tensor with uninitialised contents; write every element before reading it.
    public init(uninitializedShape shape: [Int]) {
        Tensor.checkShape(shape)
        self.shape = shape
        self.storage = TensorStorage(uninitializedCount: shape.reduce(1, *))
    }

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(uninitializedShape: shape)
        if count > 0 { storage.pointer.update(repeating: value, count: count) }
    }

    /// A tensor holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        let n = shape.reduce(1, *)
        precondition(
            n == scalars.count,
            "Tensor(shape: \(shape), scalars:): shape holds \(n) values but \(scalars.count) were given")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { src in
            if n > 0 { storage.pointer.update(from: src.baseAddress!, count: n) }
        }
    }

    /// A rank-0 tensor.
    public init(scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    /// A rank-1 tensor.
    public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }

    /// Values drawn from N(mean, std²) with a seeded generator.
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, std: Float = 1, generator: inout SeededGenerator
    ) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = mean + std * generator.nextNormal() }
        }
        return t
    }

    /// Values drawn uniformly from [low, high) with a seeded generator.
    public static func randomUniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, generator: inout SeededGenerator
    ) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = low + (high - low) * generator.nextUniform() }
        }
        return t
    }

    static func checkShape(_ shape: [Int]) {
        for d in shape where d < 0 { preconditionFailure("invalid shape \(shape): negative dimension") }
    }

    // MARK: Access

    /// The elements in row-major order.
    public var scalars: [Float] {
        withUnsafeBufferPointer { Array($0) }
    }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar: tensor of shape \(shape) has \(count) elements, not 1")
        return storage.pointer[0]
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Gives mutable access, copying the storage first if another tensor shares it.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage(uninitializedCount: storage.count)
            copy.pointer.update(from: storage.pointer, count: storage.count)
            storage = copy
        }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The element at a multi-dimensional index.
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[flatIndex(index)] }
        set {
            let i = flatIndex(index)
            withUnsafeMutableBufferPointer { $0[i] = newValue }
        }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not match shape \(shape)")
        var flat = 0
        for (i, d) in Swift.zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) is out of bounds for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }

    /// Row-major strides of `shape`.
    public static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= shape[i]
        }
        return strides
    }

    public var description: String {
        let values = count <= 16 ? "\(scalars)" : "\(Array(scalars.prefix(16)))…"
        return "Tensor(shape: \(shape), \(values))"
    }

    // MARK: Shape manipulation

    /// The same elements under a new shape; one dimension may be -1 (inferred). Shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        let known = newShape.filter { $0 != -1 }.reduce(1, *)
        if let inferred = newShape.firstIndex(of: -1) {
            precondition(
                newShape.filter { $0 == -1 }.count == 1 && known > 0 && count % known == 0,
                "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
            resolved[inferred] = count / known
        }
        precondition(
            resolved.reduce(1, *) == count,
            "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        Tensor.checkShape(resolved)
        var t = self
        t.shape = resolved
        return t
    }

    /// The dimensions reordered: result dimension i is this tensor's dimension `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(
            order.count == rank && Set(order) == Set(0..<rank),
            "permute: \(order) is not a permutation of the \(rank) dimensions of \(shape)")
        if order == Array(0..<rank) { return self }
        let inStrides = Tensor.strides(of: shape)
        return gathered(shape: order.map { shape[$0] }, strides: order.map { inStrides[$0] })
    }

    /// A tensor of `newShape` whose element at each index is this tensor's element at that
    /// index's offset under `srcStrides` (one per dimension; a stride of 0 repeats the
    /// dimension): the walk ``permuted(_:)`` and ``expanded(to:)`` share.
    func gathered(shape newShape: [Int], strides srcStrides: [Int]) -> Tensor {
        precondition(newShape.count == srcStrides.count, "gathered: \(newShape) with strides \(srcStrides)")
        var out = Tensor(uninitializedShape: newShape)
        let rank = newShape.count
        let n = out.count
        guard n > 0, rank > 0 else { return rank == 0 ? self : out }
        nonisolated(unsafe) let src = storage.pointer, dst = out.mutablePointer()
        // Threads take blocks of the first dimension; each walks its part of the output in
        // order, the innermost dimension being a block copy, a repeat or a strided copy.
        let inner = newShape[rank - 1]
        let innerStride = srcStrides[rank - 1]
        let leading = rank == 1 ? 1 : newShape[0]
        let perLeading = n / leading
        parallelRanges(leading, costPerItem: perLeading * 2) { block in
            var index = [Int](repeating: 0, count: rank)
            if rank > 1 { index[0] = block.lowerBound }
            var o = rank == 1 ? 0 : block.lowerBound * perLeading
            let end = rank == 1 ? n : block.upperBound * perLeading
            while o < end {
                var base = 0
                for d in 0..<(rank - 1) { base += index[d] * srcStrides[d] }
                if innerStride == 1 {
                    (dst + o).update(from: src + base, count: inner)
                } else if innerStride == 0 {
                    (dst + o).update(repeating: src[base], count: inner)
                } else {
                    for j in 0..<inner { dst[o + j] = src[base + j * innerStride] }
                }
                o += inner
                advanceOuterIndex(&index, in: newShape)
            }
        }
        return out
    }

    /// The last two dimensions swapped (a matrix transpose for rank 2).
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed: needs rank ≥ 2, got shape \(shape)")
        var order = Array(0..<rank)
        order.swapAt(rank - 1, rank - 2)
        return permuted(order)
    }

    /// Elements `range` along `axis` (a copy).
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizedAxis(axis, "slice")
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[axis],
            "slice: range \(range) is out of bounds for dimension \(axis) of shape \(shape)")
        var newShape = shape
        newShape[axis] = range.count
        var out = Tensor(uninitializedShape: newShape)
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let src = storage.pointer
        let dst = out.mutablePointer()
        let block = range.count * inner
        for o in 0..<outer {
            (dst + o * block).update(from: src + (o * shape[axis] + range.lowerBound) * inner, count: block)
        }
        return out
    }

    /// Tensors joined along an existing `axis`; all other dimensions must match.
    public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate: no tensors given")
        let first = parts[0]
        let axis = first.normalizedAxis(axis, "concatenate")
        for p in parts {
            precondition(
                p.rank == first.rank
                    && Swift.zip(p.shape, first.shape).enumerated().allSatisfy {
                        $0.offset == axis || $0.element.0 == $0.element.1
                    },
                "concatenate: shapes \(parts.map(\.shape)) differ outside axis \(axis)")
        }
        var newShape = first.shape
        newShape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        var out = Tensor(uninitializedShape: newShape)
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *)
        let dst = out.mutablePointer()
        let outBlock = newShape[axis] * inner
        var offset = 0
        for p in parts {
            let block = p.shape[axis] * inner
            let src = p.storage.pointer
            for o in 0..<outer { (dst + o * outBlock + offset).update(from: src + o * block, count: block) }
            offset += block
        }
        return out
    }

    /// Tensors of one shape joined along a new dimension `axis`.
    public static func stack(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!parts.isEmpty, "stack: no tensors given")
        let shape = parts[0].shape
        for p in parts { precondition(p.shape == shape, "stack: shapes differ: \(parts.map(\.shape))") }
        precondition(axis >= 0 && axis <= shape.count, "stack: axis \(axis) out of range for rank \(shape.count)")
        var expanded = shape
        expanded.insert(1, at: axis)
        return concatenate(parts.map { $0.reshaped(expanded) }, axis: axis)
    }

    func normalizedAxis(_ axis: Int, _ op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(op): axis \(axis) is out of range for shape \(shape)")
        return a
    }
}

extension Tensor {
    /// A pointer for writing this tensor's elements, after making its storage unique.
    /// It stays valid while this tensor lives and is not copied and written again.
    mutating func mutablePointer() -> UnsafeMutablePointer<Float> {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage(uninitializedCount: storage.count)
            copy.pointer.update(from: storage.pointer, count: storage.count)
            storage = copy
        }
        return storage.pointer
    }
}

/// Steps a row-major index over all but the last dimension of `shape`, like an odometer (the
/// last dimension is walked by the caller).
@inline(__always)
func advanceOuterIndex(_ index: inout [Int], in shape: [Int]) {
    var d = shape.count - 2
    while d >= 0 {
        index[d] += 1
        if index[d] < shape[d] { return }
        index[d] = 0
        d -= 1
    }
}
