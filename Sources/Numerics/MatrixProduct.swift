import COpenBLAS
import Dispatch

/// Matrix products through OpenBLAS, one OpenBLAS thread per call. All matrices are row-major; leading dimensions are
/// given explicitly so that a head's slice of a packed [T, H*D] activation can be used in place, without copying.
public enum MatrixProduct {
    /// Output columns per tile of `tiledGemm`: a multiple of every x86 sgemm kernel's column block, and wide enough
    /// that re-packing A for each tile (K x M reads per K x M x 128 multiply-adds) costs under 1 %.
    public static let columnTile = 128

    /// OpenBLAS's own threads, set once before the first call: one (see `BLASThreads`).
    private static let singleThreaded: Void = openblas_set_num_threads(1)

    /// C[M, N] = alpha * op(A) * op(B) + beta * C, where op(A) is [M, K] and op(B) is [K, N], in one OpenBLAS call.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    @inline(__always)
    public static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreaded
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The same product as `gemm` (A not transposed), as one OpenBLAS call per `columnTile` output columns, the
    /// tiles shared by `threads` workers. The tiling depends on the shape alone, so the bits do not depend on
    /// `threads`: OpenBLAS's sgemm kernels can round a column differently by where it falls in their blocks.
    public static func tiledGemm(
        transposeB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
        ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
    ) {
        let tiles = (n + columnTile - 1) / columnTile
        // Sendable: each tile reads A and its own columns of B and writes its own columns of C.
        nonisolated(unsafe) let pointers = (a, b, c)
        let tile: @Sendable (Int) -> Void = { index in
            let (a, b, c) = pointers
            let first = index * columnTile
            gemm(
                transposeB: transposeB, m: m, n: min(columnTile, n - first), k: k, a: a, lda: lda,
                b: transposeB ? b + first * ldb : b + first, ldb: ldb, beta: beta, c: c + first, ldc: ldc)
        }
        let workers = min(max(1, threads), tiles)
        guard workers > 1 else {
            for index in 0..<tiles { tile(index) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: tiles, by: workers) { tile(index) }
        }
    }

    /// y[M] = alpha * op(A) x + beta * y, where A is stored as [rows, columns] and op(A) is [M, len(x)].
    @inline(__always)
    public static func gemv(
        transposeA: Bool = false, rows: Int, columns: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        _ = singleThreaded
        cblas_sgemv(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns), alpha, a, Int32(lda),
            x, 1, beta, y, 1)
    }
}
