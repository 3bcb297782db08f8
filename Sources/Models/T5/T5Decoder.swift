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
public final class T5DecoderState: DecoderRunState {
    /// Encoder positions S.
    public let encoderLength: Int
    let encoderMask: [Bool]?
    /// Per block: [S, 2 * inner], keys then values on each row.
    let crossKV: [FloatBuffer]
    /// Self-attention keys and values per block, [length, inner] each.
    let cache: KVCache
    let scratch = T5Scratch()
    let hidden = FloatBuffer()  // [rows, d_model]
    /// Logits of the last consumed position [vocab].
    public internal(set) var logits: [Float]

    /// Decoder tokens consumed so far.
    public var length: Int { cache.length }

    init(encoderLength: Int, encoderMask: [Bool]?, crossKV: [FloatBuffer], cache: KVCache, vocabularySize: Int) {
        self.encoderLength = encoderLength
        self.encoderMask = encoderMask
        self.crossKV = crossKV
        self.cache = cache
        logits = [Float](repeating: 0, count: vocabularySize)
    }

    /// A copy with its own self-attention cache and logits; the cross-attention K/V, written once by `makeState`, is
    /// shared.
    init(forking other: T5DecoderState) {
        encoderLength = other.encoderLength
        encoderMask = other.encoderMask
        crossKV = other.crossKV
        cache = other.cache.copy()
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
        positionBias = try T5RelativePositionBias(loader, stack: "decoder", bidirectional: false, configuration: c)
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
            encoderLength: length, encoderMask: encoderMask, crossKV: crossKV,
            cache: KVCache(layers: blocks.count, width: c.innerDimension), vocabularySize: c.vocabularySize)
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
        try BatchStep.check(tokens, states: states, vocabularySize: configuration.vocabularySize)
        try BatchStep.inChunks(tokens, states: states) { _ = try run($0, segments: $1, allLogits: false) }
    }

    /// The decoder over consecutive row segments of `tokens`, each continuing its own sequence.
    private func run(_ tokens: [Int32], segments: [(state: T5DecoderState, rows: Int)], allLogits: Bool) throws
        -> Tensor?
    {
        let c = configuration
        try validate(tokens, vocabularySize: c.vocabularySize)
        // One row per sequence: a decoding step (see RowKernel.batchInvariant).
        let step = segments.allSatisfy { $0.rows == 1 }
        let (rows, d) = (tokens.count, c.modelDimension)
        // The batch runs in the first sequence's buffers.
        let owner = segments[0].state
        reserveBuffers(of: owner, rows: rows, segments: segments)
        let (hidden, scratch) = (owner.hidden.pointer, owner.scratch)
        try embedding.lookup(tokens, into: hidden)  // ids validated above
        for (index, block) in blocks.enumerated() {
            selfAttention(block, layer: index, hidden, segments: segments, scratch: scratch, step: step)
            crossAttention(block, layer: index, hidden, segments: segments, scratch: scratch, step: step)
            block.feedForward.apply(hidden, rows: rows, scratch: scratch, step: step)
        }
        let normed = scratch.normed.pointer
        finalNorm.rmsNorm(hidden, rows: rows, epsilon: c.layerNormEpsilon, into: normed)
        if c.scaleDecoderOutputs {
            Kernels.scale(normed, count: rows * d, by: 1 / Float(d).squareRoot())
        }
        return head.finishPass(
            normed, width: d, vocabulary: c.vocabularySize, segments: segments, allLogits: allLogits, step: step)
    }

    /// Grows `owner`'s buffers for a pass of `rows` rows; scores and bias are per segment, so they fit the segment
    /// with the most queries x keys (its cache plus its rows, or the encoder positions).
    private func reserveBuffers(of owner: T5DecoderState, rows: Int, segments: [(state: T5DecoderState, rows: Int)]) {
        let c = configuration
        let widest = segments.map { $0.rows * max($0.state.length + $0.rows, $0.state.encoderLength) }.max() ?? 0
        owner.scratch.reserve(rows: rows, keys: 0, configuration: c)
        owner.scratch.scores.reserve(widest)
        owner.scratch.bias.reserve(c.heads * widest)
        owner.hidden.reserve(rows * c.modelDimension)
    }

    /// hidden += causal self-attention of block `layer`, each sequence's new rows over its cache plus themselves.
    private func selfAttention(
        _ block: T5DecoderBlock, layer: Int, _ hidden: UnsafeMutablePointer<Float>,
        segments: [(state: T5DecoderState, rows: Int)], scratch: T5Scratch, step: Bool
    ) {
        let c = configuration
        let sublayer = T5AttentionSublayer(
            norm: block.selfNorm, input: block.selfQKV, output: block.selfOutput, epsilon: c.layerNormEpsilon)
        sublayer.apply(hidden, segmentRows: segments.map(\.rows), scratch: scratch, step: step) {
            segment, packed, output in
            let (state, count) = segments[segment]
            let start = state.length
            positionBias.fill(scratch.bias.pointer, queryCount: count, keyCount: start + count, queryOffset: start)
            state.cache.appendAndAttend(
                layer: layer, packed: packed, count: count, heads: c.heads, headDim: c.headDimension, scale: 1,
                positionBias: scratch.bias.pointer, scores: scratch.scores.pointer, output: output)
        }
    }

    /// hidden += cross-attention of block `layer` over each sequence's encoder output (no position bias in T5's
    /// EncDecAttention).
    private func crossAttention(
        _ block: T5DecoderBlock, layer: Int, _ hidden: UnsafeMutablePointer<Float>,
        segments: [(state: T5DecoderState, rows: Int)], scratch: T5Scratch, step: Bool
    ) {
        let c = configuration
        let inner = c.innerDimension
        let sublayer = T5AttentionSublayer(
            norm: block.crossNorm, input: block.crossQuery, output: block.crossOutput, epsilon: c.layerNormEpsilon)
        sublayer.apply(hidden, segmentRows: segments.map(\.rows), scratch: scratch, step: step) {
            segment, query, output in
            let (state, count) = segments[segment]
            let crossKV = state.crossKV[layer].pointer
            state.encoderMask.withBase { mask in
                Attention.attend(
                    query: query, queryStride: inner, queryCount: count, keys: crossKV, values: crossKV + inner,
                    keyValueStride: 2 * inner, keyCount: state.encoderLength, heads: c.heads, headDim: c.headDimension,
                    scale: 1, keyMask: mask, scores: scratch.scores.pointer, output: output, outputStride: inner)
            }
        }
    }
}
