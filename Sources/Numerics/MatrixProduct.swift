import COpenBLAS

/// Matrix products through OpenBLAS. All matrices are row-major; leading dimensions are given explicitly so that
/// a head's slice of a packed [T, H*D] activation can be used in place, without copying.
public enum MatrixProduct {
    /// C[M, N] = alpha * op(A) * op(B) + beta * C, where op(A) is [M, K] and op(B) is [K, N].
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    @inline(__always)
    public static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[M] = alpha * op(A) x + beta * y, where A is stored as [rows, columns] and op(A) is [M, len(x)].
    @inline(__always)
    public static func gemv(
        transposeA: Bool = false, rows: Int, columns: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns), alpha, a, Int32(lda),
            x, 1, beta, y, 1)
    }
}

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

    /// The weight, shaped as `layout` says.
    public let weight: Tensor
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
        if rowKernel == .batchInvariant && layout == .inputsByOutputs {
            self.weight = weight.transposed()
            self.layout = .outputsByInputs
        } else {
            self.weight = weight
            self.layout = layout
        }
        self.bias = bias
        self.rowKernel = rowKernel
        switch self.layout {
        case .outputsByInputs: (outputCount, inputCount) = (self.weight.shape[0], self.weight.shape[1])
        case .inputsByOutputs: (inputCount, outputCount) = (self.weight.shape[0], self.weight.shape[1])
        }
        precondition(bias == nil || bias!.count == outputCount, "Linear bias must have \(outputCount) values")
    }

    /// output[rows, out] = input[rows, in] W (+ bias), or `+=` when `accumulate` (for residual connections).
    /// A single row goes through gemv, more rows through one gemm; `step` rows (one per decoding sequence) go
    /// through `RowwiseProduct` instead when the row kernel is batch-invariant.
    public func apply(
        _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>, accumulate: Bool = false,
        step: Bool = false
    ) {
        let beta: Float = accumulate ? 1 : 0
        weight.withUnsafeBufferPointer { w in
            let weights = w.baseAddress!
            if step && rowKernel == .batchInvariant {
                RowwiseProduct.apply(
                    weight: weights, inputs: inputCount, outputs: outputCount, input: input, rows: rows,
                    output: output, accumulate: accumulate, threads: BLASThreads.current)
            } else if rows == 1 {
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
                switch layout {
                case .outputsByInputs:
                    MatrixProduct.gemm(
                        transposeB: true, m: rows, n: outputCount, k: inputCount, a: input, lda: inputCount,
                        b: weights, ldb: inputCount, beta: beta, c: output, ldc: outputCount)
                case .inputsByOutputs:
                    MatrixProduct.gemm(
                        m: rows, n: outputCount, k: inputCount, a: input, lda: inputCount, b: weights,
                        ldb: outputCount, beta: beta, c: output, ldc: outputCount)
                }
            }
        }
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for row in 0..<rows {
                    Kernels.add(b.baseAddress!, into: output + row * outputCount, count: outputCount)
                }
            }
        }
    }
}
