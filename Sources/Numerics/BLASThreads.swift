import COpenBLAS

/// The OpenBLAS thread pool size, set explicitly at startup (`--threads` / `L2S_THREADS`) rather than left
/// to OpenBLAS's guess, so that several services on one node do not oversubscribe its cores.
public enum BLASThreads {
    /// Sets the number of threads OpenBLAS uses for every later call.
    public static func set(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var current: Int { Int(openblas_get_num_threads()) }
}
