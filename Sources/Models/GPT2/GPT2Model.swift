import Foundation
import Numerics

// GPT-2, mirroring transformers/models/gpt2/modeling_gpt2.py (GPT2Model, GPT2Block, GPT2Attention, GPT2MLP,
// GPT2LMHeadModel): learned positions, pre-LayerNorm blocks, Conv1D weights stored [in, out], tied head.

/// One GPT-2 block.
struct GPT2Block: Sendable {
    /// `h.N.ln_1.{weight,bias}` [d]
    let norm1: (weight: Tensor, bias: Tensor)
    /// `h.N.attn.c_attn.{weight,bias}` Conv1D [d, 3d]
    let qkv: Linear
    /// `h.N.attn.c_proj.{weight,bias}` Conv1D [d, d]
    let attentionOutput: Linear
    /// `h.N.ln_2.{weight,bias}` [d]
    let norm2: (weight: Tensor, bias: Tensor)
    /// `h.N.mlp.c_fc.{weight,bias}` Conv1D [d, inner]
    let up: Linear
    /// `h.N.mlp.c_proj.{weight,bias}` Conv1D [inner, d]
    let down: Linear
    /// head_dim^-0.5 (if scale_attn_weights), divided by N + 1 (if scale_attn_by_inverse_layer_idx)
    let scale: Float
}

/// The run state of one GPT-2 sequence: KV cache for up to `n_positions` tokens, buffers, latest logits.
public final class GPT2State: DecodingSequence, DecoderRunState {
    let model: GPT2Model
    /// Keys and values per block, [position, d] each.
    let cache: KVCache
    let hidden = FloatBuffer()  // [rows, d]
    let normed = FloatBuffer()  // [rows, d]
    let packed = FloatBuffer()  // [rows, 3d]
    let attention = FloatBuffer()  // [rows, d]
    let inner = FloatBuffer()  // [rows, inner]
    let scores = FloatBuffer()  // [rows, keys]
    /// Logits of the last consumed position [vocab].
    public internal(set) var logits: [Float]

    /// Tokens (or embeddings) consumed so far.
    public var position: Int { cache.length }

    init(model: GPT2Model) {
        self.model = model
        cache = KVCache(layers: model.blocks.count, width: model.configuration.embeddingDimension)
        logits = [Float](repeating: 0, count: model.configuration.vocabularySize)
    }

    /// A copy with its own KV cache, buffers and logits.
    private init(forking other: GPT2State) {
        model = other.model
        cache = other.cache.copy()
        logits = other.logits
    }

    public func append(_ token: Int32) throws {
        try model.forward([token], state: self)
    }

    public func fork() -> any DecodingSequence { GPT2State(forking: self) }

    public var stateBytes: Int { logits.count * MemoryLayout<Float>.stride + cache.bytes }
}

/// GPT-2 with its LM head, read-only after loading; per-sequence data lives in `GPT2State`.
public final class GPT2Model: LanguageModel {
    /// The model's configuration.
    public let configuration: GPT2Configuration
    /// `wte.weight` [vocab, d]
    let tokenEmbedding: Tensor
    /// `wpe.weight` [n_positions, d]
    let positionEmbedding: Tensor
    let blocks: [GPT2Block]
    /// `ln_f.{weight,bias}` [d]
    let finalNorm: (weight: Tensor, bias: Tensor)
    /// `lm_head.weight` [vocab, d] when present, else `wte.weight`
    let head: Linear
    /// Checkpoint tensors deliberately not loaded (the causal-mask buffers `attn.bias`/`attn.masked_bias` of old
    /// checkpoints).
    public let ignoredTensors: [String]

    public var modelType: String { "gpt2" }
    public var vocabularySize: Int { configuration.vocabularySize }
    public var eosTokenIDs: [Int32] { configuration.eosTokenIDs }

