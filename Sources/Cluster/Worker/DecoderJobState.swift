import Foundation
import Generation
import Models
import Tokenizers
import Wire

extension DecodeJob {
    /// Batch rows (slots, credits) the job holds: its beams, or 1.
    var cost: Int { max(1, Int(min(request.beams?.numBeams ?? 1, 1024))) }
}

/// One job on a decoder: its rows (one sequence, or one per beam) and its `TextGeneration` or `BeamGeneration`, the
/// per-job paths `l2s run --bundle` takes too. A beam job sends nothing until it ends, then one chunk with the best
/// sequence; a failover restarts it (nothing was streamed) and, being deterministic, it gives the same result.
final class DecoderJobState {
    /// The router's id for this attempt (`j<n>/<client's id>#<attempt>`): chunks and errors name it.
    let requestID: String
    /// What its log lines name it by: the trace id (an HTTP x-request-id) when the job has one, else `requestID`.
    let logID: String
    /// Why it ended, once it did (nil while running or after a failure).
    private(set) var finishReason: Generation.FinishReason?
    /// Tokens it generated here (the resumed ones not included), once it ended.
    private(set) var generatedTokens = 0
    private let resumed: Int
    /// The sequences stepped for this job, in the order of the tokens `chooseNext` returns (none until it started).
    private(set) var rows: [any DecodingSequence] = []
    /// How far its start is.
    private var start: Start
    /// The encoding as received: the prefill cache keeps and compares it.
    let encoding: Encoding
    /// The router's key for the prompt (nil when the job carries none): the prefill cache's key.
    let promptKey: PromptKey?
    /// Ids the client already has (failover), replayed once the prefill is done.
    private let resumeIDs: [Int32]
    /// Batch rows held (the job's credits).
    let cost: Int
    /// Whether its client streams (else it waits for the whole answer): how long its tokens may be held.
    let streams: Bool
    /// Its tokens generated and not sent yet (`StreamPolicy`).
    var held = HeldChunk()
    private var generation: Run
    private(set) var isFinished = false
    /// The SLM tokenizer: the text of each id in the chunks' logprobs.
    private let tokenizer: any Tokenizer

    private enum Run {
        case text(TextGeneration)
        case beams(BeamGeneration)
    }

    private enum Start {
        /// Not begun (the received encoding, widened to float32): the decoder starts it from a cached start or
        /// begins its prefill.
        case pending(encoding: [Float])
        case prefilling(any SequencePrefill)
        case started
    }

    init(job: DecodeJob, slm: ConditionedSLM) throws {
        requestID = job.request.requestID
        logID = Self.logID(of: job.request)
        resumed = job.resumeIDs.count
        try Self.check(job.encoding, slm: slm)
        let tensor = job.encoding.tensor
        let widened = try tensor.bytes.withUnsafeBytes {
            try WireRounding.widen(bytes: $0, dtype: tensor.dtype.numerics)
        }
        let options = GenerationOptions(
            maxNewTokens: Int(job.request.maxNewTokens),
            minNewTokens: Int(job.request.minNewTokens), sampling: SamplingConversion.parameters(job.request.sampling),
            stop: job.request.stop, beams: BeamConversion.options(job.request.beams),
            logprobs: job.request.logprobs.map { Int(min($0, 1 << 20)) })
        let promptTokens = job.encoding.promptIDs.count
        cost = job.cost
        streams = job.request.stream
        tokenizer = slm.tokenizer
        if options.beams.isOn {
            if !job.resumeIDs.isEmpty { throw DecoderJobError.beamResume(ids: job.resumeIDs.count) }
            generation = .beams(
                try BeamGeneration(
                    options: options, eosTokenIDs: slm.eosTokenIDs, tokenizer: slm.tokenizer,
                    promptTokens: promptTokens, contextPrefix: slm.penaltyContext))
        } else {
            generation = .text(
                try TextGeneration(
                    options: options, eosTokenIDs: slm.eosTokenIDs, tokenizer: slm.tokenizer,
                    promptTokens: promptTokens, contextPrefix: slm.penaltyContext))
        }
        resumeIDs = job.resumeIDs
        encoding = job.encoding
        promptKey = PromptKey(digest: job.encoding.promptHash)
        start = .pending(encoding: widened)
    }

    /// Whether it has not begun: neither started from a cached start nor prefilling.
    var isPending: Bool {
        if case .pending = start { return true }
        return false
    }
    /// Whether its prefill is running.
    var isPrefilling: Bool {
        if case .prefilling = start { return true }
        return false
    }
    /// Whether it started (it is in the batch).
    var isStarted: Bool {
        if case .started = start { return true }
        return false
    }
    /// Prefill units left.
    var prefillUnitsLeft: Int {
        if case .prefilling(let prefill) = start { return prefill.unitsLeft }
        return 0
    }
    /// Prompt tokens one prefill unit runs over.
    var prefillTokensPerUnit: Int {
        if case .prefilling(let prefill) = start { return prefill.tokensPerUnit }
        return 0
    }

