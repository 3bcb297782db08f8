import CKernels
import Dispatch

/// y[b, j] = x[b, :] . W[j, :] for W stored [out, in]: the batch-invariant dense kernel of decoding steps, in C
/// (Sources/CKernels, one build per instruction set). Register-blocked: 4 rows x several outputs share each pass
/// over the inputs, so each weight vector is loaded once per 4 rows. Every value is summed in one order fixed by the
/// kernel variant alone, never by how many rows are in the batch or how outputs are split over threads.
enum RowwiseProduct {
    /// output[rows, out] (+)= input[rows, in] W^T for W [out, in]; outputs are split over `threads` workers.
    static func apply(
        weight: UnsafePointer<Float>, inputs: Int, outputs: Int, input: UnsafePointer<Float>, rows: Int,
        output: UnsafeMutablePointer<Float>, accumulate: Bool, threads: Int, variant: KernelVariant = .current
    ) {
        let chunks = max(1, min(threads, outputs / 256))
        // Chunks of whole 12-output groups keep the blocks full (12 is a multiple of every variant's block width).
        let chunkSize = ((outputs + chunks - 1) / chunks + 11) / 12 * 12
        let code = variant.code
        // Sendable: each worker writes a disjoint range of output columns; the inputs are only read.
        nonisolated(unsafe) let (w, x, y) = (weight, input, output)
        let work: @Sendable (Int) -> Void = { chunk in
            let begin = min(outputs, chunk * chunkSize)
            let end = min(outputs, begin + chunkSize)
            l2s_rowwise_product(code, w, inputs, outputs, begin, end, x, rows, y, accumulate ? 1 : 0)
        }
        if chunks == 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
        }
    }
}
