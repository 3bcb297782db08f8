import Foundation
import Numerics

// The T5 encoder stack, mirroring transformers/models/t5/modeling_t5.py (T5Stack with is_decoder=False,
// T5EncoderModel). It also serves as the frozen LLM encoder of LLM-to-SLM, and as the SLM encoder that reads
// caller-supplied input embeddings E(x) + Z.

/// One encoder block: self-attention and feed-forward, each pre-normed and residual.
struct T5EncoderBlock: Sendable {
    /// `encoder.block.N.layer.0.layer_norm.weight` [d_model]
    let attentionNorm: Tensor
    /// `encoder.block.N.layer.0.SelfAttention.{q,k,v}.weight`, stacked [3 * inner, d_model]
    let qkv: Linear
    /// `encoder.block.N.layer.0.SelfAttention.o.weight` [d_model, inner]
    let output: Linear
    /// `encoder.block.N.layer.1`
    let feedForward: T5FeedForward
}

/// The T5 encoder: token embeddings (`shared.weight`), blocks, and the final RMSNorm. Read-only after loading and
/// shared by every request.
public final class T5Encoder: Sendable {
    /// The model's configuration.
    public let configuration: T5Configuration
    /// `shared.weight` [vocab, d_model]
    let embedding: Tensor
    let blocks: [T5EncoderBlock]
    /// `encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight` [buckets, heads], shared by all blocks
    let positionBias: T5RelativePositionBias
    /// `encoder.final_layer_norm.weight` [d_model]
    let finalNorm: Tensor
    /// Checkpoint tensors this encoder did not load (e.g. `decoder.*` of a full T5), for logging.
    public let ignoredTensors: [String]

    /// Loads only the encoder (and `shared.weight`) of a T5ForConditionalGeneration or T5EncoderModel checkpoint;
    /// decoder and head tensors are ignored and listed in `ignoredTensors`.
    public convenience init(directory: URL) throws {
        let configuration = try loadConfig(T5Configuration.self, from: directory.appendingPathComponent("config.json"))
        let loader = WeightLoader(try Checkpoint(directory: directory))
        try self.init(configuration: configuration, loader: loader, encoderOnly: true)
    }

