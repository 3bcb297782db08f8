import Wire

/// The router's decisions, free of sockets and clocks: messages in, messages out. `RouterService` feeds it
/// from its three ZeroMQ sockets; tests drive it directly with instants of their choosing.
///
/// It validates client jobs, looks encodings up in the cache (asking an encoder once per prompt, however
/// many jobs wait on it), hands jobs to decoders within the credits they granted, relays token chunks,
/// and resumes work of dead workers elsewhere. Not thread-safe: one event loop owns it.
public final class RouterCore {
    let configuration: RouterConfiguration
    let startedAt: ContinuousClock.Instant
    /// The cluster's bundle, pinned by configuration or by the first worker's hello.
    var fingerprints: Fingerprints?
    let cache: EncodingCache<PromptKey, Encoding>
    var encoders = WorkerPool<PeerIdentity>()
    var decoders = WorkerPool<PeerIdentity>()
    var workerNames: [PeerIdentity: String] = [:]
    var lastSentToWorker: [PeerIdentity: ContinuousClock.Instant] = [:]

    var jobs: [String: RouterJob] = [:]
    var jobIDs: [RouterJob.Key: String] = [:]
    /// Jobs that arrived before any worker told the router which bundle the cluster serves.
    var awaitingFingerprints: [String] = []
    var encodeTasks: [PromptKey: EncodeTask] = [:]
    var encodeQueue: [PromptKey] = []
    var decodeQueue: [String] = []
    var nextJobNumber: UInt64 = 0

    var jobsDone: UInt64 = 0
    var jobsFailed: UInt64 = 0
    var tokensGenerated: UInt64 = 0

    /// A router with nothing connected yet.
    public init(configuration: RouterConfiguration, now: ContinuousClock.Instant) {
        self.configuration = configuration
        self.startedAt = now
        self.fingerprints = configuration.pinnedFingerprints
        self.cache = EncodingCache(capacityBytes: configuration.cacheBytes)
    }

    /// The fingerprints the cache key needs (LLM, projector, tokenizer), once an encoder announced them.
    var routingFingerprints: Fingerprints? {
        guard let fingerprints, !fingerprints.llm.isEmpty, !fingerprints.tokenizer.isEmpty else { return nil }
        return fingerprints
    }

    /// Jobs not yet on a decoder: the bounded queue.
    public var queueDepth: Int { jobs.values.reduce(0) { $0 + ($1.decoder == nil ? 1 : 0) } }

    /// Handles one decoded message from `peer` on `link`.
    public func receive(_ message: Message, from peer: PeerIdentity, on link: Link, now: ContinuousClock.Instant)
        -> [Outgoing]
    {
        switch link {
        case .clients: return receiveFromClient(message, from: peer, now: now)
        case .encoders, .decoders: return receiveFromWorker(message, from: peer, on: link, now: now)
        }
    }

    /// Answers a frame that failed to decode; the sender learns what was wrong, nothing else changes.
    public func receiveInvalid(_ error: WireError, from peer: PeerIdentity, on link: Link) -> [Outgoing] {
        let code: ErrorCode
        switch error {
        case .unsupportedVersion: code = .unsupportedVersion
        case .frameTooLarge: code = .messageTooLarge
        default: code = .badRequest
        }
        return [Outgoing(link: link, peer: peer, message: .error(ErrorReply(code: code, message: error.description)))]
    }

    // MARK: - Clients

    func receiveFromClient(_ message: Message, from client: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        switch message {
        case .generate(let request):
            return submit(request, from: client, now: now)
        case .cancel(let cancel):
            let key = RouterJob.Key(client: client, requestID: cancel.requestID)
            guard let id = jobIDs[key], let job = jobs[id] else {
                return [reply(client, .badRequest, "cancel: no job with request_id '\(cancel.requestID)' is in flight",
                    requestID: cancel.requestID)]
            }
            var out = finish(job, reason: .cancelled)
            out += dispatch(now: now)
            return out
        case .statsRequest:
            return [Outgoing(link: .clients, peer: client, message: .statsReply(statistics(now: now)))]
        case .heartbeat:
            return []
        default:
            return [reply(client, .badRequest,
                "the clients socket accepts generate, cancel, stats_request and heartbeat, not \(message.kind)")]
        }
    }

