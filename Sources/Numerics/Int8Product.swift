import CKernels

/// An int8 weight packed for the int8 product (`l2s_int8_gemm`, Sources/CKernels/int8_gemm.c): each input row
/// is quantised to int8 with its own scale per call, multiplied in exact int32 sums (AVX-512 VNNI where the CPU has
/// it) and scaled back once. The result depends only on the weight and the row: the same in every kernel variant,
/// batch and thread split. The activations are rounded as well as the weights: docs/kernels.md measures the cost.
public struct PackedInt8Matrix: Sendable {
    /// Input features.
    public let inputs: Int
    /// Output features.
    public let outputs: Int
    /// Blocks of 16 outputs x groups of 4 inputs.
    let packed: [Int8]
    /// Each output row's sum of weights (undoes the +128 of the quantised rows).
    let sums: [Int32]
    /// Each output row's scale.
    let scales: [Float]

    /// `matrix` [outputs, inputs] packed.
    public init(_ matrix: Int8Matrix) {
        let (outputs, inputs) = (matrix.shape[0], matrix.shape[1])
        var packed = [Int8](repeating: 0, count: l2s_int8_packed_size(inputs, outputs))
        var sums = [Int32](repeating: 0, count: outputs)
        matrix.values.withUnsafeBufferPointer { values in
            l2s_int8_pack(values.baseAddress, inputs, outputs, &packed, &sums)
        }
        (self.outputs, self.inputs) = (outputs, inputs)
        self.packed = packed
        self.sums = sums
        scales = matrix.scales
    }

    /// The int8 product's kernel under `variant` on this CPU: "vnni" (AVX-512 VNNI), "avx2" or "portable"; every one
    /// gives the same bits, the later ones slower.
    public static func kernelName(for variant: KernelVariant) -> String {
        switch l2s_int8_gemm_kernel(variant.code) {
        case Int32(L2S_INT8_VNNI): "vnni"
        case Int32(L2S_INT8_AVX2): "avx2"
        default: "portable"
        }
    }

    /// output[rows, outputs] (+)= input[rows, inputs] W^T, the rows quantised first; outputs split over `threads`.
    func apply(
        _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>, accumulate: Bool,
        threads: Int
    ) {
        guard rows > 0 else { return }
        let (inputs, outputs) = (self.inputs, self.outputs)
        let padded = l2s_int8_padded_inputs(inputs)
        let code = KernelVariant.current.code
        // Every byte and scale is written by the quantisation: no zero-filling first.
        var rowScales: [Float] = []
        let quantized = [UInt8](unsafeUninitializedCapacity: rows * padded) { bytes, count in
            rowScales = [Float](unsafeUninitializedCapacity: rows) { scales, scaleCount in
                l2s_int8_quantize_rows(code, input, rows, inputs, bytes.baseAddress, scales.baseAddress)
                scaleCount = rows
            }
            count = rows * padded
        }
        quantized.withUnsafeBufferPointer { q in
            rowScales.withUnsafeBufferPointer { rowScales in
                packed.withUnsafeBufferPointer { packed in
                    sums.withUnsafeBufferPointer { sums in
                        scales.withUnsafeBufferPointer { scales in
                            // Sendable: each worker writes a disjoint range of output columns; the rest is read.
                            nonisolated(unsafe) let pointers = (
                                q.baseAddress!, rowScales.baseAddress!, packed.baseAddress!, sums.baseAddress!,
                                scales.baseAddress!, output
                            )
                            let accumulate: Int32 = accumulate ? 1 : 0
                            Self.split(outputs: outputs, inputs: inputs, rows: rows, threads: threads) { begin, end in
                                let (q, rowScales, packed, sums, scales, y) = pointers
                                l2s_int8_gemm(
                                    code, q, rowScales, rows, packed, sums, scales, inputs, outputs, begin, end, y,
                                    accumulate)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The multiply-adds that make a worker worth waking when its weights are fewer than
    /// `OutputSplit.minimumBytesPerWorker`: four times `RowwiseProduct`'s, as the VNNI product does four times the
    /// float32 kernel's per instruction.
    static let minimumMultiplyAddsPerWorker = 4 << 20

    /// Calls `work` on disjoint output ranges: whole 48-output groups (three packed blocks, the accelerated kernel's
    /// width; a range may not end inside a block another worker computes), at least 96 outputs per worker, and enough
    /// work for each (`OutputSplit.minimumPerWorker`).
    private static func split(
        outputs: Int, inputs: Int, rows: Int, threads: Int, work: @escaping @Sendable (Int, Int) -> Void
    ) {
        let minimum = OutputSplit.minimumPerWorker(
            inputs: inputs, rows: rows, weightBytes: 1, multiplyAdds: minimumMultiplyAddsPerWorker, floor: 96)
        OutputSplit.run(outputs: outputs, threads: threads, group: 48, minimumPerWorker: minimum, work: work)
    }
}
