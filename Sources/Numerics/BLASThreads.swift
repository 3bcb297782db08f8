import COpenBLAS
import Foundation
import Synchronization

/// The threads of the dense products, set explicitly at startup (`--threads` / `L2S_THREADS`) rather than guessed,
/// so that several services on one node do not oversubscribe its cores. They are l2s's own workers: the step and
/// int8 products, the column tiles of OpenBLAS's products (`MatrixProduct.tiledGemm`) and the heads of a prompt
/// pass's attention split over them. OpenBLAS itself runs one thread per call (`MatrixProduct` sees to it): its
/// threaded sgemm gives other bits for other thread counts on some CPUs (the Zen kernels of Debian's 0.3.21), and
/// its idle workers spin on `sched_yield` after each call, taking a core from the kernels' workers.
public enum BLASThreads {
    private static let kernelThreads = Atomic<Int>(0)

    /// Sets `count` workers for l2s's kernels.
    public static func set(_ count: Int) {
        kernelThreads.store(max(1, count), ordering: .relaxed)
    }

    /// The number of workers l2s's kernels split a product over: as set, else the machine's active cores.
    public static var kernels: Int {
        let count = kernelThreads.load(ordering: .relaxed)
        return count > 0 ? count : max(1, ProcessInfo.processInfo.activeProcessorCount)
    }
}
