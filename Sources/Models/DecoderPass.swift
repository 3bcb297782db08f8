import Numerics

// The pieces every family's decoder pass shares (T5's decoder, GPT-2): the checks of a batched step, the chunking
// that keeps rows on the batch-invariant kernel, and the tail that advances the KV caches and writes the logits. A
// pass runs consecutive row segments, each continuing its own sequence; a decoding step is one row per sequence.

/// The per-sequence run state a decoder pass continues: its KV cache and the next-token logits the head writes.
protocol DecoderRunState: AnyObject {
    /// Self-attention keys and values of the positions consumed so far.
    var cache: KVCache { get }
    /// Logits of the last consumed position [vocabulary].
    var logits: [Float] { get set }
}

/// Batched decoding steps, the same for every family.
enum BatchStep {
    /// Each sequence's run state, as `state(of:)` finds it; a sequence it does not recognise (another family's, or one
    /// started by another model) fails the batch naming `model`.
    static func states<State>(
        of sequences: [any DecodingSequence], model: String, _ state: (any DecodingSequence) -> State?
    ) throws -> [State] {
        try sequences.map { sequence in
            guard let found = state(sequence) else {
                throw ModelError.invalidBatch(reason: "a sequence in the batch was not started by this \(model) model")
            }
            return found
        }
    }

    /// The checks made before any sequence moves, so a bad batch leaves every state as it was: one token per
    /// sequence, no sequence twice, every token in the vocabulary.
    static func check(_ tokens: [Int32], states: [AnyObject], vocabularySize: Int) throws {
        guard tokens.count == states.count, !tokens.isEmpty else {
            throw ModelError.inputShapeMismatch(
                what: "batch step tokens", expected: [states.count], actual: [tokens.count])
        }
        guard Set(states.map { ObjectIdentifier($0) }).count == states.count else {
            throw ModelError.invalidBatch(reason: "the same sequence appears twice in one step")
        }
        try validate(tokens, vocabularySize: vocabularySize)
    }

    /// Runs `pass` over consecutive chunks of at most `RowKernel.invariantRows` sequences, which keeps every row on
    /// the batch-invariant kernel when it is used.
    static func inChunks<State>(
        _ tokens: [Int32], states: [State], _ pass: ([Int32], [(state: State, rows: Int)]) throws -> Void
    ) throws {
        for start in stride(from: 0, to: tokens.count, by: RowKernel.invariantRows) {
            let end = min(tokens.count, start + RowKernel.invariantRows)
            try pass(Array(tokens[start..<end]), states[start..<end].map { ($0, 1) })
        }
    }
}

extension Linear {
    /// The end of a decoder pass with this layer as the output head: advances every segment's KV cache by its rows,
    /// then writes each segment's last row of `normed` [rows, width] through the head into its state's logits. With
    /// `allLogits` (a pass over one sequence) it also returns every row's logits [rows, vocabulary].
    func finishPass<State: DecoderRunState>(
        _ normed: UnsafePointer<Float>, width: Int, vocabulary: Int, segments: [(state: State, rows: Int)],
        allLogits: Bool, step: Bool
    ) -> Tensor? {
        for segment in segments { segment.state.cache.advance(by: segment.rows) }
        guard allLogits else {
            writeLastRowLogits(normed, width: width, vocabulary: vocabulary, segments: segments, step: step)
            return nil
        }
        let rows = segments.map(\.rows).reduce(0, +)
        var all = Tensor(zeros: [rows, vocabulary])
        all.withUnsafeMutableBufferPointer { apply(normed, rows: rows, into: $0.baseAddress!, step: step) }
        segments[0].state.logits = all.row(rows - 1)
        return all
    }

    /// Each segment's last row through this head into its state's logits, one product for the whole batch.
    /// `normed` holds the segments' rows back to back, `width` floats each; every family batches its head this same
    /// (batch-invariant) way.
    private func writeLastRowLogits<State: DecoderRunState>(
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
