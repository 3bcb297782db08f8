import Models
import Tokenizers

/// One beam-search job as `l2s run` and the decoder worker run it, the same code for both: a `BeamSearch` plus the
/// result objects it ends with (text without EOS, finish reason, usage). The caller owns the rows (one sequence per
/// running beam): it feeds their logits to `advance`, reorders them with `BeamRows.reorder` and appends the tokens,
/// until `isFinished`. Nothing is released before the end: a beam's best sequence is known only then.
public struct BeamGeneration: Sendable {
    private var search: BeamSearch
    private let tokenizer: (any Tokenizer)?
    private let eos: Set<Int32>
    /// Prompt tokens the job read.
    public let promptTokens: Int

    /// A beam job for `options` (beam search on) that stops at `eosTokenIDs` unless the options name others;
    /// `tokenizer` makes the text (nil: ids only); `contextPrefix` is what the penalties see before the first new
    /// id. Throws a `GenerationOptionError` naming the first unusable option.
    public init(
        options: GenerationOptions, eosTokenIDs: [Int32], tokenizer: (any Tokenizer)?, promptTokens: Int,
        contextPrefix: [Int32] = []
    ) throws {
        try options.validate(hasTokenizer: tokenizer != nil)
        let sampler = TokenSampler(
            parameters: options.sampling, eosTokenIDs: options.eosTokenIDs ?? eosTokenIDs,
            minNewTokens: options.minNewTokens)
        search = BeamSearch(
            beams: options.beams, sampler: sampler, maxNewTokens: options.maxNewTokens, contextPrefix: contextPrefix)
        self.tokenizer = tokenizer
        eos = Set(sampler.eosTokenIDs)
        self.promptTokens = promptTokens
    }

    /// Whether the search is over.
    public var isFinished: Bool { search.isFinished }
    /// Rows the next `advance` expects logits for.
    public var rowCount: Int { search.rowCount }

    /// One step over the rows' raw logits; returns what each next row extends (none once finished).
    public mutating func advance(rowLogits: [[Float]]) -> [BeamSearch.Extension] {
        search.advance(rowLogits: rowLogits)
    }

    /// The finished sequences as result objects, best first (`num_return_sequences` of them).
    public func results() throws -> [GenerationResult] {
        try search.hypotheses.map { hypothesis in
            var text = ""
            if var decoder = tokenizer?.makeIncrementalDecoder(skipSpecialTokens: true) {
                for id in hypothesis.ids where !eos.contains(id) { text += try decoder.add(id) }
                text += decoder.finish()
            }
            let ended = hypothesis.ids.last.map(eos.contains) ?? false
            return GenerationResult(
                text: text, ids: hypothesis.ids, finishReason: ended ? .eos : .length,
                usage: Usage(promptTokens: promptTokens, completionTokens: hypothesis.ids.count))
        }
    }

    /// The finished sequences with their length-penalised scores, best first (for tests against transformers).
    public var hypotheses: [BeamSearch.Hypothesis] { search.hypotheses }

    /// Runs a whole beam job on one started sequence (its first logits ready), forking it per beam and stepping the
    /// beams as one batch of `model`. Returns the result objects, best first.
    public mutating func run(from start: any DecodingSequence, model: any LanguageModel) throws -> [GenerationResult] {
        var rows = [start]
        while !isFinished {
            let extensions = advance(rowLogits: rows.map(\.logits))
            guard !extensions.isEmpty else { break }
            rows = BeamRows.reorder(rows, extensions: extensions) { $0.fork() }
            try model.step(extensions.map(\.token), sequences: rows)
        }
        return try results()
    }
}
