import Wire

/// The router's decisions, free of sockets and clocks: messages in, messages out. `RouterService` feeds it
/// from its three ZeroMQ sockets; tests drive it directly with instants of their choosing.
///
/// It validates client jobs, looks encodings up in the cache (asking an encoder once per prompt, however
/// many jobs wait on it), hands jobs to decoders within the credits they granted, relays token chunks,
/// and resumes work of dead, failing or stalled workers elsewhere. Every value from a peer is checked before
/// it is used. Not thread-safe: one event loop owns it.
public final class RouterCore {
    let configuration: RouterConfiguration
    let startedAt: ContinuousClock.Instant
    /// Where job outcomes and latencies are recorded; nil records nothing.
    let metrics: RouterMetrics?
    /// The cluster's bundle: pinned by configuration, or adopted from the first worker (nil until then).
    var identity: BundleIdentity?
    /// An adopted identity that was dropped when its last worker left; a different one adopted next resets the
    /// work that was routed with it.
    var droppedIdentity: BundleIdentity?
    let cache: EncodingCache<PromptKey, Encoding>
    var encoders: WorkerPool<PeerIdentity>
    var decoders: WorkerPool<PeerIdentity>
    var workerNames: [PeerIdentity: String] = [:]
    var lastSentToWorker: [PeerIdentity: ContinuousClock.Instant] = [:]
    /// When each encoder holding encodes last made progress (an answer, or its first encode after being idle): the
    /// stall watchdog's clock. Encoders work through their encodes one batch at a time, so a deep queue on a busy
    /// encoder is not a stall; an encoder that answers nothing at all is.
    var encoderProgress: [PeerIdentity: ContinuousClock.Instant] = [:]

    var jobs: [String: RouterJob] = [:]
    var jobIDs: [RouterJob.Key: String] = [:]
    /// Jobs that arrived before the router knew which bundle the cluster serves.
    var awaitingIdentity: [String] = []
    var encodeTasks: [PromptKey: EncodeTask] = [:]
    var encodeQueue: [PromptKey] = []
    var decodeQueue: [String] = []
    /// The decoder each recent prompt last went to, which keeps its started sequence (`l2s decoder
    /// --prefill-cache-mb`): its next jobs go there when that decoder is not much busier than the others. Forgotten
    /// all at once past `affinityLimit` prompts.
    var decoderAffinity: [PromptKey: PeerIdentity] = [:]
    static let affinityLimit = 1 << 16
    var nextJobNumber: UInt64 = 0
    /// Shutting down (`beginDrain`): new jobs are refused, jobs in flight run on.
    public internal(set) var isDraining = false

    var jobsDone: UInt64 = 0
    var jobsFailed: UInt64 = 0
    var tokensGenerated: UInt64 = 0
    var faults = FaultStats()
    /// Log lines for the service, each said once (refusals, faults, rogue peers).
    var notices: [String] = []
    /// Jobs that ended since the service last asked: one log line each.
    var endedJobs: [JobSummary] = []
    var noticed: Set<String> = []

    /// A router with nothing connected yet.
    public init(configuration: RouterConfiguration, now: ContinuousClock.Instant, metrics: RouterMetrics? = nil) {
        self.configuration = configuration
        self.metrics = metrics
        self.startedAt = now
        if case .pinned(let identity) = configuration.bundle { self.identity = identity }
        self.cache = EncodingCache(capacityBytes: configuration.cacheBytes)
        encoders = WorkerPool(
            breakerThreshold: configuration.breakerThreshold,
            breakerCooldown: configuration.breakerCooldown)
        decoders = encoders
    }

    /// Jobs not yet on a decoder: the bounded queue.
    public var queueDepth: Int { jobs.values.reduce(0) { $0 + ($1.decoder == nil ? 1 : 0) } }

    /// The log lines noticed since the last call (refusals, worker faults, slow clients), each said once.
    public func drainNotices() -> [String] {
        defer { notices = [] }
        return notices
    }