    /// Reads `shared.weight` and `encoder.*`; an encoder-only load then checks that every other tensor is one it
    /// may ignore, while a full model load leaves that check to the model.
    init(configuration c: T5Configuration, loader: WeightLoader, encoderOnly: Bool) throws {
        configuration = c
        embedding = try loader.tensor("shared.weight", shape: [c.vocabularySize, c.modelDimension])
        var blocks: [T5EncoderBlock] = []
        for index in 0..<c.encoderLayers {
            let prefix = "encoder.block.\(index).layer"
            let attention = "\(prefix).0.SelfAttention"
            blocks.append(
                T5EncoderBlock(
                    attentionNorm: try loader.tensor("\(prefix).0.layer_norm.weight", shape: [c.modelDimension]),
                    qkv: try loader.fusedLinear(
                        ["q", "k", "v"].map { "\(attention).\($0)" }, inputs: c.modelDimension,
                        outputs: c.innerDimension),
                    output: try loader.linear("\(attention).o", inputs: c.innerDimension, outputs: c.modelDimension),
                    feedForward: try T5FeedForward(loader, prefix: "\(prefix).1", configuration: c)))
        }
        self.blocks = blocks
        positionBias = T5RelativePositionBias(
            table: try loader.tensor(
                "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                shape: [c.relativeAttentionBuckets, c.heads]),
            bidirectional: true, buckets: c.relativeAttentionBuckets, maxDistance: c.relativeAttentionMaxDistance,
            heads: c.heads)
        finalNorm = try loader.tensor("encoder.final_layer_norm.weight", shape: [c.modelDimension])
        ignoredTensors = encoderOnly ? try loader.finish(ignoring: Self.isIgnoredByEncoder) : []
    }

    /// Tensors an encoder-only load skips on purpose: the decoder, the head, and copies of the tied embedding.
    static func isIgnoredByEncoder(_ name: String) -> Bool {
        name.hasPrefix("decoder.") || name == "lm_head.weight" || name == "encoder.embed_tokens.weight"
    }

    /// The token embeddings E(ids) [T, d_model] (no scaling, as T5 does).
    public func embed(_ ids: [Int32]) throws -> Tensor {
        var output = Tensor(zeros: [ids.count, configuration.modelDimension])
        try embedding.withBase { table in
            try output.withUnsafeMutableBufferPointer { out in
                do {
                    try Kernels.embedding(
                        table, rows: configuration.vocabularySize, width: configuration.modelDimension, ids: ids,
                        into: out.baseAddress!)
                } catch NumericsError.indexOutOfRange(let id, let rows) {
                    throw ModelError.tokenOutOfRange(id: id, vocabularySize: rows)
                }
            }
        }
        return output
    }

    /// Encoder hidden states [T, d_model] (after the final RMSNorm) for token ids.
    public func encode(_ ids: [Int32]) throws -> Tensor {
        try encode(embeddings: try embed(ids))
    }

    /// Encoder hidden states [T, d_model] for caller-supplied input embeddings [T, d_model] (LLM-to-SLM feeds
    /// E(x) + Z here). `keyMask[t] == false` marks padding that no position attends to.
    public func encode(embeddings: Tensor, keyMask: [Bool]? = nil) throws -> Tensor {
        let c = configuration
        guard embeddings.rank == 2, embeddings.shape[1] == c.modelDimension else {
            throw ModelError.inputShapeMismatch(
                what: "encoder input embeddings", expected: [-1, c.modelDimension], actual: embeddings.shape)
        }
        let length = embeddings.shape[0]
        guard length > 0 else { throw ModelError.emptyInput(what: "encoder input") }
        if let keyMask, keyMask.count != length {
            throw ModelError.inputShapeMismatch(what: "encoder key mask", expected: [length], actual: [keyMask.count])
        }
        let scratch = T5Scratch()
        scratch.reserve(rows: length, keys: length, configuration: c)
        positionBias.fill(scratch.bias.pointer, queryCount: length, keyCount: length, queryOffset: 0)
        var hidden = embeddings
        hidden.withUnsafeMutableBufferPointer { hiddenBuffer in
            let hidden = hiddenBuffer.baseAddress!
            for block in blocks {
                block.attentionNorm.withBase { weight in
                    Kernels.rmsNorm(hidden, weight: weight, epsilon: c.layerNormEpsilon, rows: length,
                        width: c.modelDimension, into: scratch.normed.pointer)
                }
                block.qkv.apply(scratch.normed.pointer, rows: length, into: scratch.projected.pointer)
                let packed = scratch.projected.pointer
                let stride = 3 * c.innerDimension
                let attend = { (mask: UnsafePointer<Bool>?) in
                    Attention.attend(
                        query: packed, queryStride: stride, queryCount: length, keys: packed + c.innerDimension,
                        values: packed + 2 * c.innerDimension, keyValueStride: stride, keyCount: length,
                        heads: c.heads, headDim: c.headDimension, scale: 1, keyMask: mask,
                        positionBias: scratch.bias.pointer, scores: scratch.scores.pointer,
                        output: scratch.attention.pointer, outputStride: c.innerDimension)
                }
                if let keyMask { keyMask.withUnsafeBufferPointer { attend($0.baseAddress!) } } else { attend(nil) }
                block.output.apply(scratch.attention.pointer, rows: length, into: hidden, accumulate: true)
                block.feedForward.apply(hidden, rows: length, scratch: scratch)
            }
            finalNorm.withBase { weight in
                Kernels.rmsNorm(hidden, weight: weight, epsilon: c.layerNormEpsilon, rows: length,
                    width: c.modelDimension, into: scratch.normed.pointer)
            }
            hidden.update(from: scratch.normed.pointer, count: length * c.modelDimension)
        }
        return hidden
    }
}
