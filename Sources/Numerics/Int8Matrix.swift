import CKernels

/// A rank-2 weight [outputs, inputs] quantised to int8 with one float32 scale per output row (symmetric:
/// w ≈ q * scale, q in [-127, 127], scale = max|row| / 127). A quarter of float32's bytes; `PackedInt8Matrix`
/// packs it for the int8 product. Lossy: opt-in through `WeightStorage.int8`, with its cost measured in
/// docs/kernels.md.
public struct Int8Matrix: Sendable {
    /// [outputs, inputs].
    public let shape: [Int]
    /// The integers, row-major.
    public let values: [Int8]
    /// One scale per output row.
    public let scales: [Float]

    /// A matrix from its integers and row scales as they are (no quantisation).
    public init(shape: [Int], values: [Int8], scales: [Float]) throws {
        guard shape.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
            throw NumericsError.negativeDimension(shape: shape)
        }
        guard values.count == shape[0] * shape[1] else {
            throw NumericsError.shapeMismatch(
                shape: shape, expectedCount: shape[0] * shape[1], actualCount: values.count)
        }
        guard scales.count == shape[0] else {
            throw NumericsError.shapeMismatch(shape: [shape[0]], expectedCount: shape[0], actualCount: scales.count)
        }
        self.shape = shape
        self.values = values
        self.scales = scales
    }

    /// Quantises a float32 weight [outputs, inputs] row by row: scale = max|w| / 127 (0 for an all-zero row),
    /// q = w * (127 / max) rounded to nearest, ties to even (`l2s_int8_quantize_weights`, the rule the int8 product
    /// applies to its input rows). Throws on a non-finite weight, naming its place.
    public init(quantizing weight: Tensor) throws {
        guard weight.rank == 2 else {
            throw NumericsError.shapeMismatch(shape: weight.shape, expectedCount: 2, actualCount: weight.rank)
        }
        let (rows, columns) = (weight.shape[0], weight.shape[1])
        var values = [Int8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 0, count: rows)
        let bad = weight.withUnsafeBufferPointer {
            l2s_int8_quantize_weights($0.baseAddress, rows, columns, &values, &scales)
        }
        if bad >= 0 { throw NumericsError.nonFinite(row: bad / max(columns, 1), column: bad % max(columns, 1)) }
        try self.init(shape: weight.shape, values: values, scales: scales)
    }

    /// The values the kernel computes with, q * scale, as float32 (for measuring the quantisation error).
    public func dequantized() -> Tensor {
        let columns = shape[1]
        return Tensor(
            checkedShape: shape,
            scalars: values.enumerated().map { Float($0.element) * scales[$0.offset / max(columns, 1)] })
    }
}
