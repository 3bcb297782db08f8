/// Errors of the Numerics module; each carries the actual values.
public enum NumericsError: Error, Equatable, CustomStringConvertible {
    /// The number of scalars does not match the product of the shape.
    case shapeMismatch(shape: [Int], expectedCount: Int, actualCount: Int)
    /// A dimension is negative.
    case negativeDimension(shape: [Int])
    /// An embedding index lies outside the table.
    case indexOutOfRange(index: Int32, rows: Int)
    /// A weight to quantise is infinite or NaN.
    case nonFinite(row: Int, column: Int)

    public var description: String {
        switch self {
        case .shapeMismatch(let shape, let expected, let actual):
            return "tensor of shape \(shape) needs \(expected) scalars, got \(actual)"
        case .negativeDimension(let shape):
            return "tensor shape \(shape) has a negative dimension"
        case .indexOutOfRange(let index, let rows):
            return "token id \(index) is outside the embedding table of \(rows) rows"
        case .nonFinite(let row, let column):
            return "weight [\(row), \(column)] is not finite, so it cannot be quantised to int8"
        }
    }
}

/// Read-only float32 memory owned by someone else (a memory-mapped weight file), kept alive by `owner`.
/// Sendable: the memory is never written while any reference exists (a read-only mapping), and `owner` is only
/// retained, never used.
public final class BorrowedFloats: @unchecked Sendable {
    /// The first float; 4-byte aligned.
    public let base: UnsafePointer<Float>
    /// Number of floats.
    public let count: Int
    let owner: AnyObject

    /// Floats at `base` that stay valid as long as `owner` lives.
    public init(base: UnsafePointer<Float>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
    }
}

/// A dense float32 tensor in row-major (C) order: a shape and contiguous storage. The storage is either a
/// copy-on-write array or read-only borrowed memory (float32 weights used in place from a memory-mapped
/// checkpoint, shared by every process that maps the same file); either way, copying a tensor never copies scalars.
public struct Tensor: Sendable, Equatable {
    enum Storage: Sendable {
        case owned([Float])
        case borrowed(BorrowedFloats)
    }

    /// Dimensions, outermost first.
    public let shape: [Int]
    var storage: Storage

    /// A tensor over `scalars`, which must hold exactly `shape.reduce(1, *)` values.
    public init(shape: [Int], scalars: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw NumericsError.negativeDimension(shape: shape) }
        let count = shape.reduce(1, *)
        guard count == scalars.count else {
            throw NumericsError.shapeMismatch(shape: shape, expectedCount: count, actualCount: scalars.count)
        }
        self.shape = shape
        storage = .owned(scalars)
    }

    /// A tensor over borrowed memory, which must hold exactly `shape.reduce(1, *)` floats.
    public init(shape: [Int], borrowing floats: BorrowedFloats) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw NumericsError.negativeDimension(shape: shape) }
        let count = shape.reduce(1, *)
        guard count == floats.count else {
            throw NumericsError.shapeMismatch(shape: shape, expectedCount: count, actualCount: floats.count)
        }
        self.shape = shape
        storage = .borrowed(floats)
    }

    /// A tensor of zeros; `shape` must not contain negative dimensions (a programming error otherwise).
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        storage = .owned([Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// The scalars in row-major order (a copy when the storage is borrowed).
    public var scalars: [Float] {
        switch storage {
        case .owned(let array): return array
        case .borrowed(let floats): return Array(UnsafeBufferPointer(start: floats.base, count: floats.count))
        }
    }

    /// True when the scalars are used in place from borrowed (memory-mapped) memory.
    public var isBorrowed: Bool {
        if case .borrowed = storage { return true }
        return false
    }

    /// The number of scalars.
    public var count: Int { shape.reduce(1, *) }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// One row of a rank-2 tensor, copied out (for tests and small results, not hot loops).
    public func row(_ index: Int) -> [Float] {
        precondition(rank == 2 && index >= 0 && index < shape[0], "row \(index) of tensor \(shape)")
        let width = shape[1]
        return withUnsafeBufferPointer { Array($0[(index * width)..<((index + 1) * width)]) }
    }

    /// The transpose of a rank-2 tensor (a copy).
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed() needs a rank-2 tensor, got \(shape)")
        let (rows, columns) = (shape[0], shape[1])
        var result = [Float](repeating: 0, count: count)
        withUnsafeBufferPointer { source in
            for row in 0..<rows {
                for column in 0..<columns { result[column * rows + row] = source[row * columns + column] }
            }
        }
        return Tensor(checkedShape: [columns, rows], scalars: result)
    }

    /// A tensor whose scalar count is known to match `shape` (built by this module).
    init(checkedShape shape: [Int], scalars: [Float]) {
        self.shape = shape
        storage = .owned(scalars)
    }

    /// Calls `body` with a pointer to the scalars (no copy).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        switch storage {
        case .owned(let array): return try array.withUnsafeBufferPointer(body)
        case .borrowed(let floats): return try body(UnsafeBufferPointer(start: floats.base, count: floats.count))
        }
    }

    /// Calls `body` with a mutable pointer to the scalars; borrowed or shared storage is copied first.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        var array = scalars
        storage = .owned([])
        defer { storage = .owned(array) }
        return try array.withUnsafeMutableBufferPointer(body)
    }

    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape
            && lhs.withUnsafeBufferPointer { l in rhs.withUnsafeBufferPointer { r in l.elementsEqual(r) } }
    }
}
