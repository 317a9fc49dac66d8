/// A fast, seedable random number generator (xoshiro256**), so that every run with the
/// same seed draws the same numbers on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        // SplitMix64 spreads a small seed over the 256-bit state.
        var x = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&x)
        s1 = splitmix(&x)
        s2 = splitmix(&x)
        s3 = splitmix(&x)
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform Float in [0, 1).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A standard normal Float (Box–Muller).
    public mutating func nextNormal() -> Float {
        var u1 = nextUniform()
        while u1 <= Float.leastNormalMagnitude { u1 = nextUniform() }
        let u2 = nextUniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * Float.pi * u2)
    }

    /// A uniform integer in `0..<upperBound`.
    public mutating func nextInt(below upperBound: Int) -> Int {
        Int(next(upperBound: UInt64(upperBound)))
    }

    /// A new generator whose stream does not overlap this one's in practice.
    public mutating func split() -> SeededGenerator {
        SeededGenerator(seed: next())
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