    /// The jobs that ended since the last call, for the service's one log line per job.
    func drainEndedJobs() -> [JobSummary] {
        defer { endedJobs = [] }
        return endedJobs
    }

    /// Records a job's end: its outcome and latency metrics, and its log line.
    func ended(_ job: RouterJob, outcome: String, code: String, now: ContinuousClock.Instant) {
        metrics?.ended(job, outcome: outcome, code: code, now: now)
        // Bounded for a core nobody drains (tests driving it directly): the service drains after every event.
        if endedJobs.count >= 10_000 { endedJobs.removeFirst(endedJobs.count / 2) }
        endedJobs.append(JobSummary(job, outcome: outcome, code: code, now: now))
    }

    /// Notes `text` for the log unless the same `key` was noted before.
    func notice(_ key: String, _ text: String) {
        if noticed.count > 10_000 { noticed = [] }
        if noticed.insert(key).inserted { notices.append(text) }
    }

    /// Handles one decoded message from `peer` on `link`.
    public func receive(_ message: Message, from peer: PeerIdentity, on link: Link, now: ContinuousClock.Instant)
        -> [Outgoing]
    {
        switch link {
        case .clients: return receiveFromClient(message, from: peer, now: now)
        case .encoders, .decoders: return receiveFromWorker(message, from: peer, on: link, now: now)
        }
    }

    /// Answers a frame that failed to decode; the sender learns what was wrong (with the request id when the
    /// envelope still named one), nothing else changes.
    public func receiveInvalid(_ error: WireError, requestID: String = "", from peer: PeerIdentity, on link: Link)
        -> [Outgoing]
    {
        let code: ErrorCode
        switch error {
        case .unsupportedVersion: code = .unsupportedVersion
        case .frameTooLarge: code = .messageTooLarge
        default: code = .badRequest
        }
        notice("invalid \(link) \(peer)", "\(link) peer \(peer) sent an invalid message: \(error)")
        return [
            Outgoing(
                link: link, peer: peer,
                message: .error(ErrorReply(code: code, message: error.description, requestID: requestID)))
        ]
    }

    // MARK: - Clients

    func receiveFromClient(_ message: Message, from client: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        switch message {
        case .generate(let request):
            return submit(request, from: client, now: now)
        case .cancel(let cancel):
            let key = RouterJob.Key(client: client, requestID: cancel.requestID)
            guard let id = jobIDs[key], let job = jobs[id] else {
                return [
                    reply(
                        client, .badRequest, "cancel: no job with request_id '\(cancel.requestID)' is in flight",
                        requestID: cancel.requestID)
                ]
            }
            faults.jobsCancelled += 1
            var out = finish(job, reason: .cancelled)
            out += dispatch(now: now)
            return out
        case .statsRequest:
            return [Outgoing(link: .clients, peer: client, message: .statsReply(statistics(now: now)))]
        case .heartbeat:
            return []
        default:
            return [
                reply(
                    client, .badRequest,
                    "the clients socket accepts generate, cancel, stats_request and heartbeat, not \(message.kind)")
            ]
        }
    }

    func submit(_ request: GenerateRequest, from client: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        let out = accept(request, from: client, now: now)
        for item in out where item.link == .clients {
            if case .error(let error) = item.message { metrics?.refused(error.code) }
        }
        return out
    }

