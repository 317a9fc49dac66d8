import CSwiftRecKernels

/// Elementwise arithmetic with NumPy broadcasting, and reductions, on plain tensors.
extension Tensor {
    /// The shape two shapes broadcast to, or a stop naming both when they cannot.
    public static func broadcastShape(_ a: [Int], _ b: [Int], op: String = "broadcast") -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            precondition(da == db || da == 1 || db == 1, "\(op): shapes \(a) and \(b) cannot be broadcast together")
            out[i] = max(da, db)
        }
        return out
    }

    /// Applies `f` to every element.
    @inline(__always)
    public func map(_ f: (Float) -> Float) -> Tensor {
        var out = Tensor(uninitializedShape: shape)
        let src = storage.pointer
        let dst = out.mutablePointer()
        for i in 0..<count { dst[i] = f(src[i]) }
        return out
    }

    /// Combines `a` and `b` elementwise after broadcasting them to a common shape.
    @inline(__always)
    public static func zip(_ a: Tensor, _ b: Tensor, op: String = "elementwise", _ f: (Float, Float) -> Float) -> Tensor
    {
        if a.shape == b.shape {
            var out = Tensor(uninitializedShape: a.shape)
            nonisolated(unsafe) let pa = a.storage.pointer, pb = b.storage.pointer, po = out.mutablePointer()
            withoutActuallyEscaping(f) { f in
                nonisolated(unsafe) let f = f
                parallelRanges(a.count, costPerItem: 2) { r in for i in r { po[i] = f(pa[i], pb[i]) } }
            }
            return out
        }
        let shape = broadcastShape(a.shape, b.shape, op: op)
        var out = Tensor(uninitializedShape: shape)
        let po = out.mutablePointer(), pa = a.storage.pointer, pb = b.storage.pointer
        let n = out.count
        if b.count == 1 {
            let s = pb[0]
            for i in 0..<n { po[i] = f(pa[i], s) }
            return out
        }
        if a.count == 1 {
            let s = pa[0]
            for i in 0..<n { po[i] = f(s, pb[i]) }
            return out
        }
        // A trailing block broadcast over leading rows, e.g. a bias [d] over [n, d].
        if a.count == n, n % b.count == 0, case let bs = b.shape.dropFirstOnes(), Array(shape.suffix(bs.count)) == bs {
            let m = b.count
            var o = 0
            while o < n {
                for j in 0..<m { po[o + j] = f(pa[o + j], pb[j]) }
                o += m
            }
            return out
        }
        if b.count == n, n % a.count == 0, case let as_ = a.shape.dropFirstOnes(), Array(shape.suffix(as_.count)) == as_
        {
            let m = a.count
            var o = 0
            while o < n {
                for j in 0..<m { po[o + j] = f(pa[j], pb[o + j]) }
                o += m
            }
            return out
        }
        // General case: strides of zero for broadcast dimensions.
        let rank = shape.count
        let sa = broadcastStrides(a.shape, to: shape)
        let sb = broadcastStrides(b.shape, to: shape)
        let inner = shape[rank - 1]
        let ia = sa[rank - 1], ib = sb[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var o = 0
        while o < n {
            var oa = 0, ob = 0
            for d in 0..<(rank - 1) {
                oa += index[d] * sa[d]
                ob += index[d] * sb[d]
            }
            for j in 0..<inner { po[o + j] = f(pa[oa + j * ia], pb[ob + j * ib]) }
            o += inner
            advanceOuterIndex(&index, in: shape)
        }
        return out
    }

    /// This tensor repeated along its size-1 dimensions up to `target`, which has the same rank
    /// (the gradient of a sum that kept its dimensions).
    public func expanded(to target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(
            shape.count == target.count && Swift.zip(shape, target).allSatisfy { $0 == $1 || $0 == 1 },
            "expanded(to:): \(shape) cannot expand to \(target)")
        return gathered(shape: target, strides: Tensor.broadcastStrides(shape, to: target))
    }

    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
        let strides = Tensor.strides(of: padded)
        return (0..<target.count).map { padded[$0] == 1 && target[$0] != 1 ? 0 : strides[$0] }
    }

    /// Sum over `axes`; kept as size-1 dimensions when `keepDims`.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let axes = Set(axes.map { normalizedAxis($0, "sum") })
        var result = self
        for axis in axes.sorted() { result = result.sumKeepingDim(axis) }
        if keepDims { return result }
        return result.reshaped(shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
    }

    /// Sum of all elements.
    public func sum() -> Float {
        withUnsafeBufferPointer { p in
            var s: Double = 0
            for v in p { s += Double(v) }
            return Float(s)
        }
    }

    func sumKeepingDim(_ axis: Int) -> Tensor {
        let outer = shape[..<axis].reduce(1, *)
        let mid = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        var newShape = shape
        newShape[axis] = 1
        // Every output is written below (as a finished sum), so none needs zeroing first.
        var out = Tensor(uninitializedShape: newShape)
        nonisolated(unsafe) let src = storage.pointer, dst = out.mutablePointer()
        // Threads split the outputs (blocks of kept columns), so each sum still runs in row
        // order: the same bits for any thread count. Wide rows take wide blocks, so each row's
        // slice is a few cache lines rather than one.
        let blockWidth = inner >= 128 ? 64 : 16
        let columnBlocks = (inner + blockWidth - 1) / blockWidth
        parallelRanges(outer * columnBlocks, costPerItem: mid * blockWidth) { items in
            for item in items {
                let o = item / columnBlocks, block = item % columnBlocks
                let columns = (block * blockWidth)..<min(inner, block * blockWidth + blockWidth)
                let d = dst + o * inner
                let rows = src + o * mid * inner
                var i = columns.lowerBound
                // Sixty-four columns at a time in registers (the usual bias gradient), else
                // eight, else one; each still adds in row order.
                while i + 64 <= columns.upperBound {
                    var acc = (
                        SIMD16<Float>.zero, SIMD16<Float>.zero, SIMD16<Float>.zero, SIMD16<Float>.zero
                    )
                    for m in 0..<mid {
                        let r = UnsafeRawPointer(rows + m * inner + i)
                        acc.0 += r.loadUnaligned(as: SIMD16<Float>.self)
                        acc.1 += r.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                        acc.2 += r.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                        acc.3 += r.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
                    }
                    let out = UnsafeMutableRawPointer(d + i)
                    out.storeBytes(of: acc.0, as: SIMD16<Float>.self)
                    out.storeBytes(of: acc.1, toByteOffset: 64, as: SIMD16<Float>.self)
                    out.storeBytes(of: acc.2, toByteOffset: 128, as: SIMD16<Float>.self)
                    out.storeBytes(of: acc.3, toByteOffset: 192, as: SIMD16<Float>.self)
                    i += 64
                }
                while i + 8 <= columns.upperBound {
                    var acc = SIMD8<Float>.zero
                    for m in 0..<mid {
                        acc += UnsafeRawPointer(rows + m * inner + i).loadUnaligned(as: SIMD8<Float>.self)
                    }
                    UnsafeMutableRawPointer(d + i).storeBytes(of: acc, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < columns.upperBound {
                    var acc: Float = 0
                    for m in 0..<mid { acc += rows[m * inner + i] }
                    d[i] = acc
                    i += 1
                }
            }
        }
        return out
    }

    /// This tensor summed down to `target`, undoing a broadcast (for gradients).
    public func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let extra = rank - target.count
        precondition(extra >= 0, "summed(toShape:): \(shape) cannot reduce to \(target)")
        var axes: [Int] = Array(0..<extra)
        for (i, d) in target.enumerated() where d == 1 && shape[i + extra] != 1 { axes.append(i + extra) }
        return sum(axes: axes, keepDims: true).reshaped(target)
    }

    /// Adds `other` (same shape) into this tensor in place.
    public mutating func addInPlace(_ other: Tensor) {
        precondition(
            other.shape == shape || other.count == count, "addInPlace: shapes \(shape) and \(other.shape) differ")
        let src = other.storage.pointer
        let n = count
        withUnsafeMutableBufferPointer { dst in sr_vadd(dst.baseAddress, src, dst.baseAddress, n) }
    }

    // Same-shape operands take a per-range C kernel (sr_vadd, …): a closure per element costs a
    // call each, and Swift's own loop, compiled for baseline x86-64, ran scalar.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        if a.shape == b.shape {
            return combining(a, b, cost: 1) { sr_vadd($0, $1, $2, $3) }
        }
        if b.rank == 1, let width = a.shape.last, b.count == width, width > 0 {
            return addingRow(a, b)
        }
        return zip(a, b, op: "+") { $0 + $1 }
    }

    /// `a` plus the vector `row` on every row (a bias): a direct loop, not the general broadcast.
    private static func addingRow(_ a: Tensor, _ row: Tensor) -> Tensor {
        let width = row.count, rows = a.count / width
        var out = Tensor(uninitializedShape: a.shape)
        nonisolated(unsafe) let pa = a.storage.pointer, pr = row.storage.pointer, po = out.mutablePointer()
        parallelRanges(rows, costPerItem: width) { range in
            for r in range {
                sr_vadd(pa + r * width, pr, po + r * width, width)
            }
        }
        return out
    }
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        if a.shape == b.shape {
            return combining(a, b, cost: 1) { sr_vsub($0, $1, $2, $3) }
        }
        return zip(a, b, op: "-") { $0 - $1 }
    }
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        if a.shape == b.shape {
            return combining(a, b, cost: 1) { sr_vmul($0, $1, $2, $3) }
        }
        return zip(a, b, op: "*") { $0 * $1 }
    }
    public static func / (a: Tensor, b: Tensor) -> Tensor { zip(a, b, op: "/") { $0 / $1 } }
    public static func * (a: Tensor, s: Float) -> Tensor { a.applying(cost: 1) { sr_vmul_scalar($0, s, $1, $2) } }
    public static func + (a: Tensor, s: Float) -> Tensor { a.applying(cost: 1) { sr_vadd_scalar($0, s, $1, $2) } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    /// The largest absolute difference to `other` (same shape).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "maxAbsDifference: shapes \(shape) and \(other.shape) differ")
        var m: Float = 0
        let a = storage.pointer, b = other.storage.pointer
        for i in 0..<count { m = Swift.max(m, abs(a[i] - b[i])) }
        return m
    }
}

