import Dispatch

/// y[b, j] = x[b, :] . W[j, :] for W stored [out, in], computed one output at a time with a fixed summation order
/// (four 8-lane accumulators over K, then a fixed reduction). Each result depends only on its own row of x and
/// row of W, never on how many rows are in the batch or how outputs are split over threads: the batch-invariant
/// dense kernel of decoding steps. Reads W once per call, so it runs at memory bandwidth like gemv.
enum RowwiseProduct {
    typealias Vector = SIMD8<Float>

    /// The dot product of `count` floats at `a` and `b`, in the fixed order described above.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        var s0 = Vector()
        var s1 = Vector()
        var s2 = Vector()
        var s3 = Vector()
        var k = 0
        while k + 32 <= count {
            let offset = k * 4
            s0 +=
                rawA.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                * rawB.loadUnaligned(fromByteOffset: offset, as: Vector.self)
            s1 +=
                rawA.loadUnaligned(fromByteOffset: offset + 32, as: Vector.self)
                * rawB.loadUnaligned(fromByteOffset: offset + 32, as: Vector.self)
            s2 +=
                rawA.loadUnaligned(fromByteOffset: offset + 64, as: Vector.self)
                * rawB.loadUnaligned(fromByteOffset: offset + 64, as: Vector.self)
            s3 +=
                rawA.loadUnaligned(fromByteOffset: offset + 96, as: Vector.self)
                * rawB.loadUnaligned(fromByteOffset: offset + 96, as: Vector.self)
            k += 32
        }
        while k + 8 <= count {
            s0 +=
                rawA.loadUnaligned(fromByteOffset: k * 4, as: Vector.self)
                * rawB.loadUnaligned(fromByteOffset: k * 4, as: Vector.self)
            k += 8
        }
        var total = ((s0 + s1) + (s2 + s3)).sum()
        while k < count {
            total += a[k] * b[k]
            k += 1
        }
        return total
    }

    /// output[rows, out] (+)= input[rows, in] W^T for W [out, in]; outputs are split over `threads` workers.
    static func apply(
        weight: UnsafePointer<Float>, inputs: Int, outputs: Int, input: UnsafePointer<Float>, rows: Int,
        output: UnsafeMutablePointer<Float>, accumulate: Bool, threads: Int
    ) {
        let chunks = max(1, min(threads, outputs / 256))
        let chunkSize = (outputs + chunks - 1) / chunks
        // Sendable: each worker writes a disjoint range of output columns; the inputs are only read.
        nonisolated(unsafe) let (w, x, y) = (weight, input, output)
        let work: @Sendable (Int) -> Void = { chunk in
            let end = min(outputs, (chunk + 1) * chunkSize)
            for j in (chunk * chunkSize)..<end {
                let row = w + j * inputs
                for b in 0..<rows {
                    let value = dot(x + b * inputs, row, count: inputs)
                    if accumulate { y[b * outputs + j] += value } else { y[b * outputs + j] = value }
                }
            }
        }
        if chunks == 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
        }
    }
}
