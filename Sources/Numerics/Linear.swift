/// How a dense layer computes a single row.
public enum RowKernel: Sendable, Equatable {
    /// OpenBLAS throughout (gemv for one row, gemm for more): a row's last bits differ from the same row computed
    /// inside a larger batch. Slower than `.batchInvariant` for decoding steps on the machines measured
    /// (BENCHMARKS.md); kept as the reference path.
    case blas
    /// Decoding-step rows (one per sequence) go through a kernel whose every result depends only on its own
    /// input row (`RowwiseProduct`), so a sequence's numbers do not depend on the rest of the batch; prompt passes
    /// (one sequence, many rows, the same products in every path) use gemm.
    case batchInvariant

    /// The most sequences one batched step puts through a product at once (their input rows then stay in cache).
    public static let invariantRows = 64
}

/// A dense layer y = x W^T + b (PyTorch `nn.Linear`, weight [out, in]) or y = x W + b (GPT-2 `Conv1D`,
/// weight [in, out]). The weights are read-only and shared by every sequence.
public struct Linear: Sendable {
    /// How the weight matrix is laid out in the checkpoint.
    public enum Layout: Sendable {
        /// `nn.Linear`: [out, in].
        case outputsByInputs
        /// GPT-2 `Conv1D`: [in, out].
        case inputsByOutputs
    }

    /// Where the weight lives, shaped as `layout` says.
    enum Storage: Sendable {
        /// float32: products of every kind.
        case float32(Tensor)
        /// 16-bit, widened in registers by the step kernel; other products widen into a per-thread scratch.
        case half(HalfMatrix)
        /// int8 rows packed for the int8 product, the input rows quantised per call (steps and prompt passes alike).
        case int8(PackedInt8Matrix)
    }

    /// The weight.
    let storage: Storage
    /// Optional bias [out].
    public let bias: Tensor?
    /// The weight layout.
    public let layout: Layout
    /// Input features.
    public let inputCount: Int
    /// Output features.
    public let outputCount: Int
    /// How a single row is computed.
    public let rowKernel: RowKernel

    /// A layer over a rank-2 `weight` in `layout`, with an optional bias of `outputCount` values.
    /// The batch-invariant kernel needs [out, in], so an [in, out] weight is transposed (copied) for it.
    public init(
        weight: Tensor, bias: Tensor? = nil, layout: Layout = .outputsByInputs, rowKernel: RowKernel = .batchInvariant
    ) {
        precondition(weight.rank == 2, "Linear weight must be rank 2, got \(weight.shape)")
        let transpose = rowKernel == .batchInvariant && layout == .inputsByOutputs
        self.init(
            storage: .float32(transpose ? weight.transposed() : weight),
            shape: transpose ? weight.shape.reversed() : weight.shape,
            bias: bias, layout: transpose ? .outputsByInputs : layout, rowKernel: rowKernel)
    }

    /// A layer whose weight stays 16-bit in memory (half the bytes of float32). Decoding steps under
    /// `.batchInvariant` widen it in registers and give exactly the bits of the same layer over `weight.widened()`;
    /// other products (prompt passes, `.blas`) widen it into a per-thread scratch per call and run the float32
    /// product, so they give its bits too and pay one pass over the weight.
    public init(
        halfWeight weight: HalfMatrix, bias: Tensor? = nil, layout: Layout = .outputsByInputs,
        rowKernel: RowKernel = .batchInvariant
    ) {
        let transpose = rowKernel == .batchInvariant && layout == .inputsByOutputs
        self.init(
            storage: .half(transpose ? weight.transposed() : weight),
            shape: transpose ? weight.shape.reversed() : weight.shape,
            bias: bias, layout: transpose ? .outputsByInputs : layout, rowKernel: rowKernel)
    }

    /// A layer whose weight is `weight` quantised to int8 per output row (`Int8Matrix(quantizing:)`); an [in, out]
    /// weight is transposed first. Every product, one row or many, goes through the int8 product, which quantises
    /// each input row by itself, so rows are batch-invariant whatever `rowKernel` says. Lossy: docs/kernels.md
    /// measures the cost.
    public init(int8Weight weight: Tensor, bias: Tensor? = nil, layout: Layout = .outputsByInputs) throws {
        precondition(weight.rank == 2, "Linear weight must be rank 2, got \(weight.shape)")
        let rows = layout == .inputsByOutputs ? weight.transposed() : weight
        let matrix = try Int8Matrix(quantizing: rows)
        self.init(
            storage: .int8(PackedInt8Matrix(matrix)), shape: rows.shape,
            bias: bias, layout: .outputsByInputs, rowKernel: .batchInvariant)
    }

