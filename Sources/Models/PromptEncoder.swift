import Foundation
import Numerics
import Tokenizers

// What the encoder service hosts (docs/bundle.md, "Reference forward" steps 1-4; scripts/l2s_py/reference.py):
// the LLM tokenizer, the frozen LLM's T5 encoder (encoder-only load) and, when the bundle says `projector.runs_on:
// encoder`, the projector. Its output is the encoding that travels to the decoder: P [m, d_slm], or H [m, d_llm]
// when the decoder projects (`EncodingProjector` is the decoder's half of that step).

/// Turns prompts into the encodings the encoder service ships: tokenize with the LLM tokenizer, H = LLM encoder,
/// then P = projector(H) [m, d_slm] (`runs_on: encoder`) or H itself [m, d_llm] (`runs_on: decoder`). Read-only
/// after loading and safe to share between threads.
public final class PromptEncoder: Sendable {
    /// Default `maxPromptTokens`: T5's relative positions impose no hard limit, so this only bounds the work (and
    /// the quadratic attention memory) one untrusted prompt can cause.
    public static let defaultMaxPromptTokens = 512

    /// The validated bundle.
    public let bundle: L2SBundle
    /// The LLM's T5 encoder.
    public let encoder: T5Encoder
    /// The projector when it runs here (`runs_on: encoder`); nil when the decoder projects.
    public let projector: Projector?
    /// The LLM (prompt) tokenizer: prompt positions are defined by it.
    public let tokenizer: any Tokenizer
    /// Longest prompt accepted, in LLM tokens.
    public let maxPromptTokens: Int

    /// Loads the LLM encoder, the LLM tokenizer and, for `runs_on: encoder`, the projector of `bundle`. With
    /// `.batchInvariant` (the default) a batch of prompts runs prompt by prompt, so every encoding is bit-identical
    /// to the prompt encoded alone; with `.blas` the prompts' rows are stacked into one pass (faster, equal to ~1e-6).
    /// `weights: .int8` runs the LLM's prompt pass as int8 products (lossy, docs/kernels.md).
    public init(
        bundle: L2SBundle, maxPromptTokens: Int = PromptEncoder.defaultMaxPromptTokens,
        rowKernel: RowKernel = .batchInvariant, weights: WeightStorage = .asStored
    ) throws {
        guard maxPromptTokens > 0 else {
            throw ModelError.invalidConfigValue(
                key: "maxPromptTokens", value: "\(maxPromptTokens)", path: bundle.directory.path, expected: "> 0")
        }
        self.bundle = bundle
        self.maxPromptTokens = maxPromptTokens
        encoder = try T5Encoder(directory: bundle.llmDirectory, rowKernel: rowKernel, weights: weights)
        switch bundle.projectorRunsOn {
        case .encoder:
            projector = try Projector(bundle: bundle)
        case .decoder:
            projector = nil
        }
        tokenizer = try loadTokenizer(directory: bundle.llmDirectory)
    }

    /// Whether `encode` runs several prompts as one stacked pass; if not, it runs them one by one anyway.
    public var stacksPrompts: Bool { encoder.stacksPrompts }

    /// Width of each encoding row: d_slm when the projector runs here, d_llm when the decoder projects.
    public var encodingWidth: Int { bundle.encodingWidth }

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

    /// The encoding of each prompt, row-major and not yet rounded to the wire dtype: P [m_i, d_slm] (steps 2-3) when
    /// the projector runs here, H [m_i, d_llm] (step 2) when the decoder projects. Callers narrow them to the wire
    /// dtype (`WireRounding.narrow`) or use `encodeRounded`. The LLM encoder sees all prompts in one
    /// `encode(batch:)` call (see `init` for how the row kernel decides between bit-identity and one stacked pass).
    public func encode(_ prompts: [[Int32]]) throws -> [[Float]] {
        guard !prompts.isEmpty else { return [] }
        for ids in prompts { try checkLength(ids) }
        let hidden = try encoder.encode(batch: try prompts.map { try encoder.embed($0) })
        guard let projector else { return hidden.map(\.scalars) }
        return try zip(prompts, hidden).map { ids, h in try projector.project(h.scalars, rows: ids.count) }
    }

    /// Each encoding rounded to the wire dtype and widened back (step 4): exactly what a decoder receives over the
    /// wire, Z = wire(P) or Hw = wire(H).
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
