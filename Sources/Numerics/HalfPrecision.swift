/// Conversions from the 16-bit float formats found in checkpoints and on the wire to float32.
/// Both are exact: every float16 and bfloat16 value is representable in float32.
public enum HalfPrecision {
    /// IEEE 754 binary16 bits to float32.
    @inline(__always)
    public static func float(fromFloat16Bits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// bfloat16 bits (the upper half of a float32) to float32.
    @inline(__always)
    public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// float32 to IEEE 754 binary16 bits, rounding to nearest even (used to round encodings to the wire dtype).
    @inline(__always)
    public static func float16Bits(from value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// float32 to bfloat16 bits, rounding to nearest even as PyTorch does; NaN stays NaN.
    @inline(__always)
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// Little-endian float16 bytes to float32 values; `bytes.count` must be even.
    public static func floats(fromFloat16 bytes: UnsafeRawBufferPointer) -> [Float] {
        convert(bytes) { float(fromFloat16Bits: $0) }
    }

    /// Little-endian bfloat16 bytes to float32 values; `bytes.count` must be even.
    public static func floats(fromBFloat16 bytes: UnsafeRawBufferPointer) -> [Float] {
        convert(bytes) { float(fromBFloat16Bits: $0) }
    }

    /// Little-endian float32 bytes (any alignment) to float32 values; `bytes.count` must be a multiple of 4.
    public static func floats(fromFloat32 bytes: UnsafeRawBufferPointer) -> [Float] {
        let count = bytes.count / 4
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0, let base = buffer.baseAddress {
                UnsafeMutableRawPointer(base).copyMemory(from: bytes.baseAddress!, byteCount: count * 4)
            }
            for index in 0..<count { buffer[index] = Float(bitPattern: UInt32(littleEndian: buffer[index].bitPattern)) }
            initialized = count
        }
    }

    private static func convert(_ bytes: UnsafeRawBufferPointer, _ transform: (UInt16) -> Float) -> [Float] {
        let count = bytes.count / 2
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count {
                let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                buffer[index] = transform(bits)
            }
            initialized = count
        }
    }
}
