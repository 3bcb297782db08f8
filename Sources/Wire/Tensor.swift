/// Element type of a tensor on the wire; values match `l2s.DType` in proto/l2s.proto.
public enum DType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE 754 binary32, little-endian.
    case float32 = 1
    /// IEEE 754 binary16, little-endian.
    case float16 = 2
    /// bfloat16 (the upper half of a binary32), little-endian.
    case bfloat16 = 3

    /// Bytes per element.
    public var elementSize: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        }
    }

    /// The dtype's usual name (`float32`, `float16`, `bfloat16`).
    public var description: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        }
    }
}

/// Bounds applied to everything a peer sends, so hostile input cannot make us allocate or loop without limit.
public struct WireLimits: Sendable, Equatable {
    /// Largest accepted envelope (protobuf) frame in bytes.
    public var maxEnvelopeBytes: Int
    /// Largest accepted tensor frame in bytes.
    public var maxTensorBytes: Int
    /// Largest accepted tensor rank.
    public var maxRank: Int
    /// Largest accepted single tensor dimension.
    public var maxDimension: Int

    /// Limits from explicit values.
    public init(maxEnvelopeBytes: Int, maxTensorBytes: Int, maxRank: Int, maxDimension: Int) {
        self.maxEnvelopeBytes = maxEnvelopeBytes
        self.maxTensorBytes = maxTensorBytes
        self.maxRank = maxRank
        self.maxDimension = maxDimension
    }

    /// 4 MiB envelopes (prompts and stats are far smaller), 1 GiB tensors, rank 8, dimensions up to 2^31 - 1.
    public static let standard = WireLimits(
        maxEnvelopeBytes: 4 << 20, maxTensorBytes: 1 << 30, maxRank: 8, maxDimension: Int(Int32.max))
}

/// A dense tensor as it travels: dtype, shape and raw little-endian bytes in their own frame.
/// Wire never interprets the numbers; conversion to `Float` happens in the model layer.
public struct Tensor: Sendable, Equatable {
    /// Element type.
    public let dtype: DType
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// The raw little-endian element bytes (row-major); `count == shape.product * dtype.elementSize`.
    public let bytes: Frame

    /// A tensor whose byte count is checked against dtype and shape; throws `WireError` when they disagree.
    public init(dtype: DType, shape: [Int], bytes: Frame, limits: WireLimits = .standard) throws(WireError) {
        let field = "tensor"
        guard shape.count <= limits.maxRank else {
            throw .tooManyDimensions(field: field, rank: shape.count, limit: limits.maxRank)
        }
        for (index, dimension) in shape.enumerated() where dimension < 0 || dimension > limits.maxDimension {
            throw .invalidDimension(field: field, index: index, value: String(dimension), limit: limits.maxDimension)
        }
        try Tensor.checkSize(field: field, dtype: dtype, shape: shape, byteCount: bytes.count, limits: limits)
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Builds a tensor from wire values: dtype number and unsigned dimensions as protobuf carries them.
    init(field: String, dtypeValue: Int32, wireShape: [UInt64], bytes: Frame, limits: WireLimits) throws(WireError) {
        guard let dtype = DType(rawValue: dtypeValue) else {
            throw .unknownDType(field: field + ".dtype", value: dtypeValue)
        }
        guard wireShape.count <= limits.maxRank else {
            throw .tooManyDimensions(field: field + ".shape", rank: wireShape.count, limit: limits.maxRank)
        }
        var shape: [Int] = []
        shape.reserveCapacity(wireShape.count)
        for (index, dimension) in wireShape.enumerated() {
            guard dimension <= UInt64(limits.maxDimension) else {
                throw .invalidDimension(
                    field: field + ".shape", index: index, value: String(dimension), limit: limits.maxDimension)
            }
            shape.append(Int(dimension))
        }
        try Tensor.checkSize(field: field, dtype: dtype, shape: shape, byteCount: bytes.count, limits: limits)
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Number of elements (the product of the shape; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Checks `product(shape) * elementSize == byteCount` without overflowing, and the tensor size limit.
    private static func checkSize(
        field: String, dtype: DType, shape: [Int], byteCount: Int, limits: WireLimits
    ) throws(WireError) {
        guard byteCount <= limits.maxTensorBytes else {
            throw .frameTooLarge(frame: field, bytes: byteCount, limit: limits.maxTensorBytes)
        }
        // A zero dimension makes the product zero whatever the others are, so check it before multiplying.
        var expected = shape.contains(0) ? 0 : dtype.elementSize
        for dimension in shape where expected != 0 {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw .tensorSizeMismatch(
                    field: field, dtype: dtype, shape: shape, expectedBytes: "more than \(Int.max)", gotBytes: byteCount
                )
            }
            expected = product
        }
        guard expected == byteCount else {
            throw .tensorSizeMismatch(
                field: field, dtype: dtype, shape: shape, expectedBytes: String(expected), gotBytes: byteCount)
        }
    }
}
