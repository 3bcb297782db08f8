import COpenBLAS
import Synchronization

/// The threads of the dense products, set explicitly at startup (`--threads` / `L2S_THREADS`) rather than left to
/// OpenBLAS's guess, so that several services on one node do not oversubscribe its cores: OpenBLAS's pool, and the
/// workers l2s's own kernels split a product over (the step and int8 products, attention heads).
public enum BLASThreads {
    private static let kernelThreads = Atomic<Int>(0)

    /// Sets `count` threads for l2s's own kernels and `openBLAS` (default `count`) for OpenBLAS. OpenBLAS's idle
    /// workers spin on `sched_yield` for a while after each call, so a process whose large products are all l2s's
    /// own gives OpenBLAS one thread: its spinning would take a core from the kernels' workers.
    public static func set(_ count: Int, openBLAS: Int? = nil) {
        kernelThreads.store(max(1, count), ordering: .relaxed)
        openblas_set_num_threads(Int32(max(1, openBLAS ?? count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var current: Int { Int(openblas_get_num_threads()) }

    /// The number of workers l2s's own kernels split a product over: as set, else OpenBLAS's.
    public static var kernels: Int {
        let count = kernelThreads.load(ordering: .relaxed)
        return count > 0 ? count : current
    }
}
