import Foundation
import Numerics

// T5ForConditionalGeneration (transformers/models/t5/modeling_t5.py): encoder, decoder and head, covering v1.0
// (ReLU, tied head scaled by d_model^-0.5) and v1.1/Flan (gated GELU, untied `lm_head`).

/// A T5 encoder-decoder loaded from a Hugging Face checkpoint directory.
public final class T5Model: LanguageModel {
    /// The model's configuration.
    public let configuration: T5Configuration
    /// The encoder (also usable alone).
    public let encoder: T5Encoder
    /// The decoder and head.
    public let decoder: T5Decoder
    /// Checkpoint tensors deliberately not loaded: copies of the tied embedding (`*.embed_tokens.weight`).
    public let ignoredTensors: [String]

    public var modelType: String { "t5" }
    public var vocabularySize: Int { configuration.vocabularySize }
    public var eosTokenIDs: [Int32] { configuration.eosTokenIDs }

    /// Loads `config.json` and the safetensors weights of `directory`, strictly; `rowKernel` chooses how one-row
    /// products run (`.batchInvariant` when batched and single-sequence results must agree bit for bit); `weights`
    /// how the decoder's step layers and head are kept (`.asStored` and `.float32` give the same results).
    public init(directory: URL, rowKernel: RowKernel = .batchInvariant, weights: WeightStorage = .asStored) throws {
        configuration = try loadConfig(T5Configuration.self, from: directory.appendingPathComponent("config.json"))
        let loader = WeightLoader(try Checkpoint(directory: directory), rowKernel: rowKernel, storage: weights)
        encoder = try T5Encoder(configuration: configuration, loader: loader, encoderOnly: false)
        decoder = try T5Decoder(configuration: configuration, loader: loader, embedding: encoder.embedding)
        ignoredTensors = try loader.finish(ignoring: {
            $0 == "encoder.embed_tokens.weight" || $0 == "decoder.embed_tokens.weight"
        })
    }

    public func penaltyContext(promptIDs: [Int32]) -> [Int32] { [configuration.decoderStartTokenID] }

    /// Encodes the prompt ids and feeds the decoder start token.
    public func startSequence(promptIDs: [Int32]) throws -> any DecodingSequence {
        guard !promptIDs.isEmpty else { throw ModelError.emptyInput(what: "prompt") }
        try validate(promptIDs, vocabularySize: vocabularySize)
        return try startSequence(encoderOutput: try encoder.encode(promptIDs))
    }

    public func step(_ tokens: [Int32], sequences: [any DecodingSequence]) throws {
        let states = try BatchStep.states(of: sequences, model: "T5") { sequence -> T5DecoderState? in
            guard let t5 = sequence as? T5Sequence, t5.decoder === decoder else { return nil }
            return t5.state
        }
        try decoder.step(tokens, states: states)
    }

    /// Starts decoding from an encoder output [S, d_model] computed elsewhere (e.g. from E(x) + Z in LLM-to-SLM),
    /// feeding the decoder start token so the first logits are ready.
    public func startSequence(encoderOutput: Tensor, encoderMask: [Bool]? = nil) throws -> T5Sequence {
        try startDecoding(
            encoderOutput: encoderOutput, encoderMask: encoderMask, startToken: configuration.decoderStartTokenID)
    }

    /// A decoder state over `encoderOutput` [S, d_model] that has consumed `startToken`.
    private func startDecoding(encoderOutput: Tensor, encoderMask: [Bool]?, startToken: Int32) throws -> T5Sequence {
        let state = try decoder.makeState(encoderOutput: encoderOutput, encoderMask: encoderMask)
        try decoder.forward([startToken], state: state)
        return T5Sequence(decoder: decoder, state: state)
    }
}

/// LLM-to-SLM with a T5 SLM: S is the SLM encoder's `inputs_embeds`, and the decoder starts at the bundle's
/// decoder start token.
extension T5Model: ConditionableSLM {
    /// An encoder-decoder: S feeds the SLM encoder.
    public static var slmKind: SLMKind { .encoderDecoder }

    /// d_model and vocab_size of the T5 config.
    public static func conditioningShape(configFile: URL) throws -> (width: Int, vocabularySize: Int) {
        let configuration = try loadConfig(T5Configuration.self, from: configFile)
        return (configuration.modelDimension, configuration.vocabularySize)
    }

    /// The shared embedding `shared.weight`[ids], as the SLM encoder reads it.
    public func embedPrompt(_ ids: [Int32]) throws -> Tensor { try encoder.embed(ids) }

    /// The SLM encoder over S, then the decoder from `startToken`.
    public func startSequence(promptInputs: Tensor, startToken: Int32) throws -> any DecodingSequence {
        try prefill(promptInputs: promptInputs, startToken: startToken).finish()
    }

    /// One unit per SLM encoder block, then one for the cross-attention K/V and the decoder start step.
    public func prefill(promptInputs: Tensor, startToken: Int32) throws -> any SequencePrefill {
        T5Prefill(
            pass: try T5Encoder.Pass(encoder, batch: [promptInputs], masks: [nil]), tokens: promptInputs.shape[0]
        ) { [self] encoded in
            try startDecoding(encoderOutput: encoded, encoderMask: nil, startToken: startToken)
        }
    }

    /// None: T5's relative positions impose no limit.
    public func maxPromptTokens(newTokens: Int) -> Int? { nil }

    /// The decoder start token of the SLM's config, as `penaltyContext(promptIDs:)`.
    public var conditionedPenaltyContext: [Int32] { [configuration.decoderStartTokenID] }
}

/// A T5 sequence being decoded: the decoder plus one `T5DecoderState`.
public final class T5Sequence: DecodingSequence {
    /// The shared decoder.
    public let decoder: T5Decoder
    /// This sequence's caches and buffers.
    public let state: T5DecoderState

    init(decoder: T5Decoder, state: T5DecoderState) {
        self.decoder = decoder
        self.state = state
    }

    public var logits: [Float] { state.logits }
    public var position: Int { state.length }

    public func append(_ token: Int32) throws {
        try decoder.forward([token], state: state)
    }

    public func fork() -> any DecodingSequence {
        T5Sequence(decoder: decoder, state: T5DecoderState(forking: state))
    }

    public var stateBytes: Int {
        (state.crossKV.map(\.capacity).reduce(0, +) + state.logits.count) * MemoryLayout<Float>.stride
            + state.cache.bytes
    }
}

/// A T5 SLM's start in units: its encoder a block at a time, then the decoder over the result.
final class T5Prefill: SequencePrefill {
    private let pass: T5Encoder.Pass
    private let startDecoding: (Tensor) throws -> T5Sequence
    private var started = false
    let tokensPerUnit: Int

    init(pass: T5Encoder.Pass, tokens: Int, startDecoding: @escaping (Tensor) throws -> T5Sequence) {
        self.pass = pass
        tokensPerUnit = tokens
        self.startDecoding = startDecoding
    }

    var unitsLeft: Int { started ? 0 : pass.blocksLeft + 1 }

    func advance(units: Int) throws -> (any DecodingSequence)? {
        precondition(!started, "prefill advanced after it finished")
        let blocks = min(max(1, units), pass.blocksLeft)
        pass.run(blocks: blocks)
        guard pass.blocksLeft == 0, units > blocks || blocks == 0 else { return nil }
        started = true
        return try startDecoding(try pass.finish()[0])
    }
}
