import Foundation
import Numerics

// The T5 decoder stack with its KV caches, mirroring transformers/models/t5/modeling_t5.py (T5Stack with
// is_decoder=True, T5LayerCrossAttention, and the head of T5ForConditionalGeneration).

/// One decoder block: causal self-attention, cross-attention over the encoder output, feed-forward.
struct T5DecoderBlock: Sendable {
    /// `decoder.block.N.layer.0.layer_norm.weight` [d_model]
    let selfNorm: Tensor
    /// `decoder.block.N.layer.0.SelfAttention.{q,k,v}.weight`, stacked [3 * inner, d_model]
    let selfQKV: Linear
    /// `decoder.block.N.layer.0.SelfAttention.o.weight` [d_model, inner]
    let selfOutput: Linear
    /// `decoder.block.N.layer.1.layer_norm.weight` [d_model]
    let crossNorm: Tensor
    /// `decoder.block.N.layer.1.EncDecAttention.q.weight` [inner, d_model]
    let crossQuery: Linear
    /// `decoder.block.N.layer.1.EncDecAttention.{k,v}.weight`, stacked [2 * inner, d_model]
    let crossKV: Linear
    /// `decoder.block.N.layer.1.EncDecAttention.o.weight` [d_model, inner]
    let crossOutput: Linear
    /// `decoder.block.N.layer.2`
    let feedForward: T5FeedForward
}

/// The run state of one T5 decoding sequence: cross-attention K/V (computed once from the encoder output),
/// the growing self-attention KV cache, activation buffers and the latest logits.
public final class T5DecoderState: NextTokenLogits {
    /// Encoder positions S.
    public let encoderLength: Int
    let encoderMask: [Bool]?
    /// Per block: [S, 2 * inner], keys then values on each row.
    let crossKV: [FloatBuffer]
    /// Per block: [capacity, inner].
    let selfKeys: [FloatBuffer]
    let selfValues: [FloatBuffer]
    let scratch = T5Scratch()
    let hidden = FloatBuffer()  // [rows, d_model]
    /// Decoder tokens consumed so far.
    public internal(set) var length = 0
    /// Logits of the last consumed position [vocab].
    public internal(set) var logits: [Float]

    init(encoderLength: Int, encoderMask: [Bool]?, crossKV: [FloatBuffer], blocks: Int, vocabularySize: Int) {
        self.encoderLength = encoderLength
        self.encoderMask = encoderMask
        self.crossKV = crossKV
        selfKeys = (0..<blocks).map { _ in FloatBuffer() }
        selfValues = (0..<blocks).map { _ in FloatBuffer() }
        logits = [Float](repeating: 0, count: vocabularySize)
    }

    /// A copy with its own self-attention cache (the `length` rows filled so far) and logits; the cross-attention
    /// K/V, written once by `makeState`, is shared.
    init(forking other: T5DecoderState, inner: Int) {
        encoderLength = other.encoderLength
        encoderMask = other.encoderMask
        crossKV = other.crossKV
        selfKeys = other.selfKeys.map { $0.copy(count: other.length * inner) }
        selfValues = other.selfValues.map { $0.copy(count: other.length * inner) }
        length = other.length
        logits = other.logits
    }
}

/// The T5 decoder and output head. Read-only after loading; all per-sequence data lives in `T5DecoderState`.
public final class T5Decoder: Sendable {
    /// The model's configuration.
    public let configuration: T5Configuration
    /// `shared.weight` [vocab, d_model]
    let embedding: EmbeddingTable
    let blocks: [T5DecoderBlock]
    /// `decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight` [buckets, heads]
    let positionBias: T5RelativePositionBias
    /// `decoder.final_layer_norm.weight` [d_model]
    let finalNorm: Tensor
    /// `lm_head.weight` [vocab, d_model] when the checkpoint has it, else `shared.weight`
    let head: Linear

