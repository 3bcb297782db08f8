import Foundation
import Numerics

// Z as the wire delivers it (docs/bundle.md, "Reference forward" step 4): float32 rounded to the bundle's wire
// dtype with round-to-nearest-even, exactly as torch's `.to(torch.float16 / torch.bfloat16)`, then widened back.
// Every path applies it exactly once, so an in-process run equals a run through the cluster.

/// The dtype an encoding travels in (`wire_dtype` of l2s.json).
public enum WireDType: String, Sendable, Equatable, CaseIterable {
    /// IEEE 754 binary32, no rounding.
    case float32
    /// IEEE 754 binary16 (the default).
    case float16
    /// bfloat16: the upper 16 bits of a float32.
    case bfloat16

    /// Bytes per element on the wire.
    public var elementSize: Int { self == .float32 ? 4 : 2 }
}

/// Rounding of float32 values to a wire dtype, and conversion to and from its little-endian bytes.
public enum WireRounding {
    /// `value` rounded to `dtype` (nearest, ties to even; overflow to infinity) and widened back to float32.
    @inline(__always)
    public static func round(_ value: Float, to dtype: WireDType) -> Float {
        switch dtype {
        case .float32: return value
        case .float16: return HalfPrecision.float(fromFloat16Bits: HalfPrecision.float16Bits(from: value))
        case .bfloat16: return HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: value))
        }
    }

    /// Every value rounded to `dtype` and widened back: what a receiver of `narrow(values, to: dtype)` sees.
    public static func round(_ values: [Float], to dtype: WireDType) -> [Float] {
        dtype == .float32 ? values : values.map { round($0, to: dtype) }
    }

    /// The little-endian wire bytes of `values` in `dtype` (`values.count * dtype.elementSize` bytes).
    public static func narrow(_ values: [Float], to dtype: WireDType) -> [UInt8] {
        let size = dtype.elementSize
        return [UInt8](unsafeUninitializedCapacity: values.count * size) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for (index, value) in values.enumerated() {
                switch dtype {
                case .float32:
                    raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
                case .float16:
                    raw.storeBytes(
                        of: HalfPrecision.float16Bits(from: value).littleEndian, toByteOffset: index * 2,
                        as: UInt16.self)
                case .bfloat16:
                    raw.storeBytes(
                        of: HalfPrecision.bfloat16Bits(from: value).littleEndian, toByteOffset: index * 2,
                        as: UInt16.self)
                }
            }
            initialized = values.count * size
        }
    }

    /// float32 values of little-endian wire bytes in `dtype` (exact: every float16/bfloat16 is a float32); throws
    /// `wireByteCount` when the byte count is not a multiple of the element size.
    public static func widen(bytes: UnsafeRawBufferPointer, dtype: WireDType) throws -> [Float] {
        guard bytes.count % dtype.elementSize == 0 else {
            throw ModelError.wireByteCount(
                dtype: dtype.rawValue, byteCount: bytes.count, elementSize: dtype.elementSize)
        }
        guard bytes.count > 0 else { return [] }
        switch dtype {
        case .float32: return HalfPrecision.floats(fromFloat32: bytes)
        case .float16: return HalfPrecision.floats(fromFloat16: bytes)
        case .bfloat16: return HalfPrecision.floats(fromBFloat16: bytes)
        }
    }

    /// float32 values of little-endian wire bytes (`[UInt8]`, `Data`, ...) in `dtype`.
    public static func widen(bytes: some ContiguousBytes, dtype: WireDType) throws -> [Float] {
        try bytes.withUnsafeBytes { try widen(bytes: $0, dtype: dtype) }
    }
}
