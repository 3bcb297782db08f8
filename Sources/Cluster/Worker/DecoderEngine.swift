import Foundation
import Generation
import Metrics
import Models
import Tokenizers
import Wire

/// The decoder worker's compute side (continuous batching): holds up to `capacity` jobs, admits new ones between
/// steps within a prefill budget, and advances every active one by a token in one batched forward per step,
/// sending the step's chunks in one message. A job resumed after a failover first replays the ids the client
/// already has through the same `append` path, so its numbers are those of an uninterrupted run. Every job from the
/// router is checked before it costs anything.
public final class DecoderEngine: WorkerEngine, @unchecked Sendable {
    // `active` and `waiting` are touched by the compute thread only; the link thread's messages go through `mailbox`.
    private let mailbox = EngineMailbox<DecodeJob>()
    private let thread = ComputeThread()
    private let slm: ConditionedSLM
    private let log: ServiceLog
    public let capacity: Int
    private var active: [DecoderJobState] = []
    /// Jobs received but not yet admitted (their prefill has not run); they hold their slots.
    private var waiting: [DecodeJob] = []
    /// Prompt tokens admitted per step while other sequences are active (at least one job per step).
    private let prefillTokensPerStep: Int
    private let metrics: MetricsRegistry?

    /// An engine over a loaded SLM with `slots` job slots, admitting at most `prefillTokensPerStep` prompt tokens of
    /// new jobs between two steps of running ones.
    public init(
        slm: ConditionedSLM, slots: Int, prefillTokensPerStep: Int = 256, metrics: MetricsRegistry? = nil,
        log: ServiceLog
    ) {
        self.metrics = metrics
        metrics?.declare(
            "l2s_decoder_step_seconds", .histogram, help: "One batched decoding step",
            buckets: MetricsRegistry.latencyBuckets)
        metrics?.declare("l2s_decoder_running_sequences", .gauge, help: "Sequences in the batch")
        metrics?.declare("l2s_decoder_waiting_jobs", .gauge, help: "Jobs received but not yet admitted")
        metrics?.declare("l2s_decoder_generation_tokens_total", .counter, help: "Tokens generated")
        metrics?.declare("l2s_decoder_jobs_total", .counter, help: "Jobs by outcome", labels: ["outcome"])
        metrics?.declare(
            "l2s_decoder_slots", .gauge, help: "Job slots in total (--slots), granted to the router as credits")
        metrics?.declare(
            "l2s_decoder_free_credits", .gauge,
            help: "Slots free to accept jobs: --slots less the rows (a beam job: one per beam) running or waiting")
        self.slm = slm
        self.capacity = max(1, slots)
        metrics?.set("l2s_decoder_slots", Double(capacity))
        metrics?.set("l2s_decoder_free_credits", Double(capacity))
        self.prefillTokensPerStep = max(1, prefillTokensPerStep)
        self.log = log
    }

    public func start(outbox: WorkerOutbox) {
        thread.start(name: "l2s-decoder-compute") { [self] in computeLoop(outbox: outbox) }
    }

    public func handle(_ message: Message) {
        switch message {
        case .decodeJob(let job): mailbox.post(job)
        case .cancel(let cancel): mailbox.cancel(cancel.requestID)
        default: log.warning("decoder ignores \(message.kind) from the router")
        }
    }

    public func abandonAll() { mailbox.abandon() }

    public func stop() {
        mailbox.requestStop()
        thread.join()
    }

    /// Admits new jobs, drops cancelled ones, and steps every active job once; blocks only when idle.
    ///
    /// A job's admission runs the SLM over its prompt (its prefill), which stalls every active sequence meanwhile.
    /// So while sequences are active, each step admits waiting jobs only up to `prefillTokensPerStep` prompt tokens
    /// (at least one job); the rest wait, holding their slots, for the next steps. An idle decoder admits all.
    private func computeLoop(outbox: WorkerOutbox) {
        while let delivery = mailbox.take(block: active.isEmpty && waiting.isEmpty) {
            if delivery.abandoned {
                active.removeAll()
                waiting.removeAll()
            }
            // Slots are batch rows: a beam job holds one per beam (the router sent it that many credits' worth).
            var freed = 0
            if !delivery.cancels.isEmpty {
                freed += active.filter { delivery.cancels.contains($0.requestID) }.map(\.cost).reduce(0, +)
                freed += waiting.filter { delivery.cancels.contains($0.request.requestID) }.map(\.cost).reduce(0, +)
                active.removeAll { delivery.cancels.contains($0.requestID) }
                waiting.removeAll { delivery.cancels.contains($0.request.requestID) }
            }
            for job in delivery.jobs {
                if delivery.cancels.contains(job.request.requestID) { freed += job.cost } else { waiting.append(job) }
            }
            if freed > 0 { outbox.send(.credit(Credit(credits: UInt32(freed)))) }
            admitWaiting(outbox: outbox)
            let started = ContinuousClock.now
            stepAll(outbox: outbox)
            active.removeAll { $0.isFinished }
            if let metrics {
                metrics.observe("l2s_decoder_step_seconds", (ContinuousClock.now - started).inSeconds)
                metrics.set("l2s_decoder_running_sequences", Double(active.map(\.rows.count).reduce(0, +)))
                metrics.set("l2s_decoder_waiting_jobs", Double(waiting.count))
                let held = active.map(\.cost).reduce(0, +) + waiting.map(\.cost).reduce(0, +)
                metrics.set("l2s_decoder_free_credits", Double(max(0, capacity - held)))
            }
        }
    }

