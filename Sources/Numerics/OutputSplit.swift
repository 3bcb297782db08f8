import Dispatch

/// How the C products share a layer's outputs between threads: disjoint ranges of output columns, each a whole
/// number of the kernel's blocks, so workers never write the same value. Used by `RowwiseProduct` and
/// `PackedInt8Matrix`.
enum OutputSplit {
    /// Calls `work` on disjoint, non-empty output ranges covering [0, outputs), each starting at a multiple of
    /// `group`, on up to `threads` workers, with at least `minimumPerWorker` outputs each (one worker when the layer
    /// is small).
    static func run(
        outputs: Int, threads: Int, group: Int, minimumPerWorker: Int, work: @escaping @Sendable (Int, Int) -> Void
    ) {
        let chunks = max(1, min(threads, outputs / minimumPerWorker))
        let chunkSize = ((outputs + chunks - 1) / chunks + group - 1) / group * group
        let range: @Sendable (Int) -> Void = { chunk in
            let begin = min(outputs, chunk * chunkSize)
            if begin < outputs { work(begin, min(outputs, begin + chunkSize)) }
        }
        if chunks == 1 {
            range(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: range)
        }
    }
}