extension [Int] {
    fileprivate func dropFirstOnes() -> [Int] {
        Array(drop { $0 == 1 })
    }
}

/// Rows of a table by index, the plain-tensor counterpart of `embeddingLookup` for inference.
extension Tensor {
    /// [rows.count, columns] of a 2-D tensor: its rows in the order given (each in 0..<shape[0]).
    public func gatheringRows(_ rows: [Int32]) -> Tensor {
        precondition(rank == 2, "gatheringRows: a 2-D tensor, not \(shape)")
        let columns = shape[1], count = shape[0]
        var out = Tensor(uninitializedShape: [rows.count, columns])
        let source = storage.pointer, target = out.mutablePointer()
        for (k, row) in rows.enumerated() {
            precondition(row >= 0 && Int(row) < count, "gatheringRows: row \(row) of \(count)")
            (target + k * columns).update(from: source + Int(row) * columns, count: columns)
        }
        return out
    }

    /// Adds `table`'s row `rows[k]` to this 2-D tensor's row k, for every k (as wide as it).
    public mutating func addRows(of table: Tensor, _ rows: [Int32]) {
        precondition(
            rank == 2 && table.rank == 2 && table.shape[1] == shape[1] && rows.count == shape[0],
            "addRows: \(rows.count) rows of \(table.shape) onto \(shape)")
        let columns = shape[1], count = table.shape[0]
        let source = table.storage.pointer, target = mutablePointer()
        for (k, row) in rows.enumerated() {
            precondition(row >= 0 && Int(row) < count, "addRows: row \(row) of \(count)")
            sr_vaxpy(columns, 1, source + Int(row) * columns, target + k * columns)
        }
    }
}
