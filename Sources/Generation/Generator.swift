import Foundation
import Models
import Tokenizers

/// Limits and choices for one generation job.
public struct GenerationOptions: Sendable, Equatable {
    /// Stop after this many new tokens.
    public var maxNewTokens: Int
    /// Suppress EOS until this many new tokens exist.
    public var minNewTokens: Int
    /// Greedy or sampling.
    public var sampling: SamplingParameters
    /// EOS ids; nil means the model config's.
    public var eosTokenIDs: [Int32]?
    /// Keep each step's raw logits in the result (`--dump-logits`).
    public var recordLogits: Bool
    /// Stop strings (OpenAI's `stop`): the text ends before the first one that occurs.
    public var stop: [String]
    /// Beam search (off by default).
    public var beams: BeamOptions
    /// Report each generated token's log-probability and this many alternatives (`--logprobs N`, 0...20); nil = off.
    public var logprobs: Int?

    /// The most stop strings a job may have (OpenAI's limit).
    public static let maxStopStrings = 4
    /// The longest stop string, in UTF-8 bytes.
    public static let maxStopBytes = 256

    /// Options with transformers-like defaults (greedy, 20 new tokens).
    public init(
        maxNewTokens: Int = 20, minNewTokens: Int = 0, sampling: SamplingParameters = .greedy,
        eosTokenIDs: [Int32]? = nil, recordLogits: Bool = false, stop: [String] = [], beams: BeamOptions = .off,
        logprobs: Int? = nil
    ) {
        self.maxNewTokens = maxNewTokens
        self.minNewTokens = minNewTokens
        self.sampling = sampling
        self.eosTokenIDs = eosTokenIDs
        self.recordLogits = recordLogits
        self.stop = stop
        self.beams = beams
        self.logprobs = logprobs
    }

    /// Throws a `GenerationOptionError` naming the first option a job cannot run with; stop strings need a
    /// tokenizer (text to match).
    public func validate(hasTokenizer: Bool = true) throws {
        func fail(_ option: String, _ expected: String, _ actual: String) -> GenerationOptionError {
            GenerationOptionError(option: option, expected: expected, actual: actual)
        }
        if maxNewTokens < 0 { throw fail("max_new_tokens", ">= 0", "\(maxNewTokens)") }
        if minNewTokens < 0 { throw fail("min_new_tokens", ">= 0", "\(minNewTokens)") }
        if let problem = sampling.validationError { throw fail("sampling", "usable", problem) }
        if stop.count > Self.maxStopStrings {
            throw fail("stop", "at most \(Self.maxStopStrings) strings", "\(stop.count)")
        }
        if let index = stop.firstIndex(where: { $0.isEmpty || $0.utf8.count > Self.maxStopBytes }) {
            throw fail("stop[\(index)]", "1-\(Self.maxStopBytes) UTF-8 bytes", "\(stop[index].utf8.count) bytes")
        }
        if !stop.isEmpty, !hasTokenizer { throw fail("stop", "empty without a tokenizer (ids only)", "\(stop)") }
        if let logprobs, !(0...TokenLogprob.maxTop).contains(logprobs) {
            throw fail("logprobs", "0-\(TokenLogprob.maxTop)", "\(logprobs)")
        }
        try validateBeams()
    }

    private func validateBeams() throws {
        func fail(_ option: String, _ expected: String, _ actual: String) -> GenerationOptionError {
            GenerationOptionError(option: option, expected: expected, actual: actual)
        }
        let numBeams = beams.numBeams
        if !(1...BeamOptions.maxBeams).contains(numBeams) {
            throw fail("num_beams", "1-\(BeamOptions.maxBeams)", "\(numBeams)")
        }
        if !(1...numBeams).contains(beams.numReturnSequences) {
            throw fail("num_return_sequences", "1-\(numBeams) (at most num_beams)", "\(beams.numReturnSequences)")
        }
        if !beams.lengthPenalty.isFinite { throw fail("length_penalty", "finite", "\(beams.lengthPenalty)") }
        guard beams.isOn else { return }
        if !sampling.greedy { throw fail("num_beams", "1 when sampling (beam search is greedy)", "\(numBeams)") }
        if !stop.isEmpty { throw fail("stop", "empty with num_beams > 1", "\(stop.count) strings") }
        if recordLogits { throw fail("num_beams", "1 when recording logits", "\(numBeams)") }
        if logprobs != nil { throw fail("logprobs", "off with num_beams > 1", "\(logprobs ?? 0)") }
    }
}

/// Why generation stopped.
public enum FinishReason: String, Sendable, Equatable, Codable {
    /// An EOS token was generated (it is the last id).
    case eos
    /// `maxNewTokens` were generated.
    case length
    /// A stop sequence matched.
    case stop
    /// The job was cancelled (by its client, its deadline or the router).
    case cancelled
}

/// Token counts of a job.
public struct Usage: Sendable, Equatable, Codable {
    /// Prompt tokens read.
    public var promptTokens: Int
    /// Tokens generated (EOS included).
    public var completionTokens: Int

