import Dispatch

/// Multi-head scaled dot-product attention over packed activations, mirroring transformers'
/// `eager_attention_forward`: scores = scale * Q K^T + bias (+ mask), softmax in float32, then P V.
public enum Attention {
    /// Attends `queryCount` queries to `keyCount` keys for every head and writes [queryCount, heads * headDim].
    ///
    /// Q is [queryCount, *] with head h at columns h*headDim ..< (h+1)*headDim and row stride `queryStride`;
    /// K and V are laid out the same way with row stride `keyValueStride` (so the packed QKV output of one
    /// projection, or a KV cache row, is used in place).
    /// - causalOffset: when set, query i may see key j only if j <= causalOffset + i (its absolute position).
    /// - keyMask: when set, keys whose entry is false (padding) are never attended.
    /// - positionBias: when set, [heads, queryCount, keyCount] added to the scores (T5's relative bias).
    /// - scores: scratch of at least queryCount * keyCount floats.
    /// - headWorkers: how many threads share the heads of a prompt pass (queryCount > 1); by default l2s's kernel
    ///   threads (OpenBLAS's calls run on the calling thread). Each head's numbers are the same either way.
    public static func attend(
        query: UnsafePointer<Float>, queryStride: Int, queryCount: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, keyValueStride: Int, keyCount: Int,
        heads: Int, headDim: Int, scale: Float, causalOffset: Int? = nil, keyMask: UnsafePointer<Bool>? = nil,
        positionBias: UnsafePointer<Float>? = nil, scores: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>, outputStride: Int, headWorkers: Int? = nil
    ) {
        // Sendable: each head reads the inputs and writes its own columns of `output` and its own scores.
        nonisolated(unsafe) let pointers = (query, keys, values, keyMask, positionBias, output)
        let head: @Sendable (Int, UnsafeMutablePointer<Float>) -> Void = { head, scores in
            let (query, keys, values, keyMask, positionBias, output) = pointers
            attendOne(
                head: head, query: query, queryStride: queryStride, queryCount: queryCount, keys: keys,
                values: values, keyValueStride: keyValueStride, keyCount: keyCount, headDim: headDim, scale: scale,
                causalOffset: causalOffset, keyMask: keyMask, positionBias: positionBias, scores: scores,
                output: output, outputStride: outputStride)
        }
        let workers = min(heads, headWorkers ?? BLASThreads.kernels)
        guard queryCount > 1, workers > 1 else {
            for index in 0..<heads { head(index, scores) }
            return
        }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * queryCount * keyCount)
        defer { scratch.deallocate() }
        nonisolated(unsafe) let shared = scratch
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: heads, by: workers) {
                head(index, shared + worker * queryCount * keyCount)
            }
        }
    }

    /// One head of `attend`.
    private static func attendOne(
        head: Int, query: UnsafePointer<Float>, queryStride: Int, queryCount: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, keyValueStride: Int, keyCount: Int,
        headDim: Int, scale: Float, causalOffset: Int?, keyMask: UnsafePointer<Bool>?,
        positionBias: UnsafePointer<Float>?, scores: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        let q = query + head * headDim
        let k = keys + head * headDim
        let v = values + head * headDim
        let out = output + head * headDim
        // scores[Tq, Tk] = scale * Q_h K_h^T
        if queryCount == 1 {
            MatrixProduct.gemv(
                rows: keyCount, columns: headDim, alpha: scale, a: k, lda: keyValueStride, x: q, y: scores)
        } else {
            MatrixProduct.gemm(
                transposeB: true, m: queryCount, n: keyCount, k: headDim, alpha: scale, a: q, lda: queryStride,
                b: k, ldb: keyValueStride, c: scores, ldc: keyCount)
        }
        for i in 0..<queryCount {
            let row = scores + i * keyCount
            if let positionBias {
                Kernels.add(positionBias + (head * queryCount + i) * keyCount, into: row, count: keyCount)
            }
            if let keyMask {
                for j in 0..<keyCount where !keyMask[j] { row[j] = -.infinity }
            }
            if let causalOffset {
                let last = causalOffset + i
                if last + 1 < keyCount {
                    (row + last + 1).update(repeating: -.infinity, count: keyCount - last - 1)
                }
            }
            Kernels.softmax(row, count: keyCount)
        }
        // out[Tq, D] = P V_h
        if queryCount == 1 {
            MatrixProduct.gemv(
                transposeA: true, rows: keyCount, columns: headDim, a: v, lda: keyValueStride, x: scores, y: out)
        } else {
            MatrixProduct.gemm(
                m: queryCount, n: headDim, k: keyCount, a: scores, lda: keyCount, b: v, ldb: keyValueStride,
                c: out, ldc: outputStride)
        }
    }
}
