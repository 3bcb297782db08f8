import CKernels

/// y[b, j] = x[b, :] . W[j, :] for W stored [out, in]: the batch-invariant dense kernel of decoding steps, in C
/// (Sources/CKernels, one build per instruction set). Register-blocked: 4 rows x several outputs share each pass
/// over the inputs, so each weight vector is loaded once per 4 rows. Every value is summed in one order fixed by the
/// kernel variant alone, never by how many rows are in the batch or how outputs are split over threads.
enum RowwiseProduct {
    /// output[rows, out] (+)= input[rows, in] W^T for W [out, in]; outputs are split over `threads` workers.
    static func apply(
        weight: UnsafePointer<Float>, inputs: Int, outputs: Int, input: UnsafePointer<Float>, rows: Int,
        output: UnsafeMutablePointer<Float>, accumulate: Bool, threads: Int
    ) {
        let code = KernelVariant.current.code
        // Sendable: each worker writes a disjoint range of output columns; the inputs are only read.
        nonisolated(unsafe) let (w, x, y) = (weight, input, output)
        split(outputs: outputs, inputs: inputs, rows: rows, weightBytes: 4, threads: threads) { begin, end in
            l2s_rowwise_product(code, w, inputs, outputs, begin, end, x, rows, y, accumulate ? 1 : 0)
        }
    }

    /// The same product for a 16-bit weight, widened in registers: bit-identical to `apply` on `weight.widened()`.
    static func apply(
        weight: HalfMatrix, inputs: Int, outputs: Int, input: UnsafePointer<Float>, rows: Int,
        output: UnsafeMutablePointer<Float>, accumulate: Bool, threads: Int
    ) {
        let code = KernelVariant.current.code
        let format = Int32(weight.format == .bfloat16 ? L2S_HALF_BFLOAT16 : L2S_HALF_FLOAT16)
        weight.withUnsafeBufferPointer { bits in
            // Sendable: as above; `bits` outlives the (synchronous) split.
            nonisolated(unsafe) let (w, x, y) = (bits.baseAddress!, input, output)
            split(outputs: outputs, inputs: inputs, rows: rows, weightBytes: 2, threads: threads) { begin, end in
                l2s_rowwise_product_half(code, format, w, inputs, outputs, begin, end, x, rows, y, accumulate ? 1 : 0)
            }
        }
    }

    /// The multiply-adds that make a worker worth waking when its weights are fewer than
    /// `OutputSplit.minimumBytesPerWorker`.
    static let minimumMultiplyAddsPerWorker = 1 << 20

    /// Calls `work` on disjoint output ranges: whole 12-output groups (a multiple of every variant's block width),
    /// at least 256 outputs per worker, and enough work for each (`OutputSplit.minimumPerWorker`).
    private static func split(
        outputs: Int, inputs: Int, rows: Int, weightBytes: Int, threads: Int,
        work: @escaping @Sendable (Int, Int) -> Void
    ) {
        let minimum = OutputSplit.minimumPerWorker(
            inputs: inputs, rows: rows, weightBytes: weightBytes, multiplyAdds: minimumMultiplyAddsPerWorker, floor: 256
        )
        OutputSplit.run(outputs: outputs, threads: threads, group: 12, minimumPerWorker: minimum, work: work)
    }
}