    /// Admits waiting jobs in arrival order: all of them when nothing is active, else up to the prefill budget.
    private func admitWaiting(outbox: WorkerOutbox) {
        let idle = active.isEmpty
        var budget = prefillTokensPerStep
        while let job = waiting.first {
            let tokens = job.encoding.promptIDs.count
            if !idle, budget < tokens, budget < prefillTokensPerStep { break }
            waiting.removeFirst()
            budget -= tokens
            admit(job, outbox: outbox)
        }
    }

    private func admit(_ job: DecodeJob, outbox: WorkerOutbox) {
        do {
            // The router is a peer like any other: its jobs are checked before they cost anything.
            if let problem = RequestValidation.problem(with: job) { throw problem }
            let state = try DecoderJobState(job: job, slm: slm)
            active.append(state)
            metrics?.add("l2s_decoder_jobs_total", labels: ["admitted"])
            log.debug(
                "job admitted: \(job.encoding.promptIDs.count) prompt tokens, resuming after \(job.resumeIDs.count)",
                requestID: state.logID, event: "job_admitted", fields: [("job", .string(state.requestID))])
        } catch {
            metrics?.add("l2s_decoder_jobs_total", labels: ["refused"])
            log.warning(
                "job refused: \(error)", requestID: DecoderJobState.logID(of: job.request),
                fields: [("job", .string(job.request.requestID))])
            outbox.send(
                .error(
                    ErrorReply(
                        code: DecoderJobState.errorCode(for: error), message: "\(error)",
                        requestID: job.request.requestID)))
            outbox.send(.credit(Credit(credits: UInt32(job.cost))))
        }
    }

    /// One step of continuous batching: every active job chooses its next token, then a single batched
    /// forward appends them all. The row kernel is batch-invariant, so each sequence gets the bits it would get
    /// stepped alone (and `l2s run --bundle` equals the cluster). The step's chunks go to the router in one
    /// message.
    private func stepAll(outbox: WorkerOutbox) {
        var tokens: [Int32] = []
        var rows: [any DecodingSequence] = []
        var stepping: [DecoderJobState] = []
        var chunks: [TokenChunk] = []
        var freed = 0
        for state in active {
            do {
                let (chunk, next) = try state.chooseNext()
                if let chunk { chunks.append(chunk) }
                if next.isEmpty {
                    freed += state.cost
                    log.debug(
                        "job finished (\(state.finishReason.map { "\($0)" } ?? "?")): \(state.generatedTokens) tokens",
                        requestID: state.logID, event: "job_finished",
                        fields: [
                            ("job", .string(state.requestID)),
                            ("finish_reason", .string(state.finishReason.map { "\($0)" } ?? "")),
                            ("completion_tokens", .int(state.generatedTokens)),
                        ])
                } else {
                    tokens += next
                    rows += state.rows
                    stepping.append(state)
                }
            } catch {
                fail(state, error, outbox: outbox)
            }
        }
        // Chunks before the forward (clients get tokens a step earlier), credits after the final chunks they free.
        if !chunks.isEmpty { outbox.send(chunks.count == 1 ? .tokenChunk(chunks[0]) : .tokenChunks(chunks)) }
        metrics?.add("l2s_decoder_generation_tokens_total", Double(chunks.map(\.ids.count).reduce(0, +)))
        if freed > 0 { outbox.send(.credit(Credit(credits: UInt32(freed)))) }
        guard !stepping.isEmpty else { return }
        do {
            try slm.model.step(tokens, sequences: rows)
        } catch {
            for state in stepping { fail(state, error, outbox: outbox) }
        }
    }

    private func fail(_ state: DecoderJobState, _ error: any Error, outbox: WorkerOutbox) {
        state.fail()
        metrics?.add("l2s_decoder_jobs_total", labels: ["failed"])
        log.warning("job failed: \(error)", requestID: state.logID, fields: [("job", .string(state.requestID))])
        outbox.send(
            .error(ErrorReply(code: .internal, message: "decoding failed: \(error)", requestID: state.requestID)))
        outbox.send(.credit(Credit(credits: UInt32(state.cost))))
    }
}

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
    /// The sequences stepped for this job, in the order of the tokens `chooseNext` returns.
    private(set) var rows: [any DecodingSequence]
    /// Batch rows held (the job's credits).
    let cost: Int
    private var generation: Run
    private(set) var isFinished = false
    /// The SLM tokenizer: the text of each id in the chunks' logprobs.
    private let tokenizer: any Tokenizer

    private enum Run {
        case text(TextGeneration)
        case beams(BeamGeneration)
    }

    init(job: DecodeJob, slm: ConditionedSLM) throws {
        requestID = job.request.requestID
        logID = Self.logID(of: job.request)
        resumed = job.resumeIDs.count
        try Self.check(job.encoding, slm: slm)
        let tensor = job.encoding.tensor
        let encoding = try tensor.bytes.withUnsafeBytes {
            try WireRounding.widen(bytes: $0, dtype: tensor.dtype.numerics)
        }
        let options = GenerationOptions(
            maxNewTokens: Int(job.request.maxNewTokens),
            minNewTokens: Int(job.request.minNewTokens), sampling: SamplingConversion.parameters(job.request.sampling),
            stop: job.request.stop, beams: BeamConversion.options(job.request.beams),
            logprobs: job.request.logprobs.map { Int(min($0, 1 << 20)) })
        let promptTokens = job.encoding.promptIDs.count
        cost = job.cost
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
        let sequence = try slm.startSequence(promptIDs: job.encoding.promptIDs, encoding: encoding)
        rows = [sequence]
        // Failover: replay what the client already has through the same per-step path, discarding the text.
        if case .text(var text) = generation {
            for id in job.resumeIDs {
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
