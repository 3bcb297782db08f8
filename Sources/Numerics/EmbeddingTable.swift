/// A token embedding table [rows, width]: float32, or 16-bit when it is also a tied output head kept 16-bit
/// (docs/kernels.md). Lookups widen exactly, so both give the same rows.
public enum EmbeddingTable: Sendable {
    /// float32 values.
    case float32(Tensor)
    /// 16-bit values, widened row by row on lookup.
    case half(HalfMatrix)

    /// Number of rows (the vocabulary).
    public var rows: Int {
        switch self {
        case .float32(let table): table.shape[0]
        case .half(let table): table.shape[0]
        }
    }

    /// Values per row.
    public var width: Int {
        switch self {
        case .float32(let table): table.shape[1]
        case .half(let table): table.shape[1]
        }
    }

    /// Copies rows `ids` into `output` [ids.count, width]; throws on an id outside the table.
    public func lookup(_ ids: [Int32], into output: UnsafeMutablePointer<Float>) throws {
        let (rows, width) = (self.rows, self.width)
        switch self {
        case .float32(let table):
            try table.withUnsafeBufferPointer { values in
                try Kernels.embedding(values.baseAddress!, rows: rows, width: width, ids: ids, into: output)
            }
        case .half(let table):
            try table.withUnsafeBufferPointer { bits in
                for (position, id) in ids.enumerated() {
                    guard id >= 0, Int(id) < rows else { throw NumericsError.indexOutOfRange(index: id, rows: rows) }
                    let row = Int(id) * width
                    for index in 0..<width { output[position * width + index] = table.widen(bits[row + index]) }
                }
            }
        }
    }

    /// The table as float32 (widened exactly when 16-bit).
    public func widened() -> Tensor {
        switch self {
        case .float32(let table): table
        case .half(let table): table.widened()
        }
    }

    /// The output head that shares this table's weights (no copy): y = x E^T.
    public func tiedHead(rowKernel: RowKernel) -> Linear {
        switch self {
        case .float32(let table): Linear(weight: table, rowKernel: rowKernel)
        case .half(let table): Linear(halfWeight: table, rowKernel: rowKernel)
        }
    }
}
