import Foundation
import Generation
import Metrics
import Models
import Wire

/// The decoder worker's compute side (continuous batching): holds up to `capacity` jobs, admits new ones between
/// steps within a prefill budget, and advances every active one by a token in one batched forward per step,
/// sending the step's chunks in one message (held as `StreamPolicy` says). A repeated prompt starts from the
/// `PrefillCache` instead of a prefill, and jobs of one prompt that arrive together share one prefill. A job
/// resumed after a failover first replays the ids the client already has through the same `append` path, so its
/// numbers are those of an uninterrupted run.
/// Every job from the router is checked before it costs anything.
public final class DecoderEngine: WorkerEngine, @unchecked Sendable {
    // `active` and `waiting` are touched by the compute thread only; the link thread's messages go through `mailbox`.
    private let mailbox = EngineMailbox<DecodeJob>()
    private let thread = ComputeThread()
    private let slm: ConditionedSLM
    private let log: ServiceLog
    public let capacity: Int
    private var active: [DecoderJobState] = []
    /// Jobs admitted whose prefill has not finished (it runs a unit at a time between steps); they hold their slots.
    private var starting: [DecoderJobState] = []
    /// Prompt tokens admitted per step while other sequences are active (at least one job per step).
    private let prefillTokensPerStep: Int
    private let prefillCache: PrefillCache
    private let streamPolicy: StreamPolicy
    /// Steps run, the clock of `streamPolicy.interval`.
    private var steps = 0
    private let metrics: MetricsRegistry?

    /// An engine over a loaded SLM with `slots` job slots, admitting at most `prefillTokensPerStep` prompt tokens of
    /// new jobs between two steps of running ones, and keeping up to `prefillCacheBytes` of started sequences for
    /// repeated prompts (0: none), and sending jobs' tokens as `streamPolicy` says.
    public init(
        slm: ConditionedSLM, slots: Int, prefillTokensPerStep: Int = 256, prefillCacheBytes: Int = 0,
        streamPolicy: StreamPolicy = StreamPolicy(), metrics: MetricsRegistry? = nil, log: ServiceLog
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
            "l2s_decoder_sequence_starts_total", .counter,
            help: "Jobs started by how: prefill (the SLM ran over the prompt) or cached (a fork of a cached start)",
            labels: ["source"])
        metrics?.declare(
            "l2s_decoder_prefill_cache_bytes", .gauge, help: "Bytes of started sequences kept for repeated prompts")
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
        prefillCache = PrefillCache(capacityBytes: max(0, prefillCacheBytes))
        self.streamPolicy = streamPolicy
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

    /// Admits new jobs, drops cancelled ones, advances prefills, and steps every active job once; blocks only when
    /// idle.
    ///
    /// A job's prefill (the SLM over its prompt) stalls every active sequence while it runs. So while sequences are
    /// active, prefills advance a unit at a time (`SequencePrefill`: a T5 SLM encoder block, or a whole GPT-2
    /// prefill), in arrival order, up to `prefillTokensPerStep` prompt tokens' worth of units per step (at least one
    /// unit); a job joins the batch when its prefill is done. An idle decoder runs every prefill to its end.
    private func computeLoop(outbox: WorkerOutbox) {
        while let delivery = mailbox.take(block: active.isEmpty && starting.isEmpty) {
            if delivery.abandoned {
                active.removeAll()
                starting.removeAll()
            }
            // Slots are batch rows: a beam job holds one per beam (the router sent it that many credits' worth).
            var freed = 0
            if !delivery.cancels.isEmpty {
                for jobs in [active, starting] {
                    freed += jobs.filter { delivery.cancels.contains($0.requestID) }.map(\.cost).reduce(0, +)
                }
                active.removeAll { delivery.cancels.contains($0.requestID) }
                starting.removeAll { delivery.cancels.contains($0.requestID) }
            }
            for job in delivery.jobs {
                if delivery.cancels.contains(job.request.requestID) {
                    freed += job.cost
                } else {
                    admit(job, outbox: outbox)
                }
            }
            if freed > 0 { outbox.send(.credit(Credit(credits: UInt32(freed)))) }
            advancePrefills(outbox: outbox)
            let started = ContinuousClock.now
            stepAll(outbox: outbox)
            active.removeAll { $0.isFinished }
            if let metrics {
                metrics.observe("l2s_decoder_step_seconds", (ContinuousClock.now - started).inSeconds)
                metrics.set("l2s_decoder_running_sequences", Double(active.map(\.rows.count).reduce(0, +)))
                metrics.set("l2s_decoder_waiting_jobs", Double(starting.count))
                let held = (active + starting).map(\.cost).reduce(0, +)
                metrics.set("l2s_decoder_free_credits", Double(max(0, capacity - held)))
            }
        }
    }

