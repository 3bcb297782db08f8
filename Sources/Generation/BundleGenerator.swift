import Foundation
import Models
import Numerics
import Tokenizers

/// LLM-to-SLM generation in one process (`l2s run --bundle`): tokenize with the LLM tokenizer, encode (and project
/// when the projector runs on the encoder), round the encoding to the bundle's wire dtype exactly as the wire does,
/// project it when the projector runs on the decoder, condition the SLM, generate, detokenize with the SLM
/// tokenizer. The same steps the encoder service and a decoder worker take, so the result object is the cluster's.
public final class BundleGenerator: Sendable {
    /// The encoder side: LLM tokenizer, LLM encoder, projector (`runs_on: encoder`).
    public let encoder: PromptEncoder
    /// The decoder side: the conditioned SLM, its tokenizer, projector (`runs_on: decoder`).
    public let slm: ConditionedSLM

    /// Loads both halves of `bundle`; `weights` is how both models keep their weights (`WeightStorage`).
    public init(
        bundle: L2SBundle, maxPromptTokens: Int = PromptEncoder.defaultMaxPromptTokens,
        rowKernel: RowKernel = .batchInvariant, weights: WeightStorage = .asStored
    ) throws {
        encoder = try PromptEncoder(
            bundle: bundle, maxPromptTokens: maxPromptTokens, rowKernel: rowKernel, weights: weights)
        slm = try ConditionedSLM(bundle: bundle, rowKernel: rowKernel, weights: weights)
    }

    /// Prompt ids of `text` (LLM tokenizer, `</s>` appended).
    public func tokenize(_ text: String) throws -> [Int32] {
        try encoder.tokenize(text)
    }

    /// Generates from prompt ids until the bundle's EOS or `options.maxNewTokens`. `ids` of the result include the
    /// EOS that ended the job (as `l2s run --model` reports it); `text` is the SLM tokenizer's decoding of the ids
    /// before it, special tokens skipped (docs/bundle.md: EOS is not part of the answer), cut before the first of
    /// `options.stop` that occurs. `onDelta` sees, per generated id, the text it made safe to print (never half a
    /// UTF-8 character, never part of a stop string; the last one includes what was held back) and the id. The
    /// deltas concatenate to `text`; the third argument is the id's `TokenLogprob` when `options.logprobs` asks for
    /// it. A beam job (`options.beams`) has one delta: the best sequence, at the end.
    public func generate(
        promptIDs: [Int32], options: GenerationOptions,
        onDelta: ((String, [Int32], [TokenLogprob]?) -> Void)? = nil
    ) throws -> GenerationResult {
        let clock = ContinuousClock()
        let start = clock.now
        if let limit = slm.maxPromptTokens(newTokens: options.maxNewTokens), promptIDs.count > limit {
            throw ModelError.promptTooLong(tokens: promptIDs.count, limit: max(limit, 0))
        }
        guard let encoding = try encoder.encodeRounded([promptIDs]).first else {
            throw ModelError.emptyInput(what: "encoding")
        }
        let sequence = try slm.startSequence(promptIDs: promptIDs, encoding: encoding)
        let prefill = clock.now - start
        // The ids that end the job (the bundle's, unless the options override them) are never part of the text.
        if options.beams.isOn {
            var result = try Generator.generateBeams(
                model: slm.model, sequence: sequence, promptTokens: promptIDs.count, eosTokenIDs: slm.eosTokenIDs,
                options: options, tokenizer: slm.tokenizer, contextPrefix: slm.penaltyContext)
            onDelta?(result.text, result.ids, nil)
            result.timings.prefillSeconds = prefill.inSeconds
            return result
        }
        var result = try Generator.generate(
            sequence: sequence, promptTokens: promptIDs.count, eosTokenIDs: slm.eosTokenIDs, options: options,
            tokenizer: slm.tokenizer, contextPrefix: slm.penaltyContext
        ) { step in onDelta?(step.delta, [step.token], step.logprob.map { [$0] }) }
        result.timings.prefillSeconds = prefill.inSeconds
        return result
    }
}