    /// Loads `config.json` and the safetensors weights of `directory`, strictly. Accepts both GPT2LMHeadModel
    /// (`transformer.` prefix) and bare GPT2Model key names. `rowKernel` chooses how one-row products run; `weights`
    /// how the blocks and head are kept (`WeightStorage`): 16-bit blocks are widened in registers by steps and into
    /// a scratch by the prefill (the bits of float32 weights); int8 blocks take the row-wise kernel for both.
    public init(directory: URL, rowKernel: RowKernel = .batchInvariant, weights: WeightStorage = .asStored) throws {
        let c = try loadConfig(GPT2Configuration.self, from: directory.appendingPathComponent("config.json"))
        configuration = c
        let loader = WeightLoader(try Checkpoint(directory: directory), rowKernel: rowKernel, storage: weights)
        let prefix = loader.contains("transformer.wte.weight") ? "transformer." : ""
        let (d, inner) = (c.embeddingDimension, c.innerDimension)
        func norm(_ name: String) throws -> (weight: Tensor, bias: Tensor) {
            (try loader.tensor(name + ".weight", shape: [d]), try loader.tensor(name + ".bias", shape: [d]))
        }
        func conv(_ name: String, inputs: Int, outputs: Int) throws -> Linear {
            let bias = try loader.tensor(name + ".bias", shape: [outputs])
            if let half = try loader.halfMatrix(name + ".weight", shape: [inputs, outputs]) {
                return Linear(halfWeight: half, bias: bias, layout: .inputsByOutputs, rowKernel: rowKernel)
            }
            return try loader.stepLinear(
                weight: try loader.tensor(name + ".weight", shape: [inputs, outputs]), bias: bias,
                layout: .inputsByOutputs)
        }
        tokenEmbedding = try loader.tensor(prefix + "wte.weight", shape: [c.vocabularySize, d])
        positionEmbedding = try loader.tensor(prefix + "wpe.weight", shape: [c.maxPositions, d])
        blocks = try (0..<c.layers).map { index in
            let block = "\(prefix)h.\(index)"
            var scale: Float = c.scaleAttentionWeights ? 1 / Float(c.headDimension).squareRoot() : 1
            if c.scaleAttentionByInverseLayerIndex { scale /= Float(index + 1) }
            return GPT2Block(
                norm1: try norm(block + ".ln_1"), qkv: try conv(block + ".attn.c_attn", inputs: d, outputs: 3 * d),
                attentionOutput: try conv(block + ".attn.c_proj", inputs: d, outputs: d),
                norm2: try norm(block + ".ln_2"), up: try conv(block + ".mlp.c_fc", inputs: d, outputs: inner),
                down: try conv(block + ".mlp.c_proj", inputs: inner, outputs: d), scale: scale)
        }
        finalNorm = try norm(prefix + "ln_f")
        if loader.contains("lm_head.weight") {
            head = try loader.linear("lm_head", inputs: d, outputs: c.vocabularySize, steps: true)
        } else if let half = try loader.halfMatrix(prefix + "wte.weight", shape: [c.vocabularySize, d]) {
            // A 16-bit tied head is a second, 2-byte copy of wte; lookups keep the float32 table.
            head = Linear(halfWeight: half, rowKernel: rowKernel)
        } else {
            head = try loader.tiedHead(.float32(tokenEmbedding))
        }
        ignoredTensors = try loader.finish(ignoring: { $0.hasSuffix(".attn.bias") || $0.hasSuffix(".attn.masked_bias") }
        )
    }

    public func penaltyContext(promptIDs: [Int32]) -> [Int32] { promptIDs }

    /// Dense layers (blocks and head) kept as 16-bit weights (`WeightStorage`), for logs and tests.
    public var sixteenBitLayers: Int {
        (blocks.flatMap { [$0.qkv, $0.attentionOutput, $0.up, $0.down] } + [head]).filter { $0.halfFormat != nil }
            .count
    }

    /// A fresh, empty sequence state.
    public func makeState() -> GPT2State { GPT2State(model: self) }

    /// Token embeddings wte[ids] [T, d], without positions (callers add Z to them for LLM-to-SLM).
    public func embed(_ ids: [Int32]) throws -> Tensor {
        try validate(ids, vocabularySize: vocabularySize)
        var output = Tensor(zeros: [ids.count, configuration.embeddingDimension])
        try tokenEmbedding.withBase { table in
            try output.withUnsafeMutableBufferPointer {
                try Kernels.embedding(
                    table, rows: vocabularySize, width: configuration.embeddingDimension, ids: ids,
                    into: $0.baseAddress!)
            }
        }
        return output
    }

    /// Runs the prompt ids through a fresh state; the first logits are ready in the returned sequence.
    public func startSequence(promptIDs: [Int32]) throws -> any DecodingSequence {
        guard !promptIDs.isEmpty else { throw ModelError.emptyInput(what: "prompt") }
        let state = makeState()
        try forward(promptIDs, state: state)
        return state
    }