    /// Counts of one job.
    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// The per-job bookkeeping of generation, apart from the model: the sampler, the ids so far and the stop rule.
/// The decoder worker keeps one per active sequence; `generate` below drives one to completion.
public struct GenerationJob: Sendable {
    /// The options of the job.
    public let options: GenerationOptions
    /// The token chooser (holds the EOS ids in effect).
    public let sampler: TokenSampler
    /// Ids generated so far.
    public private(set) var ids: [Int32] = []
    /// Set once the job is finished.
    public private(set) var finishReason: FinishReason?

    /// The ids before the first new one that the penalties see (`LanguageModel.penaltyContext`).
    public let contextPrefix: [Int32]

    /// A job that stops at `eosTokenIDs` (unless the options override them); `contextPrefix` as above.
    public init(options: GenerationOptions, eosTokenIDs: [Int32], contextPrefix: [Int32] = []) {
        self.options = options
        self.contextPrefix = contextPrefix
        sampler = TokenSampler(
            parameters: options.sampling, eosTokenIDs: options.eosTokenIDs ?? eosTokenIDs,
            minNewTokens: options.minNewTokens)
        if options.maxNewTokens <= 0 { finishReason = .length }
    }

    /// Chooses the next token from this step's raw logits (does not record it).
    public func choose(from logits: [Float]) -> Int32 {
        chooseWithLogprob(from: logits).token
    }

    /// Chooses the next token from this step's raw logits (does not record it) and, when `options.logprobs` is set,
    /// its log-probability and top alternatives under the processed distribution (`TokenLogprob`).
    public func chooseWithLogprob(from logits: [Float]) -> (token: Int32, logprob: TokenLogprob?) {
        var processed = logits
        sampler.process(
            &processed, step: ids.count, context: options.sampling.hasPenalties ? contextPrefix + ids : [])
        let token = sampler.choose(processed: processed, step: ids.count)
        guard let top = options.logprobs else { return (token, nil) }
        return (token, TokenLogprob.make(processed: processed, chosen: token, top: top))
    }

    /// Records a generated (or replayed) token and returns the finish reason if the job is now done.
    @discardableResult
    public mutating func accept(_ token: Int32) -> FinishReason? {
        precondition(finishReason == nil, "token accepted after the job finished")
        ids.append(token)
        if sampler.eosTokenIDs.contains(token) {
            finishReason = .eos
        } else if ids.count >= options.maxNewTokens {
            finishReason = .length
        }
        return finishReason
    }

    /// Ends the job for a reason found outside the sampler: a stop sequence, a cancel.
    public mutating func finish(_ reason: FinishReason) {
        if finishReason == nil { finishReason = reason }
    }
}

/// Wall-clock time of a job's two phases (for benchmarks; not part of the result object).
public struct GenerationTimings: Sendable {
    /// Prompt processing up to the first logits: encoder (+ cross K/V + decoder start step) or prefill.
    public var prefillSeconds: Double = 0
    /// All decoder steps after the first logits.
    public var decodeSeconds: Double = 0
    /// Number of those steps.
    public var decodeSteps: Int = 0
}

/// The outcome of one job, printed as the result object of docs/architecture.md ("Command line").
public struct GenerationResult: Sendable, Equatable {
    /// The generated text (empty when no tokenizer is loaded).
    public var text: String
    /// The generated ids, EOS included when it ended the job.
    public var ids: [Int32]
    /// Why it stopped.
    public var finishReason: FinishReason
    /// Token counts.
    public var usage: Usage
    /// Each step's raw logits, when recorded.
    public var logits: [[Float]]?
    /// How long the phases took; ignored by `==`.
    public var timings = GenerationTimings()
    /// Beam search with `num_return_sequences` K > 1: the next K - 1 sequences, best first.
    public var alternatives: [GenerationResult] = []
    /// One entry per id of `ids` when the job asked for log-probabilities (`GenerationOptions.logprobs`).
    public var logprobs: [TokenLogprob]?

    public static func == (lhs: GenerationResult, rhs: GenerationResult) -> Bool {
        lhs.text == rhs.text && lhs.ids == rhs.ids && lhs.finishReason == rhs.finishReason && lhs.usage == rhs.usage
            && lhs.logits == rhs.logits && lhs.alternatives == rhs.alternatives && lhs.logprobs == rhs.logprobs
    }

    /// A result.
    public init(text: String = "", ids: [Int32], finishReason: FinishReason, usage: Usage, logits: [[Float]]? = nil) {
        self.text = text
        self.ids = ids
        self.finishReason = finishReason
        self.usage = usage
        self.logits = logits
    }

    /// One JSON object on one line: text, ids, finish_reason, usage, logprobs when asked for and logits when recorded
    /// (non-finite values as null, which JSON cannot otherwise carry).
    public var jsonLine: String {
        var line = #"{"text":\#(Self.quoted(text)),"ids":[\#(ids.map(String.init).joined(separator: ","))],"#
        line += #""finish_reason":"\#(finishReason.rawValue)","#
        line += #""usage":{"prompt_tokens":\#(usage.promptTokens),"completion_tokens":\#(usage.completionTokens)}"#
        if let logprobs { line += #","logprobs":\#(TokenLogprob.json(logprobs))"# }
        if let logits {
            let rows = logits.map { row in "[" + row.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",") + "]"
            }
            line += #","logits":[\#(rows.joined(separator: ","))]"#
        }
        return line + "}"
    }