    /// Checks a new job and readies its prefill (Z, S), or refuses it at once; a job the prefill cache may serve
    /// waits for `advancePrefills` to look.
    private func admit(_ job: DecodeJob, outbox: WorkerOutbox) {
        do {
            // The router is a peer like any other: its jobs are checked before they cost anything.
            if let problem = RequestValidation.problem(with: job) { throw problem }
            let state = try DecoderJobState(job: job, slm: slm)
            if !prefillCache.isEnabled || state.promptKey == nil { try state.beginPrefill(slm: slm) }
            starting.append(state)
            metrics?.add("l2s_decoder_jobs_total", labels: ["admitted"])
            log.debug(
                "job admitted: \(job.encoding.promptIDs.count) prompt tokens, resuming after \(job.resumeIDs.count)",
                requestID: state.logID, event: "job_admitted", fields: [("job", .string(state.requestID))])
        } catch {
            refuse(
                requestID: job.request.requestID, logID: DecoderJobState.logID(of: job.request), cost: job.cost,
                error, outbox: outbox)
        }
    }

    /// Starts jobs in arrival order. A job whose prompt has a cached start joins the batch at once; one whose prompt
    /// another job is prefilling waits for that start; the others' prefills run, all to their end when nothing is
    /// active, else up to the per-step budget (at least one unit). A job whose prefill is done joins the batch, and
    /// its start is cached.
    private func advancePrefills(outbox: WorkerOutbox) {
        let idle = active.isEmpty
        var budget = prefillTokensPerStep
        var ranAny = false
        for state in starting where !state.isFinished {
            do {
                if state.isPending, let key = state.promptKey {
                    if let sequence = prefillCache.start(key: key, encoding: state.encoding) {
                        try state.begin(with: sequence)
                        active.append(state)
                        metrics?.add("l2s_decoder_sequence_starts_total", labels: ["cached"])
                        continue
                    }
                    if starting.contains(where: { $0.isPrefilling && !$0.isFinished && $0.promptKey == key }) {
                        continue
                    }
                    try state.beginPrefill(slm: slm)
                }
                let (unitsBefore, tokensPerUnit) = (state.prefillUnitsLeft, state.prefillTokensPerUnit)
                let affordable = idle ? Int.max : budget / max(1, tokensPerUnit)
                let units = affordable > 0 ? affordable : (ranAny ? 0 : 1)
                if units == 0 { break }
                ranAny = true
                if let sequence = try state.advancePrefill(units: units) {
                    if let key = state.promptKey { prefillCache.store(sequence, key: key, encoding: state.encoding) }
                    try state.begin(with: sequence)
                    active.append(state)
                    metrics?.add("l2s_decoder_sequence_starts_total", labels: ["prefill"])
                }
                budget -= (unitsBefore - state.prefillUnitsLeft) * tokensPerUnit
            } catch {
                state.fail()
                refuse(requestID: state.requestID, logID: state.logID, cost: state.cost, error, outbox: outbox)
            }
        }
        starting.removeAll { $0.isStarted || $0.isFinished }
        metrics?.set("l2s_decoder_prefill_cache_bytes", Double(prefillCache.bytes))
    }

    /// Answers a job that cannot run with an error (its code says whose fault it is) and frees its slots.
    private func refuse(requestID: String, logID: String, cost: Int, _ error: any Error, outbox: WorkerOutbox) {
        metrics?.add("l2s_decoder_jobs_total", labels: ["refused"])
        log.warning("job refused: \(error)", requestID: logID, fields: [("job", .string(requestID))])
        outbox.send(
            .error(ErrorReply(code: DecoderJobState.errorCode(for: error), message: "\(error)", requestID: requestID)))
        outbox.send(.credit(Credit(credits: UInt32(cost))))
    }

    /// One step of continuous batching: every active job chooses its next token, then a single batched
    /// forward appends them all. The row kernel is batch-invariant, so each sequence gets the bits it would get
    /// stepped alone (and `l2s run --bundle` equals the cluster). The chunks due this step (`StreamPolicy`) go to
    /// the router in one message.
    private func stepAll(outbox: WorkerOutbox) {
        var tokens: [Int32] = []
        var rows: [any DecodingSequence] = []
        var stepping: [DecoderJobState] = []
        var chunks: [TokenChunk] = []
        var generated = 0
        var freed = 0
        let now = ContinuousClock.now
        steps += 1
        let sending = steps % streamPolicy.interval == 0
        for state in active {
            do {
                let (chunk, next) = try state.chooseNext()
                if let chunk {
                    generated += chunk.ids.count
                    let release = sending && state.streams
                    if let due = state.held.add(chunk, release: release, holdLimit: streamPolicy.holdLimit, now: now) {
                        chunks.append(due)
                    }
                }
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
        metrics?.add("l2s_decoder_generation_tokens_total", Double(generated))
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