    /// Feeds token ids at the next positions of `state`. See `forward(embeddings:state:allLogits:)`.
    @discardableResult
    public func forward(_ tokens: [Int32], state: GPT2State, allLogits: Bool = false) throws -> Tensor? {
        try forward(embeddings: try embed(tokens), state: state, allLogits: allLogits)
    }

    /// Feeds input embeddings [T, d] (token embeddings, E(x) + Z, or Z alone) at the next T positions of `state`;
    /// position embeddings are added here. Leaves the last logits in `state.logits`; with `allLogits` also returns
    /// every position's logits [T, vocab].
    @discardableResult
    public func forward(embeddings: Tensor, state: GPT2State, allLogits: Bool = false) throws -> Tensor? {
        let d = configuration.embeddingDimension
        guard embeddings.rank == 2, embeddings.shape[1] == d else {
            throw ModelError.inputShapeMismatch(
                what: "GPT-2 input embeddings", expected: [-1, d], actual: embeddings.shape)
        }
        guard embeddings.shape[0] > 0 else { throw ModelError.emptyInput(what: "GPT-2 input") }
        return try run(embeddings, segments: [(state, embeddings.shape[0])], allLogits: allLogits)
    }

    public func step(_ tokens: [Int32], sequences: [any DecodingSequence]) throws {
        let states = try BatchStep.states(of: sequences, model: "GPT-2") { sequence -> GPT2State? in
            guard let state = sequence as? GPT2State, state.model === self else { return nil }
            return state
        }
        try step(tokens, states: states)
    }

    /// One decoding step for a batch of sequences: `tokens[i]` is appended to `states[i]`. The dense layers run as
    /// one matrix product over the batch; attention runs per sequence over its own cache. Each state's logits are
    /// updated. Under `.batchInvariant` (the default) each row is bit-identical to a one-sequence step; under `.blas`
    /// rows can differ from it in the last bits (gemm vs gemv summation order).
    public func step(_ tokens: [Int32], states: [GPT2State]) throws {
        try BatchStep.check(tokens, states: states, vocabularySize: vocabularySize)
        // Also checked before any sequence moves.
        if let full = states.first(where: { $0.position >= configuration.maxPositions }) {
            throw ModelError.sequenceTooLong(length: full.position + 1, maximum: configuration.maxPositions)
        }
        try BatchStep.inChunks(tokens, states: states) { tokens, segments in
            _ = try run(try embed(tokens), segments: segments, allLogits: false)
        }
    }

    /// The forward pass over consecutive row segments of `embeddings` [R, d], each continuing its own sequence.
    private func run(_ embeddings: Tensor, segments: [(state: GPT2State, rows: Int)], allLogits: Bool) throws -> Tensor?
    {
        let c = configuration
        // One row per sequence: a decoding step (see RowKernel.batchInvariant).
        let step = segments.allSatisfy { $0.rows == 1 }
        for segment in segments where segment.state.position + segment.rows > c.maxPositions {
            throw ModelError.sequenceTooLong(length: segment.state.position + segment.rows, maximum: c.maxPositions)
        }
        let rows = embeddings.shape[0]
        // The batch runs in the first sequence's buffers (they grow to the batch size once).
        let scratch = segments[0].state
        reserveBuffers(of: scratch, rows: rows, segments: segments)
        let hidden = scratch.hidden.pointer
        addPositions(to: embeddings, segments: segments, into: hidden)
        for (index, block) in blocks.enumerated() {
            layerNorm(block.norm1, hidden, rows: rows, into: scratch.normed.pointer)
            block.qkv.apply(scratch.normed.pointer, rows: rows, into: scratch.packed.pointer, step: step)
            var firstRow = 0
            for (state, count) in segments {
                state.cache.appendAndAttend(
                    layer: index, packed: scratch.packed.pointer + firstRow * 3 * c.embeddingDimension, count: count,
                    heads: c.heads, headDim: c.headDimension, scale: block.scale, scores: scratch.scores.pointer,
                    output: scratch.attention.pointer + firstRow * c.embeddingDimension)
                firstRow += count
            }
            block.attentionOutput.apply(
                scratch.attention.pointer, rows: rows, into: hidden, accumulate: true, step: step)
            layerNorm(block.norm2, hidden, rows: rows, into: scratch.normed.pointer)
            block.up.apply(scratch.normed.pointer, rows: rows, into: scratch.inner.pointer, step: step)
            c.activation.apply(scratch.inner.pointer, count: rows * c.innerDimension)
            block.down.apply(scratch.inner.pointer, rows: rows, into: hidden, accumulate: true, step: step)
        }
        layerNorm(finalNorm, hidden, rows: rows, into: scratch.normed.pointer)
        return head.finishPass(
            scratch.normed.pointer, width: c.embeddingDimension, vocabulary: c.vocabularySize, segments: segments,
            allLogits: allLogits, step: step)
    }

