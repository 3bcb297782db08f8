import Foundation
import Numerics
import Tokenizers

// What the encoder service hosts (docs/bundle.md, "Reference forward" steps 1-4; scripts/l2s_py/reference.py):
// the LLM tokenizer, the frozen LLM's T5 encoder (encoder-only load) and the projector.

/// Turns prompts into projected encodings P [m, d_slm]: tokenize with the LLM tokenizer, H = LLM encoder, P =
/// projector(H). Read-only after loading and safe to share between threads.
public final class PromptEncoder: Sendable {
    /// Default `maxPromptTokens`: T5's relative positions impose no hard limit, so this only bounds the work (and
    /// the quadratic attention memory) one untrusted prompt can cause.
    public static let defaultMaxPromptTokens = 512

    /// The validated bundle.
    public let bundle: L2SBundle
    /// The LLM's T5 encoder.
    public let encoder: T5Encoder
    /// The projector.
    public let projector: Projector
    /// The LLM (prompt) tokenizer: prompt positions are defined by it.
    public let tokenizer: any Tokenizer
    /// Longest prompt accepted, in LLM tokens.
    public let maxPromptTokens: Int

    /// Loads the LLM encoder, the projector and the LLM tokenizer of `bundle`. With `.batchInvariant` (the default)
    /// a batch of prompts runs prompt by prompt, so every encoding is bit-identical to the prompt encoded alone; with
    /// `.blas` the prompts' rows are stacked into one pass (faster, equal to ~1e-6).
    public init(
        bundle: L2SBundle, maxPromptTokens: Int = PromptEncoder.defaultMaxPromptTokens,
        rowKernel: RowKernel = .batchInvariant
    ) throws {
        guard maxPromptTokens > 0 else {
            throw ModelError.invalidConfigValue(
                key: "maxPromptTokens", value: "\(maxPromptTokens)", path: bundle.directory.path, expected: "> 0")
        }
        self.bundle = bundle
        self.maxPromptTokens = maxPromptTokens
        encoder = try T5Encoder(directory: bundle.llmDirectory, rowKernel: rowKernel)
        projector = try Projector(
            file: bundle.projectorFile, inputDimension: bundle.manifest.projector.inputDimension,
            outputDimension: bundle.manifest.projector.outputDimension)
        tokenizer = try loadTokenizer(directory: bundle.llmDirectory)
    }

    /// Width of each encoding row (d_slm).
    public var outputWidth: Int { projector.outputDimension }

    /// Prompt ids of `text`: the LLM tokenizer's pieces followed by `</s>`, as T5 tokenizers do (step 1).
    public func tokenize(_ text: String) throws -> [Int32] {
        let ids = try tokenizer.encode(text, addSpecialTokens: true)
        try checkLength(ids)
        return ids
    }

    /// H, the LLM encoder's last hidden state [m, d_llm] row-major (step 2).
    public func hiddenStates(_ ids: [Int32]) throws -> [Float] {
        try checkLength(ids)
        return try encoder.encode(ids).scalars
    }

    /// The projections P [m_i, d_slm] row-major of each prompt (steps 2-3), unrounded: callers narrow them to the
    /// wire dtype (`WireRounding.narrow`) or use `encodeRounded`. The LLM encoder sees all prompts in one
    /// `encode(batch:)` call (see `init` for how the row kernel decides between bit-identity and one stacked pass).
    public func encode(_ prompts: [[Int32]]) throws -> [[Float]] {
        guard !prompts.isEmpty else { return [] }
        for ids in prompts { try checkLength(ids) }
        let hidden = try encoder.encode(batch: try prompts.map { try encoder.embed($0) })
        return try zip(prompts, hidden).map { ids, h in try projector.project(h.scalars, rows: ids.count) }
    }

    /// Z = float32(wire_dtype(P)) of each prompt (step 4): exactly what a decoder receives over the wire.
    public func encodeRounded(_ prompts: [[Int32]]) throws -> [[Float]] {
        try encode(prompts).map { WireRounding.round($0, to: bundle.wireDType) }
    }

    private func checkLength(_ ids: [Int32]) throws {
        guard !ids.isEmpty else { throw ModelError.emptyInput(what: "prompt") }
        guard ids.count <= maxPromptTokens else {
            throw ModelError.promptTooLong(tokens: ids.count, limit: maxPromptTokens)
        }
    }
}