    func submit(_ request: GenerateRequest, from client: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        let key = RouterJob.Key(client: client, requestID: request.requestID)
        if let problem = RequestValidation.problem(with: request, configuration: configuration) {
            jobsFailed += 1
            return [reply(client, problem.code, problem.message, requestID: request.requestID)]
        }
        if jobIDs[key] != nil {
            return [reply(client, .badRequest, "request_id '\(request.requestID)' is already in flight for this client",
                requestID: request.requestID)]
        }
        var deadline: ContinuousClock.Instant?
        if request.deadlineUnixMs > 0 {
            let remaining = Int64(request.deadlineUnixMs) - Int64(WallClock.unixMilliseconds())
            if remaining <= 0 {
                jobsFailed += 1
                return [reply(client, .deadlineExceeded, "deadline_unix_ms \(request.deadlineUnixMs) has already passed",
                    requestID: request.requestID)]
            }
            deadline = now + .milliseconds(remaining)
        }
        if queueDepth >= configuration.maxQueue {
            jobsFailed += 1
            return [reply(client, .overloaded,
                "overloaded: \(queueDepth) jobs are waiting (limit \(configuration.maxQueue)); retry later",
                requestID: request.requestID)]
        }
        nextJobNumber += 1
        let job = RouterJob(key: key, internalID: "j\(nextJobNumber)", request: request, deadline: deadline)
        jobs[job.internalID] = job
        jobIDs[key] = job.internalID
        if routingFingerprints == nil {
            awaitingFingerprints.append(job.internalID)
            return []
        }
        route(job)
        return dispatch(now: now)
    }

    /// Finds the job's encoding: from the cache, from an encode already in flight, or from a new one.
    func route(_ job: RouterJob) {
        guard let fingerprints = routingFingerprints else { return }
        let key: PromptKey
        switch job.request.prompt {
        case .text(let text):
            key = PromptKey(llm: fingerprints.llm, projector: fingerprints.projector, tokenizer: fingerprints.tokenizer,
                text: text, tenantSalt: job.request.tenantSalt)
        case .tokenIDs(let ids):
            key = PromptKey(llm: fingerprints.llm, projector: fingerprints.projector, tokenizer: fingerprints.tokenizer,
                tokenIds: ids, tenantSalt: job.request.tenantSalt)
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
            encodeTasks[key] = EncodeTask(key: key, prompt: job.request.prompt, encoder: nil, waiting: [job.internalID])
            encodeQueue.append(key)
        }
    }

    /// Ends a job: tells its decoder to stop when it has one, answers the client, forgets the job.
    func finish(_ job: RouterJob, reason: FinishReason, error: ErrorReply? = nil) -> [Outgoing] {
        var out: [Outgoing] = []
        if let decoder = job.decoder {
            out.append(Outgoing(link: .decoders, peer: decoder, message: .cancel(Cancel(requestID: job.internalID))))
            decoders.finished(decoder)
        }
        if let error {
            jobsFailed += 1
            out.append(Outgoing(link: .clients, peer: job.key.client,
                message: .error(ErrorReply(code: error.code, message: error.message, requestID: job.request.requestID))))
        } else {
            out.append(Outgoing(link: .clients, peer: job.key.client, message: .tokenChunk(finalChunk(job, reason: reason))))
        }
        forget(job)
        return out
    }

    func finalChunk(_ job: RouterJob, reason: FinishReason) -> TokenChunk {
        TokenChunk(requestID: job.request.requestID, ids: job.request.stream ? [] : job.streamed,
            textDelta: job.request.stream ? "" : job.text, finishReason: reason,
            usage: Usage(promptTokens: UInt32(job.encoding?.promptIDs.count ?? 0),
                completionTokens: UInt32(job.streamed.count), cachedEncoding: job.cachedEncoding))
    }

    func forget(_ job: RouterJob) {
        jobs[job.internalID] = nil
        jobIDs[job.key] = nil
        decodeQueue.removeAll { $0 == job.internalID }
        awaitingFingerprints.removeAll { $0 == job.internalID }
        if let key = job.promptKey { encodeTasks[key]?.waiting.removeAll { $0 == job.internalID } }
    }

    func reply(_ client: PeerIdentity, _ code: ErrorCode, _ message: String, requestID: String = "") -> Outgoing {
        Outgoing(link: .clients, peer: client, message: .error(ErrorReply(code: code, message: message, requestID: requestID)))
    }

    /// A client the clients socket can no longer reach: its jobs are cancelled so their slots free up.
    public func clientUnreachable(_ client: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        for job in jobs.values where job.key.client == client {
            out += finish(job, reason: .cancelled).filter { $0.link != .clients }
        }
        return out + dispatch(now: now)
    }
}
