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
public final class T5DecoderState {
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
}

/// The T5 decoder and output head. Read-only after loading; all per-sequence data lives in `T5DecoderState`.
public final class T5Decoder: Sendable {
    /// The model's configuration.
    public let configuration: T5Configuration
    /// `shared.weight` [vocab, d_model]
    let embedding: Tensor
    let blocks: [T5DecoderBlock]
    /// `decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight` [buckets, heads]
    let positionBias: T5RelativePositionBias
    /// `decoder.final_layer_norm.weight` [d_model]
    let finalNorm: Tensor
    /// `lm_head.weight` [vocab, d_model] when the checkpoint has it, else `shared.weight`
    let head: Linear

    init(configuration c: T5Configuration, loader: WeightLoader, embedding: Tensor) throws {
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
                    selfQKV: try loader.fusedLinear(["q", "k", "v"].map { "\(attention).\($0)" }, inputs: d, outputs: inner),
                    selfOutput: try loader.linear("\(attention).o", inputs: inner, outputs: d),
                    crossNorm: try loader.tensor("\(prefix).1.layer_norm.weight", shape: [d]),
                    crossQuery: try loader.linear("\(cross).q", inputs: d, outputs: inner),
                    crossKV: try loader.fusedLinear(["k", "v"].map { "\(cross).\($0)" }, inputs: d, outputs: inner),
                    crossOutput: try loader.linear("\(cross).o", inputs: inner, outputs: d),
                    feedForward: try T5FeedForward(loader, prefix: "\(prefix).2", configuration: c)))
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
            head = Linear(weight: try loader.tensor("lm_head.weight", shape: [c.vocabularySize, d]))
        } else {
            head = Linear(weight: embedding)
        }
    }

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
        let c = configuration
        guard !tokens.isEmpty else { throw ModelError.emptyInput(what: "decoder tokens") }
        try validate(tokens, vocabularySize: c.vocabularySize)
        let (rows, start, d, inner) = (tokens.count, state.length, c.modelDimension, c.innerDimension)
        let keys = start + rows
        let scratch = state.scratch
        scratch.reserve(rows: rows, keys: max(keys, state.encoderLength), configuration: c)
        state.hidden.reserve(rows * d)
        let hidden = state.hidden.pointer
        try embedding.withBase { try Kernels.embedding($0, rows: c.vocabularySize, width: d, ids: tokens, into: hidden) }
        positionBias.fill(scratch.bias.pointer, queryCount: rows, keyCount: keys, queryOffset: start)
        for (index, block) in blocks.enumerated() {
            // Causal self-attention over the cache plus the new rows.
            block.selfNorm.withBase {
                Kernels.rmsNorm(hidden, weight: $0, epsilon: c.layerNormEpsilon, rows: rows, width: d,
                    into: scratch.normed.pointer)
            }
            block.selfQKV.apply(scratch.normed.pointer, rows: rows, into: scratch.projected.pointer)
            let (cacheK, cacheV) = (state.selfKeys[index], state.selfValues[index])
            cacheK.reserve(keys * inner, preserving: start * inner)
            cacheV.reserve(keys * inner, preserving: start * inner)
            for row in 0..<rows {
                let packed = scratch.projected.pointer + row * 3 * inner
                (cacheK.pointer + (start + row) * inner).update(from: packed + inner, count: inner)
                (cacheV.pointer + (start + row) * inner).update(from: packed + 2 * inner, count: inner)
            }
            Attention.attend(
                query: scratch.projected.pointer, queryStride: 3 * inner, queryCount: rows, keys: cacheK.pointer,
                values: cacheV.pointer, keyValueStride: inner, keyCount: keys, heads: c.heads,
                headDim: c.headDimension, scale: 1, causalOffset: start, positionBias: scratch.bias.pointer,
                scores: scratch.scores.pointer, output: scratch.attention.pointer, outputStride: inner)
            block.selfOutput.apply(scratch.attention.pointer, rows: rows, into: hidden, accumulate: true)

            // Cross-attention over the encoder output (no position bias in T5's EncDecAttention).
            block.crossNorm.withBase {
                Kernels.rmsNorm(hidden, weight: $0, epsilon: c.layerNormEpsilon, rows: rows, width: d,
                    into: scratch.normed.pointer)
            }
            block.crossQuery.apply(scratch.normed.pointer, rows: rows, into: scratch.projected.pointer)
            let crossKV = state.crossKV[index].pointer
            let attend = { (mask: UnsafePointer<Bool>?) in
                Attention.attend(
                    query: scratch.projected.pointer, queryStride: inner, queryCount: rows, keys: crossKV,
                    values: crossKV + inner, keyValueStride: 2 * inner, keyCount: state.encoderLength,
                    heads: c.heads, headDim: c.headDimension, scale: 1, keyMask: mask, scores: scratch.scores.pointer,
                    output: scratch.attention.pointer, outputStride: inner)
            }
            if let mask = state.encoderMask { mask.withUnsafeBufferPointer { attend($0.baseAddress!) } } else { attend(nil) }
            block.crossOutput.apply(scratch.attention.pointer, rows: rows, into: hidden, accumulate: true)

            block.feedForward.apply(hidden, rows: rows, scratch: scratch)
        }
        finalNorm.withBase {
            Kernels.rmsNorm(hidden, weight: $0, epsilon: c.layerNormEpsilon, rows: rows, width: d,
                into: scratch.normed.pointer)
        }
        if c.scaleDecoderOutputs {
            Kernels.scale(scratch.normed.pointer, count: rows * d, by: 1 / Float(d).squareRoot())
        }
        state.length = keys
        if allLogits {
            var all = Tensor(zeros: [rows, c.vocabularySize])
            all.withUnsafeMutableBufferPointer { head.apply(scratch.normed.pointer, rows: rows, into: $0.baseAddress!) }
            state.logits = all.row(rows - 1)
            return all
        }
        state.logits.withUnsafeMutableBufferPointer {
            head.apply(scratch.normed.pointer + (rows - 1) * d, rows: 1, into: $0.baseAddress!)
        }
        return nil
    }
}
