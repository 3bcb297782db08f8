import Foundation
import Numerics
import Tokenizers

// What decoder workers host (docs/bundle.md, "Reference forward" steps 4-7; scripts/l2s_py/reference.py): the SLM
// conditioned on a prompt encoding, which `EncodingProjector` turns into Z first (projecting it when the bundle says
// `projector.runs_on: decoder`). How S = E(x) + Z (or Z) enters the SLM is the family's `ConditionableSLM`
// implementation; nothing here knows a family.

/// The SLM of a bundle plus its tokenizer (and its projector for `runs_on: decoder`); starts decoding sequences from
/// prompt ids and the encoding the encoder service made of them. Read-only after loading and safe to share; each
/// sequence it starts belongs to one thread at a time.
public final class ConditionedSLM: Sendable {
    /// The validated bundle.
    public let bundle: L2SBundle
    /// The SLM, of the family `ModelRegistry` has for its `model_type`; its `step` batches sequences this object
    /// started.
    public let model: any ConditionableSLM
    /// The SLM (answer) tokenizer.
    public let tokenizer: any Tokenizer
    /// Turns a received encoding into Z (projects it when the projector runs on the decoder).
    public let encodingProjector: EncodingProjector

    /// Loads the SLM checkpoint, its tokenizer and, for `runs_on: decoder`, the projector; `rowKernel` as for
    /// `ModelRegistry.load` (the default keeps batched decoding steps bit-identical to single-sequence ones); `weights`
    /// how the SLM keeps its step layers.
    public init(bundle: L2SBundle, rowKernel: RowKernel = .batchInvariant, weights: WeightStorage = .asStored) throws {
        self.bundle = bundle
        // `L2SBundle` accepts only an SLM whose family is registered as conditionable.
        guard let family = ModelRegistry.slmFamily(bundle.slmModelType) else {
            throw ModelError.unknownModelType(
                bundle.slmModelType, path: bundle.slmDirectory.appendingPathComponent("config.json").path,
                known: ModelRegistry.slmModelTypes)
        }
        model = try family.init(directory: bundle.slmDirectory, rowKernel: rowKernel, weights: weights)
        tokenizer = try loadTokenizer(directory: bundle.slmDirectory)
        encodingProjector = try EncodingProjector(bundle: bundle)
    }

    /// The ids the penalties see before the first answer id (`ConditionableSLM.conditionedPenaltyContext`): a T5
    /// SLM's decoder start token; none for GPT-2, whose prompt positions are embeddings (S), not ids.
    public var penaltyContext: [Int32] { model.conditionedPenaltyContext }

    /// Generation stops at the bundle's `eos_token_id` (not the SLM config's ids).
    public var eosTokenIDs: [Int32] { [bundle.eosTokenID] }
    /// d_slm: the width of each row of Z and S.
    public var width: Int { bundle.slmWidth }
    /// Width of each row of the encoding this side receives: d_slm (Z) or, for `runs_on: decoder`, d_llm (Hw).
    public var encodingWidth: Int { encodingProjector.encodingWidth }
    /// Longest prompt the SLM can take with `newTokens` answer tokens (GPT-2: m + 1 + new <= n_positions); nil when
    /// the SLM has no position limit (T5).
    public func maxPromptTokens(newTokens: Int) -> Int? { model.maxPromptTokens(newTokens: newTokens) }

    /// The SLM inputs S [m, d_slm] at the prompt positions (step 5): E_slm(x_i) + Z_i for `add`, Z_i for
    /// `projection_only`. `z` is row-major [promptIDs.count, d_slm], as `encodingProjector` made it.
    public func promptInputs(promptIDs: [Int32], projection z: [Float]) throws -> Tensor {
        let m = promptIDs.count
        guard m > 0 else { throw ModelError.emptyInput(what: "prompt") }
        guard z.count == m * width else {
            throw ModelError.inputShapeMismatch(
                what: "projection Z (floats of \(m) prompt positions x d_slm \(width))", expected: [m * width],
                actual: [z.count])
        }
        // Z may come off the wire: a NaN or infinity would silently poison every logit of the sequence.
        if let index = z.firstIndex(where: { !$0.isFinite }) {
            throw ModelError.nonFiniteInput(what: "projection Z", index: index, value: z[index])
        }
        var inputs = try Tensor(shape: [m, width], scalars: z)
        guard bundle.promptInput == .add else { return inputs }
        try validate(promptIDs, vocabularySize: bundle.slmVocabularySize)
        let embedded = try model.embedPrompt(promptIDs)
        // float32 sum Z + E in one rounding, as torch's `wire + embed(ids)`.
        embedded.withUnsafeBufferPointer { e in
            inputs.withUnsafeMutableBufferPointer {
                Kernels.add(e.baseAddress!, into: $0.baseAddress!, count: m * width)
            }
        }
        return inputs
    }

    /// Starts a sequence from prompt ids (the LLM's tokenization) and their encoding as received, row-major
    /// [m, encodingWidth] and already rounded to the wire dtype (steps 4-6): Z = `encodingProjector`'s projection of
    /// it, S from Z, then the family's `startSequence(promptInputs:startToken:)` with the bundle's decoder start id
    /// (T5: the SLM encoder and the decoder start step; GPT-2: the prefill of the m prompt positions and the
    /// separator), leaving the first answer token's logits ready. The result is the model's own sequence type, so
    /// `model.step` can batch it with others.
    public func startSequence(promptIDs: [Int32], encoding: [Float]) throws -> any DecodingSequence {
        try startPrefill(promptIDs: promptIDs, encoding: encoding).finish()
    }

    /// The same start in units (`SequencePrefill`), which a decoder interleaves with the steps of running
    /// sequences: Z and S are made here (and the encoding checked), the SLM's own prompt pass runs unit by unit.
    public func startPrefill(promptIDs: [Int32], encoding: [Float]) throws -> any SequencePrefill {
        let z = try encodingProjector.projection(of: encoding, rows: promptIDs.count)
        let inputs = try promptInputs(promptIDs: promptIDs, projection: z)
        return try model.prefill(promptInputs: inputs, startToken: bundle.decoderStartTokenID)
    }
}