    init(configuration c: T5Configuration, loader: WeightLoader, embedding: EmbeddingTable) throws {
        configuration = c
        self.embedding = embedding
        let (d, inner) = (c.modelDimension, c.innerDimension)
        var blocks: [T5DecoderBlock] = []
        for index in 0..<c.decoderLayers {
            let prefix = "decoder.block.\(index).layer"
            let attention = "\(prefix).0.SelfAttention"
            let cross = "\(prefix).1.EncDecAttention"
            blocks.append(
                T5DecoderBlock(
                    selfNorm: try loader.tensor("\(prefix).0.layer_norm.weight", shape: [d]),
                    selfQKV: try loader.fusedLinear(
                        ["q", "k", "v"].map { "\(attention).\($0)" }, inputs: d, outputs: inner, steps: true),
                    selfOutput: try loader.linear("\(attention).o", inputs: inner, outputs: d, steps: true),
                    crossNorm: try loader.tensor("\(prefix).1.layer_norm.weight", shape: [d]),
                    crossQuery: try loader.linear("\(cross).q", inputs: d, outputs: inner, steps: true),
                    // Applied to the encoder output once per request (a prompt pass): float32.
                    crossKV: try loader.fusedLinear(["k", "v"].map { "\(cross).\($0)" }, inputs: d, outputs: inner),
                    crossOutput: try loader.linear("\(cross).o", inputs: inner, outputs: d, steps: true),
                    feedForward: try T5FeedForward(loader, prefix: "\(prefix).2", configuration: c, steps: true)))
        }
        self.blocks = blocks
        positionBias = T5RelativePositionBias(
            table: try loader.tensor(
                "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                shape: [c.relativeAttentionBuckets, c.heads]),
            bidirectional: false, buckets: c.relativeAttentionBuckets, maxDistance: c.relativeAttentionMaxDistance,
            heads: c.heads)
        finalNorm = try loader.tensor("decoder.final_layer_norm.weight", shape: [d])
        if loader.contains("lm_head.weight") {
            head = try loader.linear("lm_head", inputs: d, outputs: c.vocabularySize, steps: true)
        } else {
            // Tied: the head shares the embedding table's storage (16-bit when the encoder kept it so; int8 a copy).
            head = try loader.tiedHead(embedding)
        }
    }

    /// The decoder's dense layers and head, for counting how they are kept.
    private var denseLayers: [Linear] {
        let layers = blocks.flatMap { block in
            let feedForward = block.feedForward
            return [block.selfQKV, block.selfOutput, block.crossQuery, block.crossKV, block.crossOutput]
                + [feedForward.input, feedForward.output] + (feedForward.gateLinear.map { [$0] } ?? [])
        }
        return layers + [head]
    }

    /// Dense layers of the decoder kept as 16-bit weights (`WeightStorage`), for logs and tests.
    public var sixteenBitLayers: Int { denseLayers.filter { $0.halfFormat != nil }.count }

    /// Dense layers of the decoder kept as int8 (`WeightStorage.int8`), for logs and tests.
    public var int8Layers: Int { denseLayers.filter(\.isInt8).count }

    /// A fresh state for one request: computes every block's cross-attention K/V from `encoderOutput` [S, d_model].
    public func makeState(encoderOutput: Tensor, encoderMask: [Bool]? = nil) throws -> T5DecoderState {
        let c = configuration
        guard encoderOutput.rank == 2, encoderOutput.shape[1] == c.modelDimension, encoderOutput.shape[0] > 0 else {
            throw ModelError.inputShapeMismatch(
                what: "encoder output", expected: [-1, c.modelDimension], actual: encoderOutput.shape)
        }
        let length = encoderOutput.shape[0]
        if let encoderMask, encoderMask.count != length {
            throw ModelError.inputShapeMismatch(what: "encoder mask", expected: [length], actual: [encoderMask.count])
        }
        let crossKV = blocks.map { block -> FloatBuffer in
            let buffer = FloatBuffer(capacity: length * 2 * c.innerDimension)
            encoderOutput.withBase { block.crossKV.apply($0, rows: length, into: buffer.pointer) }
            return buffer
        }
        return T5DecoderState(
            encoderLength: length, encoderMask: encoderMask, crossKV: crossKV, blocks: blocks.count,
            vocabularySize: c.vocabularySize)
    }

    /// Feeds decoder tokens (one per generation step, or several at once), extending the KV cache. Leaves the last
    /// position's logits in `state.logits`; with `allLogits` also returns every position's logits [T, vocab].
    @discardableResult
    public func forward(_ tokens: [Int32], state: T5DecoderState, allLogits: Bool = false) throws -> Tensor? {
        guard !tokens.isEmpty else { throw ModelError.emptyInput(what: "decoder tokens") }
        return try run(tokens, segments: [(state, tokens.count)], allLogits: allLogits)
    }

    /// One decoding step for a batch of sequences: `tokens[i]` is appended to `states[i]`. The dense layers run as
    /// one matrix product over the batch; self- and cross-attention run per sequence. Each state's logits are
    /// updated. Under `.batchInvariant` (the default) each row is bit-identical to a one-sequence step; under `.blas`
    /// rows can differ from it in the last bits (gemm vs gemv summation order).
    public func step(_ tokens: [Int32], states: [T5DecoderState]) throws {
        guard tokens.count == states.count, !tokens.isEmpty else {
            throw ModelError.inputShapeMismatch(
                what: "batch step tokens", expected: [states.count], actual: [tokens.count])
        }
        guard Set(states.map { ObjectIdentifier($0) }).count == states.count else {
            throw ModelError.invalidBatch(reason: "the same sequence appears twice in one step")
        }
        // Checked before any sequence moves, so a bad batch leaves every state as it was.
        try validate(tokens, vocabularySize: configuration.vocabularySize)
        // Chunks of at most `RowKernel.invariantRows` keep every row on the batch-invariant kernel when it is used.
        for start in stride(from: 0, to: tokens.count, by: RowKernel.invariantRows) {
            let end = min(tokens.count, start + RowKernel.invariantRows)
            _ = try run(Array(tokens[start..<end]), segments: states[start..<end].map { ($0, 1) }, allLogits: false)
        }
    }

    /// The decoder over consecutive row segments of `tokens`, each continuing its own sequence.
    private func run(_ tokens: [Int32], segments: [(state: T5DecoderState, rows: Int)], allLogits: Bool) throws
        -> Tensor?
    {
        let c = configuration
        // One row per sequence: a decoding step (see RowKernel.batchInvariant).
        let step = segments.allSatisfy { $0.rows == 1 }
        try validate(tokens, vocabularySize: c.vocabularySize)
        let (rows, d, inner) = (tokens.count, c.modelDimension, c.innerDimension)
        // The batch runs in the first sequence's buffers; scores and bias are per segment.
        let owner = segments[0].state
        let scratch = owner.scratch
        let widest = segments.map { ($0.rows, max($0.state.length + $0.rows, $0.state.encoderLength)) }
        scratch.reserve(rows: rows, keys: 0, configuration: c)
        scratch.scores.reserve(widest.map { $0.0 * $0.1 }.max() ?? 0)
        scratch.bias.reserve(c.heads * (widest.map { $0.0 * $0.1 }.max() ?? 0))
        owner.hidden.reserve(rows * d)
        let hidden = owner.hidden.pointer
        try embedding.lookup(tokens, into: hidden)  // ids validated above
        for (index, block) in blocks.enumerated() {
            // Causal self-attention over each sequence's cache plus its new rows.
            block.selfNorm.withBase {
                Kernels.rmsNorm(
                    hidden, weight: $0, epsilon: c.layerNormEpsilon, rows: rows, width: d,
                    into: scratch.normed.pointer)
            }
            block.selfQKV.apply(scratch.normed.pointer, rows: rows, into: scratch.projected.pointer, step: step)
            var firstRow = 0
            for (state, count) in segments {
                let start = state.length
                let keys = start + count
                let (cacheK, cacheV) = (state.selfKeys[index], state.selfValues[index])
                cacheK.reserve(keys * inner, preserving: start * inner)
                cacheV.reserve(keys * inner, preserving: start * inner)
                let packed = scratch.projected.pointer + firstRow * 3 * inner
                for row in 0..<count {
                    (cacheK.pointer + (start + row) * inner).update(
                        from: packed + row * 3 * inner + inner, count: inner)
                    (cacheV.pointer + (start + row) * inner).update(
                        from: packed + row * 3 * inner + 2 * inner, count: inner)
                }
                positionBias.fill(scratch.bias.pointer, queryCount: count, keyCount: keys, queryOffset: start)
                Attention.attend(
                    query: packed, queryStride: 3 * inner, queryCount: count, keys: cacheK.pointer,
                    values: cacheV.pointer, keyValueStride: inner, keyCount: keys, heads: c.heads,
                    headDim: c.headDimension, scale: 1, causalOffset: start, positionBias: scratch.bias.pointer,
                    scores: scratch.scores.pointer, output: scratch.attention.pointer + firstRow * inner,
                    outputStride: inner)
                firstRow += count
            }
            block.selfOutput.apply(scratch.attention.pointer, rows: rows, into: hidden, accumulate: true, step: step)

            // Cross-attention over each sequence's encoder output (no position bias in T5's EncDecAttention).
            block.crossNorm.withBase {
                Kernels.rmsNorm(
                    hidden, weight: $0, epsilon: c.layerNormEpsilon, rows: rows, width: d,
                    into: scratch.normed.pointer)
            }
            block.crossQuery.apply(scratch.normed.pointer, rows: rows, into: scratch.projected.pointer, step: step)
            firstRow = 0
            for (state, count) in segments {
                let crossKV = state.crossKV[index].pointer
                let query = scratch.projected.pointer + firstRow * inner
                let output = scratch.attention.pointer + firstRow * inner
                let attend = { (mask: UnsafePointer<Bool>?) in
                    Attention.attend(
                        query: query, queryStride: inner, queryCount: count, keys: crossKV, values: crossKV + inner,
                        keyValueStride: 2 * inner, keyCount: state.encoderLength, heads: c.heads,
                        headDim: c.headDimension, scale: 1, keyMask: mask, scores: scratch.scores.pointer,
                        output: output, outputStride: inner)
                }
                if let mask = state.encoderMask {
                    mask.withUnsafeBufferPointer { attend($0.baseAddress!) }
                } else {
                    attend(nil)
                }
                firstRow += count
            }
            block.crossOutput.apply(scratch.attention.pointer, rows: rows, into: hidden, accumulate: true, step: step)

            block.feedForward.apply(hidden, rows: rows, scratch: scratch, step: step)
        }
        finalNorm.withBase {
            Kernels.rmsNorm(
                hidden, weight: $0, epsilon: c.layerNormEpsilon, rows: rows, width: d,
                into: scratch.normed.pointer)
        }
        if c.scaleDecoderOutputs {
            Kernels.scale(scratch.normed.pointer, count: rows * d, by: 1 / Float(d).squareRoot())
        }
        for segment in segments { segment.state.length += segment.rows }
        if allLogits {
            var all = Tensor(zeros: [rows, c.vocabularySize])
            all.withUnsafeMutableBufferPointer {
                head.apply(scratch.normed.pointer, rows: rows, into: $0.baseAddress!, step: step)
            }
            owner.logits = all.row(rows - 1)
            return all
        }
        head.writeLastRowLogits(
            scratch.normed.pointer, width: configuration.modelDimension, vocabulary: configuration.vocabularySize,
            segments: segments, step: step)
        return nil
    }
}