    func accept(_ request: GenerateRequest, from client: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        let key = RouterJob.Key(client: client, requestID: request.requestID)
        if isDraining {
            jobsFailed += 1
            return [
                reply(
                    client, .unavailable,
                    "the router is shutting down and takes no new jobs; submit this job "
                        + "again (to another router, or to this address once it is back)", requestID: request.requestID)
            ]
        }
        if let problem = RequestValidation.problem(with: request, limits: configuration.requestLimits) {
            jobsFailed += 1
            return [reply(client, problem.code, problem.message, requestID: request.requestID)]
        }
        if jobIDs[key] != nil {
            return [
                reply(
                    client, .badRequest, "request_id '\(request.requestID)' is already in flight for this client",
                    requestID: request.requestID)
            ]
        }
        var deadline: ContinuousClock.Instant?
        if request.deadlineUnixMs > 0 {
            // Both sides as UInt64: a deadline of any value (up to 2^64 - 1) compares without converting.
            let nowUnix = WallClock.unixMilliseconds()
            guard request.deadlineUnixMs > nowUnix else {
                jobsFailed += 1
                return [
                    reply(
                        client, .deadlineExceeded, "deadline_unix_ms \(request.deadlineUnixMs) has already passed",
                        requestID: request.requestID)
                ]
            }
            // Beyond a year is as good as none; the clamp keeps Duration arithmetic in range.
            let remaining = min(request.deadlineUnixMs - nowUnix, 366 * 86_400_000)
            deadline = now + .milliseconds(Int64(remaining))
        }
        if queueDepth >= configuration.maxQueue {
            jobsFailed += 1
            return [
                reply(
                    client, .overloaded,
                    "overloaded: \(queueDepth) jobs are waiting (limit \(configuration.maxQueue)); retry later",
                    requestID: request.requestID)
            ]
        }
        nextJobNumber += 1
        // The id decoders see: unique (the number) and traceable (the client's id, e.g. an HTTP x-request-id).
        let job = RouterJob(
            key: key, internalID: "j\(nextJobNumber)/\(request.requestID)", request: request,
            deadline: deadline,
            arrivedAt: now)
        jobs[job.internalID] = job
        jobIDs[key] = job.internalID
        guard identity != nil else {
            awaitingIdentity.append(job.internalID)
            return []
        }
        return route(job, now: now) + dispatch(now: now)
    }

    /// Finds the job's encoding: from the cache, from an encode already in flight, or from a new one. Returns the
    /// replies of a job that cannot be keyed (libcrypto failed), which ends with an `internal` error.
    func route(_ job: RouterJob, now: ContinuousClock.Instant = .now) -> [Outgoing] {
        guard let prints = identity?.fingerprints else { return [] }
        let key: PromptKey
        do {
            switch job.request.prompt {
            case .text(let text):
                key = try PromptKey(
                    llm: prints.llm, projector: prints.projector, tokenizer: prints.tokenizer,
                    text: text, tenantSalt: job.request.tenantSalt)
            case .tokenIDs(let ids):
                key = try PromptKey(
                    llm: prints.llm, projector: prints.projector, tokenizer: prints.tokenizer,
                    tokenIds: ids, tenantSalt: job.request.tenantSalt)
            }
        } catch {
            return finish(
                job, reason: .unspecified,
                error: ErrorReply(
                    code: .internal,
                    message: "cannot compute the prompt's cache key: \(error)"), now: now)
        }
        job.promptKey = key
        switch cache.lookup(key) {
        case .hit(let encoding):
            job.encoding = encoding
            job.cachedEncoding = true
            decodeQueue.append(job.internalID)
        case .inFlight:
            encodeTasks[key]?.waiting.append(job.internalID)
        case .miss:
            encodeTasks[key] = EncodeTask(
                key: key, prompt: job.request.prompt, waiting: [job.internalID], traceID: job.request.traceID)
            encodeQueue.append(key)
        }
        return []
    }

