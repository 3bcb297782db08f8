import Numerics

/// Per-sequence decoder state whose next-token logits the output head writes (T5 decoder, GPT-2).
protocol NextTokenLogits: AnyObject {
    var logits: [Float] { get set }
}

extension Linear {
    /// Each segment's last row through this head into its state's logits, one product for the whole batch.
    /// `normed` holds the segments' rows back to back, `width` floats each. Shared by T5 and GPT-2 so both
    /// batch their heads the same (batch-invariant) way.
    func writeLastRowLogits<State: NextTokenLogits>(
        _ normed: UnsafePointer<Float>, width d: Int, vocabulary: Int, segments: [(state: State, rows: Int)],
        step: Bool
    ) {
        if segments.count == 1 {
            let offset = (segments[0].rows - 1) * d
            segments[0].state.logits.withUnsafeMutableBufferPointer {
                apply(normed + offset, rows: 1, into: $0.baseAddress!, step: step)
            }
            return
        }
        let last = FloatBuffer(capacity: segments.count * d)  // [segments, d]
        var end = 0
        for (index, segment) in segments.enumerated() {
            end += segment.rows
            (last.pointer + index * d).update(from: normed + (end - 1) * d, count: d)
        }
        let logits = FloatBuffer(capacity: segments.count * vocabulary)  // [segments, vocabulary]
        apply(last.pointer, rows: segments.count, into: logits.pointer, step: step)
        for (index, segment) in segments.enumerated() {
            segment.state.logits.withUnsafeMutableBufferPointer {
                $0.baseAddress!.update(from: logits.pointer + index * vocabulary, count: vocabulary)
            }
        }
    }
}
