import Foundation
import Numerics

// What LLM-to-SLM conditioning needs from an SLM family (docs/bundle.md, "Reference forward" steps 5-7;
// scripts/l2s_py/reference.py), so that `L2SBundle` and `ConditionedSLM` hold no branch on a family: each family
// implements this next to its model and registers in `ModelRegistry.families`.

/// An SLM that LLM-to-SLM can condition on a prompt encoding: S = E_slm(x) + Z (or Z alone) enters it at the prompt
/// positions, then it generates the answer.
public protocol ConditionableSLM: LanguageModel {
    /// The `slm.kind` a bundle must declare for this family.
    static var slmKind: SLMKind { get }
    /// d_slm (the width of Z and S) and the vocabulary size, read from `configFile` alone: the bundle checks them
    /// against the projector and its token ids before any weight is loaded.
    static func conditioningShape(configFile: URL) throws -> (width: Int, vocabularySize: Int)
    /// E_slm(ids) [m, d_slm], the embeddings `prompt_input: add` adds to Z.
    func embedPrompt(_ ids: [Int32]) throws -> Tensor
    /// Starts a sequence from the SLM inputs S [m, d_slm] at the prompt positions and `startToken` (T5: the decoder
    /// start token; GPT-2: the separator after the prompt), leaving the first answer token's logits ready.
    func startSequence(promptInputs: Tensor, startToken: Int32) throws -> any DecodingSequence
    /// The same start as `startSequence(promptInputs:startToken:)`, in units a decoder can interleave with its steps
    /// (the default: one unit).
    func prefill(promptInputs: Tensor, startToken: Int32) throws -> any SequencePrefill
    /// Longest prompt the SLM can take with `newTokens` answer tokens after it; nil when it has no position limit.
    func maxPromptTokens(newTokens: Int) -> Int?
    /// The ids the penalties see before the first answer id when the prompt enters as S (embeddings, not ids): what
    /// transformers' logits processors see as `input_ids` at the first step.
    var conditionedPenaltyContext: [Int32] { get }
}

extension ConditionableSLM {
    /// One unit: `startSequence(promptInputs:startToken:)`.
    public func prefill(promptInputs: Tensor, startToken: Int32) throws -> any SequencePrefill {
        OneUnitPrefill(tokens: promptInputs.shape.first ?? 0) {
            try self.startSequence(promptInputs: promptInputs, startToken: startToken)
        }
    }
}