    private init(storage: Storage, shape: [Int], bias: Tensor?, layout: Layout, rowKernel: RowKernel) {
        self.storage = storage
        self.bias = bias
        self.layout = layout
        self.rowKernel = rowKernel
        switch layout {
        case .outputsByInputs: (outputCount, inputCount) = (shape[0], shape[1])
        case .inputsByOutputs: (inputCount, outputCount) = (shape[0], shape[1])
        }
        precondition(bias == nil || bias!.count == outputCount, "Linear bias must have \(outputCount) values")
    }

    /// The 16-bit format the weight is kept in, or nil for float32 and int8.
    public var halfFormat: HalfMatrix.Format? {
        if case .half(let weight) = storage { return weight.format }
        return nil
    }

    /// True when the weight is kept as int8 rows with scales.
    public var isInt8: Bool {
        if case .int8 = storage { return true }
        return false
    }

    /// output[rows, out] = input[rows, in] W (+ bias), or `+=` when `accumulate` (for residual connections).
    /// A single row goes through gemv, more rows through gemm in column tiles; `step` rows (one per decoding
    /// sequence) go through `RowwiseProduct` instead when the row kernel is batch-invariant; int8 weights always take
    /// the int8 product.
    public func apply(
        _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>, accumulate: Bool = false,
        step: Bool = false
    ) {
        let rowwise = step && rowKernel == .batchInvariant
        switch storage {
        case .float32(let weight):
            weight.withUnsafeBufferPointer { w in
                if rowwise {
                    RowwiseProduct.apply(
                        weight: w.baseAddress!, inputs: inputCount, outputs: outputCount, input: input, rows: rows,
                        output: output, accumulate: accumulate, threads: BLASThreads.kernels)
                } else {
                    blas(w.baseAddress!, input, rows: rows, into: output, accumulate: accumulate)
                }
            }
        case .half(let weight) where rowwise:
            RowwiseProduct.apply(
                weight: weight, inputs: inputCount, outputs: outputCount, input: input, rows: rows, output: output,
                accumulate: accumulate, threads: BLASThreads.kernels)
        case .half(let weight):
            // Widened exactly into this thread's scratch (no allocation per call), then the float32 product: the
            // bits of the same layer over float32 weights.
            WideningScratch.withBuffer(count: inputCount * outputCount) { wide in
                weight.widen(into: wide)
                blas(wide, input, rows: rows, into: output, accumulate: accumulate)
            }
        case .int8(let weight):
            weight.apply(input, rows: rows, into: output, accumulate: accumulate, threads: BLASThreads.kernels)
        }
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for row in 0..<rows {
                    Kernels.add(b.baseAddress!, into: output + row * outputCount, count: outputCount)
                }
            }
        }
    }

    /// output (+)= input W through OpenBLAS: gemv for one row, column tiles of gemm for more.
    private func blas(
        _ weights: UnsafePointer<Float>, _ input: UnsafePointer<Float>, rows: Int,
        into output: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let beta: Float = accumulate ? 1 : 0
        if rows == 1 {
            switch layout {
            case .outputsByInputs:
                MatrixProduct.gemv(
                    rows: outputCount, columns: inputCount, a: weights, lda: inputCount, x: input, beta: beta,
                    y: output)
            case .inputsByOutputs:
                MatrixProduct.gemv(
                    transposeA: true, rows: inputCount, columns: outputCount, a: weights, lda: outputCount,
                    x: input, beta: beta, y: output)
            }
        } else {
            let transposed = layout == .outputsByInputs
            MatrixProduct.tiledGemm(
                transposeB: transposed, m: rows, n: outputCount, k: inputCount, a: input, lda: inputCount,
                b: weights, ldb: transposed ? inputCount : outputCount, beta: beta, c: output, ldc: outputCount,
                threads: BLASThreads.kernels)
        }
    }
}
