/// Vectorised transcendental functions for the hot loops (softmax, tanh-GELU), 8 lanes at a time.
/// `exp` uses Cody-Waite range reduction and the Cephes degree-6 polynomial: relative error below 2 ulp over the
/// float range, far inside the 1e-4 logit tolerance against PyTorch.
enum VectorMath {
    typealias Vector = SIMD8<Float>

    /// e^x per lane; underflows to 0 below -87.3 (and for -infinity), saturates above 88.7.
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        let clamped = x.clamped(lowerBound: Vector(repeating: -87.33654), upperBound: Vector(repeating: 88.72283))
        // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the low mantissa bits (no slow
        // float -> int conversion, which Swift does not vectorise).
        let shifted = clamped * 1.442695041 + 12_582_912
        let n = shifted - 12_582_912
        let r = clamped - n * 0.693359375 + n * 2.12194440e-4
        var p = Vector(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let polynomial = p * r * r + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        let scale = unsafeBitCast(exponent, to: Vector.self)
        return (polynomial * scale).replacing(with: 0, where: x .< -87.33654)
    }

    /// tanh per lane as 1 - 2 / (e^(2x) + 1); absolute error ~1e-7.
    @inline(__always)
    static func tanh(_ x: Vector) -> Vector {
        1 - 2 / (exp(2 * x) + 1)
    }
}
