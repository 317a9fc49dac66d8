/// Differentiable shape operations.
extension Variable {
    /// The same elements under a new shape (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Variable {
        let old = shape
        return Variable(value.reshaped(newShape), parents: [self]) { g in [g.reshaped(old)] }
    }

    /// The dimensions reordered: result dimension i is this variable's dimension `order[i]`.
    public func permuted(_ order: [Int]) -> Variable {
        var inverse = [Int](repeating: 0, count: order.count)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Variable(value.permuted(order), parents: [self]) { g in [g.permuted(inverse)] }
    }

    /// The last two dimensions swapped.
    public func transposed() -> Variable {
        var order = Array(0..<shape.count)
        order.swapAt(shape.count - 1, shape.count - 2)
        return permuted(order)
    }

    /// Elements `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Variable {
        let shape = self.shape
        let axis = axis < 0 ? axis + shape.count : axis
        return Variable(value.slice(axis: axis, range), parents: [self]) { g in
            var parts: [Tensor] = []
            var before = shape, after = shape
            before[axis] = range.lowerBound
            after[axis] = shape[axis] - range.upperBound
            if range.lowerBound > 0 { parts.append(.zeros(before)) }
            parts.append(g)
            if after[axis] > 0 { parts.append(.zeros(after)) }
            return [parts.count == 1 ? g : Tensor.concatenate(parts, axis: axis)]
        }
    }

    /// Variables joined along an existing axis.
    public static func concatenate(_ parts: [Variable], axis: Int) -> Variable {
        let values = parts.map(\.value)
        let out = Tensor.concatenate(values, axis: axis)
        let axis = axis < 0 ? axis + out.rank : axis
        return Variable(out, parents: parts) { g in
            var offset = 0
            return values.map { v in
                defer { offset += v.shape[axis] }
                return g.slice(axis: axis, offset..<(offset + v.shape[axis]))
            }
        }
    }

    /// Variables of one shape joined along a new axis.
    public static func stack(_ parts: [Variable], axis: Int = 0) -> Variable {
        precondition(!parts.isEmpty, "stack: no variables given")
        var expanded = parts[0].shape
        expanded.insert(1, at: axis)
        return concatenate(parts.map { $0.reshaped(expanded) }, axis: axis)
    }

    /// Where `mask` (broadcast to this shape) is non-zero, `fill`; elsewhere this value.
    public func maskedFill(_ mask: Tensor, with fill: Float) -> Variable {
        let y = Tensor.zip(value, mask, op: "maskedFill") { x, m in m != 0 ? fill : x }
        return Variable(y, parents: [self]) { g in
            [Tensor.zip(g, mask, op: "maskedFill") { gv, m in m != 0 ? 0 : gv }]
        }
    }
}

extension Tensor {
    /// An [n, n] mask that is 1 above the diagonal: position i may not see j > i.
    public static func causalMask(_ n: Int) -> Tensor {
        var t = Tensor.zeros([n, n])
        t.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { p[i * n + j] = 1 } }
        }
        return t
    }
}

extension Variable {
    /// The largest element along the middle axis of a [a, b, c] variable: [a, c] (max pooling
    /// over positions). The gradient goes to the first largest element of each (a, c) column.
    public func maxOverMiddleAxis() -> Variable {
        precondition(rank == 3 && shape[1] > 0, "maxOverMiddleAxis: expects [a, b > 0, c], got \(shape)")
        let (a, b, c) = (shape[0], shape[1], shape[2])
        var arg = [Int32](repeating: 0, count: a * c)
        var out = Tensor.zeros([a, c])
        value.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                for i in 0..<a {
                    for k in 0..<c { y[i * c + k] = x[i * b * c + k] }
                    for j in 1..<b {
                        for k in 0..<c where x[(i * b + j) * c + k] > y[i * c + k] {
                            y[i * c + k] = x[(i * b + j) * c + k]
                            arg[i * c + k] = Int32(j)
                        }
                    }
                }
            }
        }
        return Variable(out, parents: [self]) { g in
            var dx = Tensor.zeros([a, b, c])
            g.withUnsafeBufferPointer { gp in
                dx.withUnsafeMutableBufferPointer { d in
                    for i in 0..<a {
                        for k in 0..<c { d[(i * b + Int(arg[i * c + k])) * c + k] = gp[i * c + k] }
                    }
                }
            }
            return [dx]
        }
    }
}