    /// Grows `owner`'s buffers for a pass of `rows` rows; scores are per segment, so they fit the segment with the
    /// most queries x keys (its cache plus its rows).
    private func reserveBuffers(of owner: GPT2State, rows: Int, segments: [(state: GPT2State, rows: Int)]) {
        let (d, inner) = (configuration.embeddingDimension, configuration.innerDimension)
        owner.hidden.reserve(rows * d)
        owner.normed.reserve(rows * d)
        owner.packed.reserve(rows * 3 * d)
        owner.attention.reserve(rows * d)
        owner.inner.reserve(rows * inner)
        owner.scores.reserve(segments.map { $0.rows * ($0.state.position + $0.rows) }.max() ?? 0)
    }

    /// hidden [R, d] = the input embeddings plus each segment's position embeddings (wpe), from its next position on.
    private func addPositions(
        to embeddings: Tensor, segments: [(state: GPT2State, rows: Int)], into hidden: UnsafeMutablePointer<Float>
    ) {
        let d = configuration.embeddingDimension
        embeddings.withBase { hidden.update(from: $0, count: embeddings.count) }
        var firstRow = 0
        positionEmbedding.withBase { positions in
            for segment in segments {
                Kernels.add(
                    positions + segment.state.position * d, into: hidden + firstRow * d, count: segment.rows * d)
                firstRow += segment.rows
            }
        }
    }

    private func layerNorm(
        _ norm: (weight: Tensor, bias: Tensor), _ x: UnsafePointer<Float>, rows: Int,
        into y: UnsafeMutablePointer<Float>
    ) {
        norm.weight.withBase { weight in
            norm.bias.withBase { bias in
                Kernels.layerNorm(
                    x, weight: weight, bias: bias, epsilon: configuration.layerNormEpsilon, rows: rows,
                    width: configuration.embeddingDimension, into: y)
            }
        }
    }
}

/// LLM-to-SLM with a GPT-2 SLM: S sits at positions 0..<m, the separator at m, the answer tokens after it.
extension GPT2Model: ConditionableSLM {
    /// Decoder-only: S sits at the first positions.
    public static var slmKind: SLMKind { .decoderOnly }

    /// n_embd and vocab_size of the GPT-2 config.
    public static func conditioningShape(configFile: URL) throws -> (width: Int, vocabularySize: Int) {
        let configuration = try loadConfig(GPT2Configuration.self, from: configFile)
        return (configuration.embeddingDimension, configuration.vocabularySize)
    }

    /// wte[ids], without positions (added by the prefill).
    public func embedPrompt(_ ids: [Int32]) throws -> Tensor { try embed(ids) }

    /// One prefill over [S; wte[startToken]]: positions 0...m, the logits at m predict the first answer token.
    public func startSequence(promptInputs: Tensor, startToken: Int32) throws -> any DecodingSequence {
        let (m, limit) = (promptInputs.shape[0], configuration.maxPositions)
        guard m + 1 <= limit else { throw ModelError.sequenceTooLong(length: m + 1, maximum: limit) }
        let separator = try embed([startToken])
        let prefill = try Tensor(
            shape: [m + 1, configuration.embeddingDimension], scalars: promptInputs.scalars + separator.scalars)
        let state = makeState()
        try forward(embeddings: prefill, state: state)
        return state
    }

    /// m + 1 (the separator) + newTokens <= n_positions.
    public func maxPromptTokens(newTokens: Int) -> Int? { configuration.maxPositions - 1 - newTokens }

    /// None: the prompt positions are embeddings (S), not ids.
    public var conditionedPenaltyContext: [Int32] { [] }
}