    /// Begins the prefill: makes Z and S (checking the encoding's values) for the SLM's prompt pass.
    func beginPrefill(slm: ConditionedSLM) throws {
        guard case .pending(let widened) = start else { return }
        start = .prefilling(try slm.startPrefill(promptIDs: encoding.promptIDs, encoding: widened))
    }

    /// Runs up to `units` prefill units; returns the sequence, started and not yet stepped, once the prefill is done
    /// (the caller then calls `begin(with:)`), else nil.
    func advancePrefill(units: Int) throws -> (any DecodingSequence)? {
        guard case .prefilling(let prefill) = start else { return nil }
        return try prefill.advance(units: units)
    }

    /// Puts the job in the batch with `sequence`, just started for its prompt, and replays the resume ids.
    func begin(with sequence: any DecodingSequence) throws {
        start = .started
        rows = [sequence]
        // Failover: replay what the client already has through the same per-step path, discarding the text.
        if case .text(var text) = generation {
            for id in resumeIDs {
                try text.replay(id)
                try sequence.append(id)
            }
            generation = .text(text)
        }
    }

    /// The encoding must be what this bundle's encoder ships (docs/bundle.md, step 4): the wire dtype, [m, d_slm] and
    /// `projected` for `projector.runs_on: encoder`, [m, d_llm] and not projected for `runs_on: decoder`. Anything
    /// else (an encoder of a bundle with the other placement, a confused peer) is refused with both descriptions.
    private static func check(_ encoding: Encoding, slm: ConditionedSLM) throws {
        let tensor = encoding.tensor
        let shape = [encoding.promptIDs.count, slm.encodingWidth]
        let dtype = DType(slm.bundle.wireDType)
        let projected = slm.bundle.projectorRunsOn == .encoder
        guard tensor.shape != shape || tensor.dtype != dtype || encoding.projected != projected else { return }
        throw DecoderJobError.encodingMismatch(
            expected: "\(dtype) \(shape), projected \(projected) (\(slm.encodingProjector.expectedEncoding))",
            actual: "\(tensor.dtype) \(tensor.shape), projected \(encoding.projected)")
    }

    /// Chooses the next tokens: the chunk to send (none while a beam job runs) and the tokens to append to `rows`,
    /// one per row, empty when the job just finished (its final chunk carries the finish reason and usage).
    func chooseNext() throws -> (TokenChunk?, [Int32]) {
        switch generation {
        case .text(var text):
            let step = try text.next(from: rows[0].logits)
            generation = .text(text)
            let logprobs = step.logprob.map { [LogprobConversion.wire($0, tokenizer: tokenizer)] } ?? []
            guard let reason = step.finishReason else {
                return (
                    TokenChunk(requestID: requestID, ids: [step.token], textDelta: step.delta, logprobs: logprobs),
                    [step.token]
                )
            }
            var chunk = finalChunk(ids: [step.token], text: step.delta, reason: reason, usage: text.usage)
            chunk.logprobs = logprobs
            return (chunk, [])
        case .beams(var beams):
            let extensions = beams.advance(rowLogits: rows.map(\.logits))
            generation = .beams(beams)
            if !extensions.isEmpty {
                rows = BeamRows.reorder(rows, extensions: extensions) { $0.fork() }
                return (nil, extensions.map(\.token))
            }
            rows = []
            guard let best = try beams.results().first else { throw GenerationFinishedError(reason: .length) }
            return (finalChunk(ids: best.ids, text: best.text, reason: best.finishReason, usage: best.usage), [])
        }
    }

    private func finalChunk(
        ids: [Int32], text: String, reason: Generation.FinishReason, usage: Generation.Usage
    ) -> TokenChunk {
        isFinished = true
        finishReason = reason
        generatedTokens = usage.completionTokens - resumed
        return TokenChunk(
            requestID: requestID, ids: ids, textDelta: text, finishReason: reason.wire,
            usage: Wire.Usage(
                promptTokens: UInt32(usage.promptTokens), completionTokens: UInt32(usage.completionTokens)))
    }

    func fail() { isFinished = true }

    /// The id a job's log lines carry: its trace id, else (none, or one that breaks the rule) the router's id for it.
    static func logID(of request: GenerateRequest) -> String {
        request.traceID.isEmpty || !TraceID.isValid(request.traceID) ? request.requestID : request.traceID
    }

    static func errorCode(for error: any Error) -> ErrorCode {
        if case ModelError.promptTooLong = error { return .promptTooLong }
        if let problem = error as? RequestValidation.Problem { return problem.code }
        return .badRequest
    }
}

enum DecoderJobError: Error, CustomStringConvertible {
    case encodingMismatch(expected: String, actual: String)
    case beamResume(ids: Int)

    var description: String {
        switch self {
        case .encodingMismatch(let expected, let actual):
            return "the job's encoding is \(actual); this decoder's bundle needs \(expected)"
        case .beamResume(let ids):
            return "decode_job.resume_ids has \(ids) ids, but a beam job streams nothing before it ends: it restarts"
        }
    }
}

extension Generation.FinishReason {
    /// The wire's value for this reason.
    var wire: Wire.FinishReason {
        switch self {
        case .eos: return .eos
        case .length: return .length
        case .stop: return .stop
        case .cancelled: return .cancelled
        }
    }
}
