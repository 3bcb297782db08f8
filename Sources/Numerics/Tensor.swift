/// Errors of the Numerics module; each carries the actual values.
public enum NumericsError: Error, Equatable, CustomStringConvertible {
    /// The number of scalars does not match the product of the shape.
    case shapeMismatch(shape: [Int], expectedCount: Int, actualCount: Int)
    /// A dimension is negative.
    case negativeDimension(shape: [Int])
    /// An embedding index lies outside the table.
    case indexOutOfRange(index: Int32, rows: Int)

    public var description: String {
        switch self {
        case .shapeMismatch(let shape, let expected, let actual):
            return "tensor of shape \(shape) needs \(expected) scalars, got \(actual)"
        case .negativeDimension(let shape):
            return "tensor shape \(shape) has a negative dimension"
        case .indexOutOfRange(let index, let rows):
            return "token id \(index) is outside the embedding table of \(rows) rows"
        }
    }
}

/// A dense float32 tensor in row-major (C) order: a shape and contiguous storage.
/// The storage is a copy-on-write array, so passing a tensor around (e.g. a tied embedding shared by two heads)
/// never copies its scalars.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// The scalars in row-major order; `scalars.count == shape.reduce(1, *)`.
    public internal(set) var scalars: [Float]

    /// A tensor over `scalars`, which must hold exactly `shape.reduce(1, *)` values.
    public init(shape: [Int], scalars: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw NumericsError.negativeDimension(shape: shape) }
        let count = shape.reduce(1, *)
        guard count == scalars.count else {
            throw NumericsError.shapeMismatch(shape: shape, expectedCount: count, actualCount: scalars.count)
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros; `shape` must not contain negative dimensions (a programming error otherwise).
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.scalars = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// The number of scalars.
    public var count: Int { scalars.count }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// One row of a rank-2 tensor, copied out (for tests and small results, not hot loops).
    public func row(_ index: Int) -> [Float] {
        precondition(rank == 2 && index >= 0 && index < shape[0], "row \(index) of tensor \(shape)")
        let width = shape[1]
        return Array(scalars[(index * width)..<((index + 1) * width)])
    }

    /// Calls `body` with a pointer to the scalars (no copy).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the scalars (copies first only if the storage is shared).
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }
}