    /// One streamed piece as `l2s run --stream` and `l2s generate --stream` print it: {"delta","ids"}, and
    /// "logprobs" (one per id) when the job asked for them.
    public static func deltaLine(_ text: String, ids: [Int32], logprobs: [TokenLogprob]? = nil) -> String {
        let entries = logprobs.map { #","logprobs":\#(TokenLogprob.json($0))"# } ?? ""
        return #"{"delta":\#(quoted(text)),"ids":[\#(ids.map(String.init).joined(separator: ","))]\#(entries)}"#
    }

    /// `text` as a JSON string literal, the one quoting every l2s JSON line uses.
    public static func quoted(_ text: String) -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes]))
            ?? Data("[\"\"]".utf8)
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }
}

/// The generation loop over any `LanguageModel`.
public enum Generator {
    /// Generates from prompt ids until EOS or `maxNewTokens`; `onToken` sees each id as it is chosen.
    public static func generate(
        model: any LanguageModel, promptIDs: [Int32], options: GenerationOptions,
        onToken: ((Int32) -> Void)? = nil
    ) throws -> GenerationResult {
        let onStep = onToken.map { onToken in { (step: TextGeneration.Step) in onToken(step.token) } }
        let clock = ContinuousClock()
        let start = clock.now
        let sequence = try model.startSequence(promptIDs: promptIDs)
        let prefill = clock.now - start
        var result =
            options.beams.isOn
            ? try generateBeams(
                model: model, sequence: sequence, promptTokens: promptIDs.count, eosTokenIDs: model.eosTokenIDs,
                options: options, contextPrefix: model.penaltyContext(promptIDs: promptIDs))
            : try generate(
                sequence: sequence, promptTokens: promptIDs.count, eosTokenIDs: model.eosTokenIDs, options: options,
                contextPrefix: model.penaltyContext(promptIDs: promptIDs), onStep: onStep)
        result.timings.prefillSeconds = prefill.inSeconds
        return result
    }

    /// Beam search from an already started sequence of `model` (`BeamGeneration`): the best sequence's result, the
    /// next `num_return_sequences - 1` in its `alternatives`.
    public static func generateBeams(
        model: any LanguageModel, sequence: any DecodingSequence, promptTokens: Int, eosTokenIDs: [Int32],
        options: GenerationOptions, tokenizer: (any Tokenizer)? = nil, contextPrefix: [Int32] = []
    ) throws -> GenerationResult {
        var job = try BeamGeneration(
            options: options, eosTokenIDs: eosTokenIDs, tokenizer: tokenizer, promptTokens: promptTokens,
            contextPrefix: contextPrefix)
        let clock = ContinuousClock()
        let start = clock.now
        var results = try job.run(from: sequence, model: model)
        var best = results.removeFirst()
        best.alternatives = results
        best.timings.decodeSeconds = (clock.now - start).inSeconds
        return best
    }

    /// Continues an already started sequence (its first logits ready), e.g. one started from an LLM-to-SLM encoding,
    /// through `TextGeneration` (the decoder worker's per-job path): `tokenizer` makes the text and applies the stop
    /// strings (nil: ids only); `contextPrefix` is what the penalties see before the first new id
    /// (`LanguageModel.penaltyContext`). `onStep` sees each step as it is chosen.
    public static func generate(
        sequence: any DecodingSequence, promptTokens: Int, eosTokenIDs: [Int32], options: GenerationOptions,
        tokenizer: (any Tokenizer)? = nil, contextPrefix: [Int32] = [], onStep: ((TextGeneration.Step) -> Void)? = nil
    ) throws -> GenerationResult {
        var job = try TextGeneration(
            options: options, eosTokenIDs: eosTokenIDs, tokenizer: tokenizer, promptTokens: promptTokens,
            contextPrefix: contextPrefix)
        var logits: [[Float]] = []
        var logprobs: [TokenLogprob] = []
        var timings = GenerationTimings()
        let clock = ContinuousClock()
        while job.finishReason == nil {
            if options.recordLogits { logits.append(sequence.logits) }
            let step = try job.next(from: sequence.logits)
            if let logprob = step.logprob { logprobs.append(logprob) }
            onStep?(step)
            if step.finishReason == nil {
                let start = clock.now
                try sequence.append(step.token)
                timings.decodeSeconds += (clock.now - start).inSeconds
                timings.decodeSteps += 1
            }
        }
        var result = GenerationResult(
            text: job.text, ids: job.ids, finishReason: job.finishReason ?? .length, usage: job.usage,
            logits: options.recordLogits ? logits : nil)
        if options.logprobs != nil { result.logprobs = logprobs }
        result.timings = timings
        return result
    }
}

extension Duration {
    /// The duration in seconds, for timings and reports.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
