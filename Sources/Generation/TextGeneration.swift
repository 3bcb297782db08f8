import Tokenizers

/// Options a generation job cannot run with, named as the option is spelled on the wire and the command line.
public struct GenerationOptionError: Error, Equatable, CustomStringConvertible {
    /// The option.
    public let option: String
    /// What it must be.
    public let expected: String
    /// What it was.
    public let actual: String

    public var description: String { "\(option) must be \(expected), got \(actual)" }
}

/// One job's generation as `l2s run --bundle` and the decoder worker run it, the same code for both: choose the next
/// token, accept it, detokenize it (EOS is never part of the text), apply the stop strings (OpenAI's semantics:
/// the text ends before the stop string, nothing after it is released, finish reason `stop`), count usage, and
/// replay a failed-over job's ids. The model and its batching stay with the caller: it feeds each step's logits and
/// appends the returned token while `finishReason` is nil.
public struct TextGeneration: Sendable {
    /// One generated token and what it released.
    public struct Step: Sendable, Equatable {
        /// The id chosen.
        public let token: Int32
        /// The text this token made safe to release (may be empty; never part of a stop string).
        public let delta: String
        /// Set on the job's last step.
        public let finishReason: FinishReason?
        /// The token's log-probability and alternatives, when the job asked for them (nil for replayed ids).
        public var logprob: TokenLogprob? = nil
    }

    private var job: GenerationJob
    private var detokenizer: IncrementalDecoder?
    private var stops: StopMatcher
    private let eos: Set<Int32>
    /// Prompt tokens the job read.
    public let promptTokens: Int
    /// The text released so far.
    public private(set) var text = ""

    /// A job for `options` that stops at `eosTokenIDs` (unless the options name others); `tokenizer` detokenizes
    /// (nil: ids only, and no stop strings); `contextPrefix` is what the penalties see before the first new id.
    /// Throws a `GenerationOptionError` naming the first unusable option.
    public init(
        options: GenerationOptions, eosTokenIDs: [Int32], tokenizer: (any Tokenizer)?, promptTokens: Int,
        contextPrefix: [Int32] = []
    ) throws {
        try options.validate(hasTokenizer: tokenizer != nil)
        if options.beams.isOn {
            throw GenerationOptionError(
                option: "num_beams", expected: "1 here (a beam job runs as a BeamGeneration)",
                actual: "\(options.beams.numBeams)")
        }
        job = GenerationJob(options: options, eosTokenIDs: eosTokenIDs, contextPrefix: contextPrefix)
        detokenizer = tokenizer?.makeIncrementalDecoder(skipSpecialTokens: true)
        stops = StopMatcher(stops: options.stop)
        eos = Set(job.sampler.eosTokenIDs)
        self.promptTokens = promptTokens
    }

    /// Ids generated so far (the EOS that ended the job included).
    public var ids: [Int32] { job.ids }
    /// Set once the job is finished.
    public var finishReason: FinishReason? { job.finishReason }
    /// Token counts so far.
    public var usage: Usage { Usage(promptTokens: promptTokens, completionTokens: job.ids.count) }
    /// The options in effect.
    public var options: GenerationOptions { job.options }

    /// Chooses the next token from this step's raw logits, accepts it and returns what it released; the caller
    /// appends the token to its sequence unless the step finished the job.
    public mutating func next(from logits: [Float]) throws -> Step {
        let (token, logprob) = job.chooseWithLogprob(from: logits)
        var step = try accept(token)
        step.logprob = logprob
        return step
    }

    /// Replays an id a client already has (failover) through the same path, discarding its text: the job's state
    /// is then that of an uninterrupted run. Throws when the id would end the job (nothing would be left to do).
    public mutating func replay(_ token: Int32) throws {
        let step = try accept(token)
        if step.finishReason != nil { throw GenerationReplayError(ids: job.ids.count) }
    }

    private mutating func accept(_ token: Int32) throws -> Step {
        if let reason = job.finishReason { throw GenerationFinishedError(reason: reason) }
        var reason = job.accept(token)
        let piece = eos.contains(token) ? "" : try detokenizer?.add(token) ?? ""
        var delta = stops.add(piece)
        if stops.stopped {
            job.finish(.stop)
            reason = .stop
        } else if reason != nil {
            delta += stops.add(detokenizer?.finish() ?? "")
            if stops.stopped { reason = .stop }
            delta += stops.flush()
        }
        text += delta
        return Step(token: token, delta: delta, finishReason: reason)
    }
}

/// A failed-over job's resume ids already end it: nothing is left to generate.
public struct GenerationReplayError: Error, Equatable, CustomStringConvertible {
    /// Ids replayed when the job ended.
    public let ids: Int

    /// The error for a replay that ended the job after `ids` ids.
    public init(ids: Int) { self.ids = ids }

    public var description: String { "resume_ids (\(ids) ids) already end the job; nothing left to generate" }
}

/// A token was offered to a job that has already finished.
public struct GenerationFinishedError: Error, Equatable, CustomStringConvertible {
    /// Why the job had finished.
    public let reason: FinishReason

    /// The error for a job that finished for `reason`.
    public init(reason: FinishReason) { self.reason = reason }

    public var description: String { "the job already finished (\(reason.rawValue)); no token can follow" }
}
