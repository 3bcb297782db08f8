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
    /// `shared.weight` [vocab, d_model]; 16-bit when it is also the tied head of a decoder that keeps 16-bit weights
    let embedding: EmbeddingTable
    let blocks: [T5EncoderBlock]
    /// `encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight` [buckets, heads], shared by all blocks
    let positionBias: T5RelativePositionBias
    /// `encoder.final_layer_norm.weight` [d_model]
    let finalNorm: Tensor
    /// Checkpoint tensors this encoder did not load (e.g. `decoder.*` of a full T5), for logging.
    public let ignoredTensors: [String]

    /// Loads only the encoder (and `shared.weight`) of a T5ForConditionalGeneration or T5EncoderModel checkpoint;
    /// decoder and head tensors are ignored and listed in `ignoredTensors`. `weights`: `.int8` quantises every dense
    /// layer (int8 prompt passes); other choices keep them float32.
    public convenience init(
        directory: URL, rowKernel: RowKernel = .batchInvariant, weights: WeightStorage = .asStored
    ) throws {
        let configuration = try loadConfig(T5Configuration.self, from: directory.appendingPathComponent("config.json"))
        let loader = WeightLoader(try Checkpoint(directory: directory), rowKernel: rowKernel, storage: weights)
        try self.init(configuration: configuration, loader: loader, encoderOnly: true)
    }

    /// Reads `shared.weight` and `encoder.*`; an encoder-only load then checks that every other tensor is one it
    /// may ignore, while a full model load leaves that check to the model.
    init(configuration c: T5Configuration, loader: WeightLoader, encoderOnly: Bool) throws {
        configuration = c
        let tableShape = [c.vocabularySize, c.modelDimension]
        let tiedHead = !encoderOnly && !loader.contains("lm_head.weight")
        if tiedHead, let half = try loader.halfMatrix("shared.weight", shape: tableShape) {
            embedding = .half(half)
        } else {
            embedding = .float32(try loader.tensor("shared.weight", shape: tableShape))
        }
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
        positionBias = try T5RelativePositionBias(loader, stack: "encoder", bidirectional: true, configuration: c)
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
        try output.withUnsafeMutableBufferPointer { out in
            do {
                try embedding.lookup(ids, into: out.baseAddress!)
            } catch NumericsError.indexOutOfRange(let id, let rows) {
                throw ModelError.tokenOutOfRange(id: id, vocabularySize: rows)
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
        try encode(batch: [embeddings], keyMasks: [keyMask])[0]
    }

    /// Whether `encode(batch:)` stacks several prompts into one pass (the `.blas` row kernel) rather than running
    /// them one by one (batch-invariant kernels, each prompt's bits those of an unbatched pass).
    public var stacksPrompts: Bool { blocks.first?.qkv.rowKernel != .batchInvariant }

    /// Encodes several prompts in one pass: their rows are stacked (no padding), the dense layers run as one
    /// matrix product over all rows, and attention stays within each prompt. Returns one [T_i, d_model] per input.
    public func encode(batch: [Tensor], keyMasks: [[Bool]?]? = nil) throws -> [Tensor] {
        guard !batch.isEmpty else { throw ModelError.emptyInput(what: "encoder batch") }
        let masks = keyMasks ?? batch.map { _ in nil }
        guard masks.count == batch.count else {
            throw ModelError.inputShapeMismatch(
                what: "encoder key masks", expected: [batch.count], actual: [masks.count])
        }
        if batch.count > 1 && !stacksPrompts {
            // Stacking prompts changes the row count of every product; batch-invariant results need each prompt
            // to go through exactly the products it would get alone.
            return try zip(batch, masks).map { try encode(batch: [$0], keyMasks: [$1])[0] }
        }
        let pass = try Pass(self, batch: batch, masks: masks)
        pass.run(blocks: blocks.count)
        return try pass.finish()
    }

    /// One encoding in progress, runnable a few blocks at a time (a decoder interleaves an SLM encoder's blocks with
    /// the steps of running sequences): every block runs the same code on the same rows whether the pass is run at
    /// once or in pieces, so the result has the same bits.
    final class Pass {
        private let encoder: T5Encoder
        private let lengths: [Int]
        /// All prompts' rows, stacked.
        private let rows: Int
        private let masks: [[Bool]?]
        private let scratch = T5Scratch()
        private let hidden: FloatBuffer
        private let biases: [Int: FloatBuffer]
        /// Blocks run so far.
        private(set) var blocksDone = 0

        /// A pass over `batch` (each [T_i, d_model]) with its key masks, before the first block.
        init(_ encoder: T5Encoder, batch: [Tensor], masks: [[Bool]?]) throws {
            try encoder.checkInputs(batch, masks: masks)
            self.encoder = encoder
            self.masks = masks
            lengths = batch.map { $0.shape[0] }
            rows = lengths.reduce(0, +)
            scratch.reserve(rows: rows, keys: 0, configuration: encoder.configuration)
            let longest = lengths.max() ?? 0
            scratch.scores.reserve(longest * longest)
            hidden = encoder.stack(batch, rows: rows)
            biases = encoder.positionBiases(lengths: lengths)
        }

        /// Blocks still to run.
        var blocksLeft: Int { encoder.blocks.count - blocksDone }

        /// Runs the next `count` blocks (fewer when fewer are left).
        func run(blocks count: Int) {
            for block in encoder.blocks[blocksDone..<(blocksDone + min(count, blocksLeft))] {
                encoder.selfAttention(
                    block, hidden.pointer, lengths: lengths, masks: masks, biases: biases, scratch: scratch)
                block.feedForward.apply(hidden.pointer, rows: rows, scratch: scratch)
                blocksDone += 1
            }
        }

        /// The final norm over the rows, one [T_i, d_model] per input; every block must have run.
        func finish() throws -> [Tensor] {
            precondition(blocksLeft == 0, "T5Encoder.Pass finished before its last block")
            let c = encoder.configuration
            encoder.finalNorm.rmsNorm(
                hidden.pointer, rows: rows, epsilon: c.layerNormEpsilon, into: scratch.normed.pointer)
            return try encoder.split(scratch.normed.pointer, lengths: lengths)
        }
    }

    /// Every input must be [T > 0, d_model], and its mask, when given, T long.
    fileprivate func checkInputs(_ batch: [Tensor], masks: [[Bool]?]) throws {
        let d = configuration.modelDimension
        for (embeddings, mask) in zip(batch, masks) {
            guard embeddings.rank == 2, embeddings.shape[1] == d else {
                throw ModelError.inputShapeMismatch(
                    what: "encoder input embeddings", expected: [-1, d], actual: embeddings.shape)
            }
            guard embeddings.shape[0] > 0 else { throw ModelError.emptyInput(what: "encoder input") }
            if let mask, mask.count != embeddings.shape[0] {
                throw ModelError.inputShapeMismatch(
                    what: "encoder key mask", expected: [embeddings.shape[0]], actual: [mask.count])
            }
        }
    }

    /// The inputs' rows back to back: [rows, d_model].
    fileprivate func stack(_ batch: [Tensor], rows: Int) -> FloatBuffer {
        let d = configuration.modelDimension
        let stacked = FloatBuffer(capacity: rows * d)
        var offset = 0
        for embeddings in batch {
            embeddings.withBase { (stacked.pointer + offset * d).update(from: $0, count: embeddings.count) }
            offset += embeddings.shape[0]
        }
        return stacked
    }

    /// The relative position bias [heads, T, T] depends only on the length: one table per distinct length.
    fileprivate func positionBiases(lengths: [Int]) -> [Int: FloatBuffer] {
        var biasByLength: [Int: FloatBuffer] = [:]
        for length in Set(lengths) {
            let bias = FloatBuffer(capacity: configuration.heads * length * length)
            positionBias.fill(bias.pointer, queryCount: length, keyCount: length, queryOffset: 0)
            biasByLength[length] = bias
        }
        return biasByLength
    }

    /// hidden += bidirectional self-attention of `block`, each prompt's rows attending only to that prompt.
    fileprivate func selfAttention(
        _ block: T5EncoderBlock, _ hidden: UnsafeMutablePointer<Float>, lengths: [Int], masks: [[Bool]?],
        biases: [Int: FloatBuffer], scratch: T5Scratch
    ) {
        let c = configuration
        let (inner, stride) = (c.innerDimension, 3 * c.innerDimension)
        let sublayer = T5AttentionSublayer(
            norm: block.attentionNorm, input: block.qkv, output: block.output, epsilon: c.layerNormEpsilon)
        sublayer.apply(hidden, segmentRows: lengths, scratch: scratch) { prompt, packed, output in
            let length = lengths[prompt]
            masks[prompt].withBase { mask in
                Attention.attend(
                    query: packed, queryStride: stride, queryCount: length, keys: packed + inner,
                    values: packed + 2 * inner, keyValueStride: stride, keyCount: length, heads: c.heads,
                    headDim: c.headDimension, scale: 1, keyMask: mask, positionBias: biases[length]?.pointer,
                    scores: scratch.scores.pointer, output: output, outputStride: inner)
            }
        }
    }

    /// The stacked rows [sum T_i, d_model] back into one tensor per prompt.
    fileprivate func split(_ rows: UnsafePointer<Float>, lengths: [Int]) throws -> [Tensor] {
        let d = configuration.modelDimension
        var outputs: [Tensor] = []
        var offset = 0
        for length in lengths {
            let start = rows + offset * d
            outputs.append(
                try Tensor(shape: [length, d], scalars: Array(UnsafeBufferPointer(start: start, count: length * d))))
            offset += length
        }
        return outputs
    }
}