    /// Ends a job: tells its decoder to stop when it has one, answers the client, forgets the job.
    func finish(_ job: RouterJob, reason: FinishReason, error: ErrorReply? = nil, now: ContinuousClock.Instant = .now)
        -> [Outgoing]
    {
        ended(
            job, outcome: error != nil ? "failed" : reason == .cancelled ? "cancelled" : "done",
            code: error.map { LoadGenerator.name(of: $0.code) } ?? "\(reason)", now: now)
        var out: [Outgoing] = []
        if let decoder = job.decoder {
            out.append(Outgoing(link: .decoders, peer: decoder, message: .cancel(Cancel(requestID: job.decoderID))))
            decoders.released(decoder, cost: job.decoderCost)
        }
        if let error {
            jobsFailed += 1
            out.append(
                Outgoing(
                    link: .clients, peer: job.key.client,
                    message: .error(
                        ErrorReply(code: error.code, message: error.message, requestID: job.request.requestID))))
        } else {
            out.append(
                Outgoing(link: .clients, peer: job.key.client, message: .tokenChunk(finalChunk(job, reason: reason))))
        }
        forget(job)
        return out
    }

    func finalChunk(_ job: RouterJob, reason: FinishReason) -> TokenChunk {
        TokenChunk(
            requestID: job.request.requestID, ids: job.request.stream ? [] : job.streamed,
            textDelta: job.request.stream ? "" : job.text, finishReason: reason,
            usage: Usage(
                promptTokens: UInt32(clamping: job.encoding?.promptIDs.count ?? 0),
                completionTokens: UInt32(clamping: job.streamed.count), cachedEncoding: job.cachedEncoding),
            logprobs: job.request.stream ? [] : job.streamedLogprobs)
    }

    /// The job a decoder's chunk or error is about, if `id` names its current attempt.
    func job(decoderID id: String) -> RouterJob? {
        guard let mark = id.lastIndex(of: "#"), let attempt = Int(id[id.index(after: mark)...]),
            let job = jobs[String(id[..<mark])], job.attempts == attempt
        else { return nil }
        return job
    }

    func forget(_ job: RouterJob) {
        jobs[job.internalID] = nil
        jobIDs[job.key] = nil
        decodeQueue.removeAll { $0 == job.internalID }
        awaitingIdentity.removeAll { $0 == job.internalID }
        if let key = job.promptKey, var task = encodeTasks[key] {
            task.waiting.removeAll { $0 == job.internalID }
            encodeTasks[key] = task
            if task.waiting.isEmpty && task.encoder == nil {
                // Nobody waits for it and no encoder has it yet: not worth a prompt pass (nor the memory).
                encodeTasks[key] = nil
                encodeQueue.removeAll { $0 == key }
                cache.fail(key)
            }
        }
    }

    func reply(_ client: PeerIdentity, _ code: ErrorCode, _ message: String, requestID: String = "") -> Outgoing {
        Outgoing(
            link: .clients, peer: client,
            message: .error(ErrorReply(code: code, message: message, requestID: requestID)))
    }

    /// A client the clients socket can no longer reach: its jobs are cancelled so their slots free up.
    public func clientUnreachable(_ client: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        for job in jobs.values where job.key.client == client {
            faults.jobsCancelled += 1
            out += finish(job, reason: .cancelled).filter { $0.link != .clients }
        }
        return out + dispatch(now: now)
    }

    /// A client that stopped reading while its chunks piled up: each of its jobs ends with an explicit
    /// `cancelled` error (queued behind what it has not read), and is counted.
    public func clientTooSlow(_ client: PeerIdentity, backlog: Int, now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        let victims = jobs.values.filter { $0.key.client == client }.sorted { $0.internalID < $1.internalID }
        for job in victims {
            faults.jobsCancelled += 1
            faults.slowClientCancels += 1
            out += finish(
                job, reason: .unspecified,
                error: ErrorReply(
                    code: .cancelled,
                    message: "cancelled after \(job.streamed.count) tokens: the client left \(backlog) messages unread "
                        + "(limit \(configuration.clientBacklog)); read chunks as they come"))
        }
        notice(
            "slow \(client)",
            "client \(client) reads too slowly (\(backlog) messages unread): cancelled its "
                + "\(victims.count) jobs")
        return out + dispatch(now: now)
    }
}
