/// A tiny, fast, seedable random number generator (SplitMix64, Steele, Lea and Flood 2014).
///
/// Splits, the synthetic generator and samplers in the data layer draw from it so that the
/// same seed gives the same result on every platform and toolchain: the helpers below
/// (``nextInt(below:)``, ``nextDouble()``, ``shuffle(_:)``) are written out here instead of
/// relying on the standard library's `shuffle(using:)` or `Int.random(in:using:)`, whose
/// algorithms are not promised to stay the same across Swift releases.
///
/// The data layer does not depend on the tensor core, so this is separate from its generator.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The generator `SplitMix64(seed:)` becomes after `draws` calls of `next()`, reached at
    /// once: any stretch of the stream can be read without the values before it.
    public init(seed: UInt64, skipping draws: UInt64) { state = seed &+ draws &* 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<upperBound` (Lemire's multiply-and-reject; no modulo bias).
    public mutating func nextInt(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "nextInt(below:) needs a positive bound, got \(upperBound)")
        let bound = UInt64(upperBound)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }

    /// A uniform integer in `range`.
    public mutating func nextInt(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + nextInt(below: range.upperBound - range.lowerBound + 1)
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Shuffles `elements` in place (Fisher–Yates, from the back).
    public mutating func shuffle<C: MutableCollection & RandomAccessCollection>(_ elements: inout C) {
        let n = elements.count
        guard n > 1 else { return }
        var i = n - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            if i != j {
                elements.swapAt(
                    elements.index(elements.startIndex, offsetBy: i), elements.index(elements.startIndex, offsetBy: j))
            }
            i -= 1
        }
    }
}
