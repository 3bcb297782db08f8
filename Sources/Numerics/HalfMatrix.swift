/// A rank-2 weight kept as 16-bit floats (float16 or bfloat16), half the bytes of float32. The decoding-step kernel
/// widens it in registers; widening is exact, so every product equals the one over `widened()` bit for bit.
public struct HalfMatrix: Sendable {
    /// The 16-bit format of the stored bits.
    public enum Format: Sendable, Equatable {
        /// IEEE 754 binary16 (safetensors `F16`).
        case float16
        /// bfloat16 (safetensors `BF16`).
        case bfloat16
    }

    /// The format of `bits`.
    public let format: Format
    /// [rows, columns].
    public let shape: [Int]
    /// The values' bits, row-major, in native byte order.
    public let bits: [UInt16]

    /// A matrix of `shape` from its values' bits, row-major.
    public init(format: Format, shape: [Int], bits: [UInt16]) throws {
        guard shape.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
            throw NumericsError.negativeDimension(shape: shape)
        }
        guard bits.count == shape[0] * shape[1] else {
            throw NumericsError.shapeMismatch(shape: shape, expectedCount: shape[0] * shape[1], actualCount: bits.count)
        }
        self.format = format
        self.shape = shape
        self.bits = bits
    }

    /// A matrix of `shape` from little-endian bytes as stored in a checkpoint (any alignment).
    public init(format: Format, shape: [Int], littleEndianBytes bytes: UnsafeRawBufferPointer) throws {
        let bits = (0..<(bytes.count / 2)).map {
            UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))
        }
        guard bytes.count % 2 == 0 else {
            throw NumericsError.shapeMismatch(shape: shape, expectedCount: bits.count, actualCount: bytes.count)
        }
        try self.init(format: format, shape: shape, bits: bits)
    }

    /// The same values as float32 (exact), as a checkpoint loader that widens at load would hold them.
    public func widened() -> Tensor {
        let scalars: [Float] =
            switch format {
            case .float16: bits.map { HalfPrecision.float(fromFloat16Bits: $0) }
            case .bfloat16: bits.map { HalfPrecision.float(fromBFloat16Bits: $0) }
            }
        return Tensor(checkedShape: shape, scalars: scalars)
    }

    /// The transpose [columns, rows], still 16-bit.
    func transposed() -> HalfMatrix {
        let (rows, columns) = (shape[0], shape[1])
        var result = [UInt16](repeating: 0, count: bits.count)
        for row in 0..<rows {
            for column in 0..<columns { result[column * rows + row] = bits[row * columns + column] }
        }
        return HalfMatrix(checkedFormat: format, shape: [columns, rows], bits: result)
    }

    private init(checkedFormat format: Format, shape: [Int], bits: [UInt16]) {
        self.format = format
        self.shape = shape
        self.bits = bits
    }
}
