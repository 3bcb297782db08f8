import CKernels
import Foundation

/// Read-only 16-bit memory owned by someone else (a memory-mapped weight file), kept alive by `owner`.
/// Sendable: the memory is never written while any reference exists (a read-only mapping), and `owner` is only
/// retained, never used.
public final class BorrowedHalves: @unchecked Sendable {
    /// The first value; 2-byte aligned.
    public let base: UnsafePointer<UInt16>
    /// Number of values.
    public let count: Int
    let owner: AnyObject

    /// Values at `base` that stay valid as long as `owner` lives.
    public init(base: UnsafePointer<UInt16>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
    }
}

/// A rank-2 weight kept as 16-bit floats (float16 or bfloat16), half the bytes of float32: an owned array, or the
/// memory-mapped checkpoint used in place (shared by every process that maps it). The decoding-step kernel widens
/// it in registers; widening is exact, so every product equals the one over `widened()` bit for bit.
public struct HalfMatrix: Sendable {
    /// The 16-bit format of the stored bits.
    public enum Format: Sendable, Equatable {
        /// IEEE 754 binary16 (safetensors `F16`).
        case float16
        /// bfloat16 (safetensors `BF16`).
        case bfloat16
    }

    enum Storage: Sendable {
        case owned([UInt16])
        case borrowed(BorrowedHalves)
    }

    /// The format of the values.
    public let format: Format
    /// [rows, columns].
    public let shape: [Int]
    /// The values' bits, row-major, in native byte order.
    let storage: Storage

    /// A matrix of `shape` from its values' bits, row-major.
    public init(format: Format, shape: [Int], bits: [UInt16]) throws {
        try Self.check(shape: shape, count: bits.count)
        self.init(checkedFormat: format, shape: shape, storage: .owned(bits))
    }

    /// A matrix of `shape` over borrowed memory (a mapped checkpoint), used in place.
    public init(format: Format, shape: [Int], borrowing values: BorrowedHalves) throws {
        try Self.check(shape: shape, count: values.count)
        self.init(checkedFormat: format, shape: shape, storage: .borrowed(values))
    }

    /// A matrix of `shape` copied from little-endian bytes as stored in a checkpoint (any alignment).
    public init(format: Format, shape: [Int], littleEndianBytes bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count % 2 == 0 else {
            throw NumericsError.shapeMismatch(shape: shape, expectedCount: bytes.count / 2, actualCount: bytes.count)
        }
        let bits = (0..<(bytes.count / 2)).map {
            UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))
        }
        try self.init(format: format, shape: shape, bits: bits)
    }

    /// `weight` (rank 2) rounded to `format`, to nearest with ties to even (exact for values the format holds).
    public init(converting weight: Tensor, to format: Format) {
        precondition(weight.rank == 2, "HalfMatrix needs a rank-2 tensor, got \(weight.shape)")
        let round = format == .float16 ? HalfPrecision.float16Bits(from:) : HalfPrecision.bfloat16Bits(from:)
        self.init(checkedFormat: format, shape: weight.shape, storage: .owned(weight.scalars.map(round)))
    }

    private init(checkedFormat format: Format, shape: [Int], storage: Storage) {
        self.format = format
        self.shape = shape
        self.storage = storage
    }

    private static func check(shape: [Int], count: Int) throws {
        guard shape.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
            throw NumericsError.negativeDimension(shape: shape)
        }
        guard count == shape[0] * shape[1] else {
            throw NumericsError.shapeMismatch(shape: shape, expectedCount: shape[0] * shape[1], actualCount: count)
        }
    }

    /// Calls `body` with the values' bits, row-major.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt16>) throws -> R) rethrows -> R {
        switch storage {
        case .owned(let bits): try bits.withUnsafeBufferPointer(body)
        case .borrowed(let values): try body(UnsafeBufferPointer(start: values.base, count: values.count))
        }
    }

    /// True when the values are used in place from borrowed (memory-mapped) memory.
    public var isBorrowed: Bool {
        if case .borrowed = storage { return true }
        return false
    }

    /// One value's bits widened to float32, exactly.
    @inline(__always)
    func widen(_ bits: UInt16) -> Float {
        format == .float16 ? HalfPrecision.float(fromFloat16Bits: bits) : HalfPrecision.float(fromBFloat16Bits: bits)
    }

    /// The same values as float32 (exact), as a checkpoint loader that widens at load would hold them.
    public func widened() -> Tensor {
        Tensor(checkedShape: shape, scalars: withUnsafeBufferPointer { $0.map(widen) })
    }

    /// The values widened (exactly) into `output` [rows * columns] by the kernels of the current variant: what a
    /// float32 product (a prompt pass) reads, written into a scratch buffer the caller reuses.
    func widen(into output: UnsafeMutablePointer<Float>) {
        let format = Int32(self.format == .bfloat16 ? L2S_HALF_BFLOAT16 : L2S_HALF_FLOAT16)
        withUnsafeBufferPointer { bits in
            l2s_widen_half(KernelVariant.current.code, format, bits.baseAddress, bits.count, output)
        }
    }

    /// The transpose [columns, rows], still 16-bit (owned).
    func transposed() -> HalfMatrix {
        let (rows, columns) = (shape[0], shape[1])
        var result = [UInt16](repeating: 0, count: rows * columns)
        withUnsafeBufferPointer { bits in
            for row in 0..<rows {
                for column in 0..<columns { result[column * rows + row] = bits[row * columns + column] }
            }
        }
        return HalfMatrix(checkedFormat: format, shape: [columns, rows], storage: .owned(result))
    }
}
