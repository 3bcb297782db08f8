import Wire

/// A client's job as the router tracks it from arrival to its last chunk.
final class RouterJob {
    /// The client and the client's request id: unique among the jobs in flight.
    struct Key: Hashable {
        let client: PeerIdentity
        let requestID: String
    }

    let key: Key
    /// The id decoders see: `j<n>/<client's request id>`, unique across clients (two clients may reuse request ids)
    /// and carrying the client's id into the decoders' logs.
    let internalID: String
    /// The request as the client sent it.
    let request: GenerateRequest
    /// When the deadline passes the job is cancelled; nil = none.
    let deadline: ContinuousClock.Instant?
    /// When the router accepted it, and when its last token left: the latency metrics' clocks.
    let arrivedAt: ContinuousClock.Instant
    var firstTokenAt: ContinuousClock.Instant?
    var lastTokenAt: ContinuousClock.Instant?
    /// Cache key; nil until the cluster's bundle is known.
    var promptKey: PromptKey?
    /// The prompt's encoding, once the encoder (or the cache) provided it.
    var encoding: Encoding?
    /// The encoding came from the cache.
    var cachedEncoding = false
    /// The decoder working on it; nil while queued.
    var decoder: PeerIdentity?
    /// Every id forwarded so far: the resume point after a decoder dies.
    var streamed: [Int32] = []
    /// The log-probabilities of `streamed`, one each, when the job asked for them (for its final chunk).
    var streamedLogprobs: [ChunkLogprob] = []
    /// Text so far, kept only for clients that asked for one final chunk.
    var text = ""
    /// Decoders the job was sent to, and those among them that failed it (died, errored, stalled or lied).
    var attempts = 0
    var failedOn: Set<PeerIdentity> = []

    /// The id the decoder of the current attempt knows the job by: `<internal id>#<attempt>`. Each attempt has its
    /// own, so a late chunk of an earlier attempt (even on the same decoder) is never taken for the current one,
    /// and a cancel of the old attempt never cancels the new.
    var decoderID: String { "\(internalID)#\(attempts)" }
    /// Decoder credits (batch rows) the job holds: its beams, or 1.
    var decoderCost: Int { max(1, Int(min(request.beams?.numBeams ?? 1, 1024))) }
    /// When the job last made progress on its decoder (assigned, or a token came): the stall watchdog's clock.
    var progressAt: ContinuousClock.Instant?
    /// The kernel variant of the decoder that produced its streamed tokens: it resumes only on that variant, so its
    /// numbers stay those of an uninterrupted run. nil until a token was streamed.
    var kernels: String?
    /// When it went back to the queue after losing its decoder.
    var requeuedAt: ContinuousClock.Instant?
    /// Why it went back (counted as a failover once another decoder takes it); nil for a job not yet placed.
    var failover: RouterMetrics.Failover?

    init(
        key: Key, internalID: String, request: GenerateRequest, deadline: ContinuousClock.Instant?,
        arrivedAt: ContinuousClock.Instant
    ) {
        self.arrivedAt = arrivedAt
        self.key = key
        self.internalID = internalID
        self.request = request
        self.deadline = deadline
    }
}

/// One prompt to encode, shared by every job waiting on it (single flight).
struct EncodeTask {
    let key: PromptKey
    let prompt: Prompt
    /// The trace id of the job whose cache miss created the task, for the encoder's logs.
    let traceID: String
    /// The encoder working on it; nil while queued.
    var encoder: PeerIdentity?
    /// Internal ids of the jobs waiting for this encoding.
    var waiting: [String]
    /// Encoders it was sent to, and those that failed it.
    var attempts = 0
    var failedOn: Set<PeerIdentity> = []

    init(key: PromptKey, prompt: Prompt, waiting: [String], traceID: String = "") {
        self.traceID = traceID
        self.key = key
        self.prompt = prompt
        self.waiting = waiting
    }

    /// The request the encoder sees; its id is the prompt hash, since an encode serves many jobs.
    var request: EncodeRequest {
        EncodeRequest(requestID: key.description, promptHash: key.bytes, prompt: prompt, traceID: traceID)
    }
}

/// What the router logs when a job it accepted ends (one line per job): named by its trace id, or the client's
/// request id when it has none, with its outcome, tokens and latencies.
struct JobSummary {
    let requestID: String
    let traceID: String
    let outcome: String
    let code: String
    let promptTokens: Int
    let completionTokens: Int
    let cachedEncoding: Bool
    /// Decoders it was placed on (more than one after a failover).
    let attempts: Int
    let timeToFirstToken: Duration?
    let latency: Duration

    init(_ job: RouterJob, outcome: String, code: String, now: ContinuousClock.Instant) {
        requestID = job.request.requestID
        traceID = job.request.traceID
        self.outcome = outcome
        self.code = code
        promptTokens = job.encoding?.promptIDs.count ?? 0
        completionTokens = job.streamed.count
        cachedEncoding = job.cachedEncoding
        attempts = job.attempts
        timeToFirstToken = job.firstTokenAt.map { $0 - job.arrivedAt }
        latency = now - job.arrivedAt
    }

    /// Writes the job's line: `event` "job_end" with its fields (`ttft_s` only when a token came).
    func write(to log: ServiceLog) {
        // Named by the trace id, the line still says which of the client's jobs it was (a request may hold several).
        var fields: [(String, ServiceLog.Value)] = traceID.isEmpty ? [] : [("client_request_id", .string(requestID))]
        fields += [
            ("outcome", .string(outcome)), ("code", .string(code)), ("prompt_tokens", .int(promptTokens)),
            ("completion_tokens", .int(completionTokens)), ("cached_encoding", .bool(cachedEncoding)),
            ("attempts", .int(attempts)),
        ]
        // Microseconds are as fine as the router's clock readings are meaningful.
        func seconds(_ duration: Duration) -> ServiceLog.Value { .double((duration.inSeconds * 1e6).rounded() / 1e6) }
        if let timeToFirstToken { fields.append(("ttft_s", seconds(timeToFirstToken))) }
        fields.append(("e2e_s", seconds(latency)))
        log.info(
            "job \(outcome) (\(code)): \(completionTokens) tokens", requestID: traceID.isEmpty ? requestID : traceID,
            event: "job_end", fields: fields)
    }
}
