import Dispatch

/// How the C products share a layer's outputs between threads: disjoint ranges of output columns, each a whole
/// number of the kernel's blocks, so workers never write the same value. Used by `RowwiseProduct` and
/// `PackedInt8Matrix`.
enum OutputSplit {
    /// What a worker must get to be worth waking: 256 KiB of weights to read, or enough multiply-adds (each product
    /// says how many). Waking a thread and joining it costs tens of microseconds on a VM: 512 x 512 products with
    /// one-byte weights at batch 1 (256 KiB each) ran 10-40 % slower split in two than whole, while GPT-2's 768 x 768
    /// (576 KiB), the same products in float32 or float16, batched, or t5-large's still gain from a split.
    static let minimumBytesPerWorker = 256 << 10

    /// The fewest outputs worth a worker for a product over `inputs` with `weightBytes`-byte weights and `rows` rows:
    /// enough for `minimumBytesPerWorker` or for `multiplyAdds`, whichever needs fewer, and never below `floor`.
    static func minimumPerWorker(inputs: Int, rows: Int, weightBytes: Int, multiplyAdds: Int, floor: Int) -> Int {
        let forBytes = minimumBytesPerWorker / max(1, inputs * weightBytes)
        let forArithmetic = multiplyAdds / max(1, inputs * rows)
        return max(floor, min(forBytes, forArithmetic))
    }

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
