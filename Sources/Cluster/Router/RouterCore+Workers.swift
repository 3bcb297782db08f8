import Wire

extension RouterCore {
    func pool(_ link: Link) -> WorkerPool<PeerIdentity> { link == .encoders ? encoders : decoders }

    /// Changes the pool of `link` in place.
    func updatePool(_ link: Link, _ change: (inout WorkerPool<PeerIdentity>) -> Void) {
        if link == .encoders { change(&encoders) } else { change(&decoders) }
    }

    func receiveFromWorker(_ message: Message, from peer: PeerIdentity, on link: Link, now: ContinuousClock.Instant)
        -> [Outgoing]
    {
        if case .hello(let hello) = message { return join(hello, peer: peer, on: link, now: now) }
        guard pool(link).workers[peer] != nil else {
            // Not (or no longer) a member: a worker that outlived its heartbeat must say hello again.
            return [
                Outgoing(
                    link: link, peer: peer,
                    message: .error(
                        ErrorReply(
                            code: .unavailable,
                            message: "unknown \(link) peer: send hello first (or again, after being declared dead)")))
            ]
        }
        updatePool(link) { $0.heard(peer, now: now) }
        switch message {
        case .heartbeat:
            return []
        case .credit(let credit):
            updatePool(link) { $0.grant(peer, credits: Int(credit.credits)) }
            return dispatch(now: now)
        case .goodbye(let goodbye) where goodbye.draining:
            // Leaving soon: no new work; what it holds stays with it until its final goodbye (or its death).
            // The echo tells the worker that every job sent to it before has reached it: it holds all it will get.
            updatePool(link) { $0.drain(peer) }
            let name = workerNames[peer] ?? peer.description
            notices.append("\(link) worker '\(name)' is draining: \(goodbye.reason.prefix(200))")
            return [
                send(
                    .goodbye(Goodbye(reason: "drain noted: no more work comes", draining: true)), to: peer,
                    on: link, now: now)
            ]
        case .goodbye:
            return workerLeft(peer, on: link, reason: .goodbye, now: now)
        case .encoding(let encoding) where link == .encoders:
            return encoded(encoding, by: peer, now: now)
        case .tokenChunk(let chunk) where link == .decoders:
            return relay(chunk, from: peer, now: now)
        case .tokenChunks(let chunks) where link == .decoders:
            var out: [Outgoing] = []
            for chunk in chunks { out += relay(chunk, from: peer, now: now) }
            return Outgoing.mergingClientChunks(out)
        case .error(let error):
            return workerError(error, from: peer, on: link, now: now)
        default:
            return [
                Outgoing(
                    link: link, peer: peer,
                    message: .error(
                        ErrorReply(
                            code: .badRequest,
                            message: "the \(link) socket does not accept \(message.kind) messages")))
            ]
        }
    }

    /// Admits a worker whose hello announces the cluster's bundle (adopting it when none is pinned yet).
    func join(_ hello: Hello, peer: PeerIdentity, on link: Link, now: ContinuousClock.Instant) -> [Outgoing] {
        guard hello.role == link.workerRole else {
            return refuse(
                peer, on: link, hello, .badRequest,
                "hello with role \(hello.role) on the \(link) socket, which expects \(link.workerRole!)")
        }
        let announced: BundleIdentity
        switch BundleIdentity.announced(by: hello) {
        case .success(let identity): announced = identity
        case .failure(let problem): return refuse(peer, on: link, hello, .badRequest, problem.message)
        }
        guard hello.capacity >= 1 else {
            return refuse(peer, on: link, hello, .badRequest, "hello.capacity is 0; a worker needs at least one slot")
        }
        if let identity, let difference = identity.difference(from: announced) {
            return refuse(
                peer, on: link, hello, .bundleMismatch,
                "worker '\(hello.workerID)' serves another bundle: \(difference); it gets no jobs")
        }
        var out: [Outgoing] = []
        if pool(link).workers[peer] != nil { out += workerLeft(peer, on: link, reason: .rejoined, now: now) }
        if identity == nil { out += adopt(announced, from: hello, now: now) }
        let capacity = min(Int(hello.capacity), configuration.maxWorkerSlots)
        if capacity < Int(hello.capacity) {
            notice(
                "slots \(hello.workerID)",
                "\(link) worker '\(hello.workerID)' announced \(hello.capacity) slots; "
                    + "it gets at most \(capacity) (--max-worker-slots)")
        }
        updatePool(link) { $0.join(peer, capacity: capacity, variant: hello.kernels, now: now) }
        metrics?.joined(link)
        workerNames[peer] = hello.workerID
        lastSentToWorker[peer] = now
        return out + dispatch(now: now)
    }

    func refuse(_ peer: PeerIdentity, on link: Link, _ hello: Hello, _ code: ErrorCode, _ message: String)
        -> [Outgoing]
    {
        faults.refusedPeers += 1
        notice(
            "refused \(link) \(hello.workerID) \(message)",
            "refused \(link) peer \(peer) ('\(hello.workerID)', \(hello.software)): \(code): \(message)")
        return [Outgoing(link: link, peer: peer, message: .error(ErrorReply(code: code, message: message)))]
    }

    /// Takes the first worker's bundle as the cluster's (no `--bundle` given). Work routed under a different,
    /// earlier adopted bundle is routed again: its cache keys and encodings belong to that bundle.
    func adopt(_ announced: BundleIdentity, from hello: Hello, now: ContinuousClock.Instant) -> [Outgoing] {
        identity = announced
        notice(
            "adopt \(announced.fingerprints.llm) \(announced.fingerprints.slm)",
            "adopted the bundle of worker '\(hello.workerID)': llm \(announced.fingerprints.llm.prefix(16))…, slm "
                + "\(announced.fingerprints.slm.prefix(16))…, \(announced.encoding)")
        var out: [Outgoing] = []
        if let dropped = droppedIdentity, dropped != announced {
            encodeTasks = [:]
            encodeQueue = []
            decodeQueue = []
            cache.removeAll()
            awaitingIdentity = []
            for job in jobs.values.sorted(by: { $0.internalID < $1.internalID }) {
                if !job.streamed.isEmpty {
                    out += finish(
                        job, reason: .unspecified,
                        error: ErrorReply(
                            code: .unavailable,
                            message: "the cluster's bundle changed after \(job.streamed.count) tokens of this job"))
                    continue
                }
                job.promptKey = nil
                job.encoding = nil
                job.cachedEncoding = false
                awaitingIdentity.append(job.internalID)
            }
        }
        droppedIdentity = nil
        let waiting = awaitingIdentity
        awaitingIdentity = []
        for id in waiting { if let job = jobs[id] { out += route(job, now: now) } }
        return out
    }

    /// A worker that said goodbye or went silent: its work goes back to the front of the queues. A job whose
    /// decoders keep dying fails once it has used its attempts (a job that kills decoders must not kill them all).
    func workerLeft(
        _ peer: PeerIdentity, on link: Link, reason: RouterMetrics.WorkerLoss, now: ContinuousClock.Instant
    ) -> [Outgoing] {
        updatePool(link) { $0.leave(peer) }
        metrics?.lost(link, reason: reason)
        var out: [Outgoing] = []
        if link == .encoders {
            var requeued: [PromptKey] = []
            for (key, task) in encodeTasks where task.encoder == peer {
                encodeTasks[key]?.encoder = nil
                requeued.append(key)
            }
            encodeQueue.insert(contentsOf: requeued, at: 0)
        } else {
            let orphans = jobs.values.filter { $0.decoder == peer }.sorted { $0.internalID < $1.internalID }
            for job in orphans {
                job.decoder = nil
                job.requeuedAt = now
                job.failedOn.insert(peer)
                if job.attempts >= configuration.maxAttempts {
                    out += finish(
                        job, reason: .unspecified,
                        error: ErrorReply(
                            code: .unavailable,
                            message: "\(job.attempts) decoders holding this job died or left; giving up"))
                } else {
                    job.failover = .workerLost
                    decodeQueue.insert(job.internalID, at: 0)
                }
            }
        }
        workerNames[peer] = nil
        lastSentToWorker[peer] = nil
        encoderProgress[peer] = nil
        if case .adoptFirstWorker = configuration.bundle, encoders.workers.isEmpty, decoders.workers.isEmpty,
            let adopted = identity
        {
            // No worker holds the adopted bundle any more: the next worker's bundle is the cluster's.
            droppedIdentity = adopted
            identity = nil
            notices.append("no worker is left: the adopted bundle is dropped; the next worker's bundle is adopted")
        }
        return out + dispatch(now: now)
    }

    /// Sends queued work to eligible workers holding credits: encodes first, then decode jobs in arrival order.
    /// Work that failed on some workers prefers the others, and waits (without blocking the queue) while only
    /// those have credit. A beam job takes one credit per beam; while no decoder has that many it blocks the jobs
    /// behind it, and it fails at once when no decoder ever could.
    func dispatch(now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        var unplacedKeys: [PromptKey] = []
        for (index, key) in encodeQueue.enumerated() {
            guard var task = encodeTasks[key], task.encoder == nil else { continue }
            guard encoders.availableCredits(at: now) > 0 else {
                unplacedKeys += encodeQueue[index...].filter { encodeTasks[$0]?.encoder == nil }
                break
            }
            guard let encoder = encoders.assign(now: now, avoiding: task.failedOn) else {
                unplacedKeys.append(key)
                continue
            }
            task.encoder = encoder
            task.attempts += 1
            if encoders.workers[encoder]?.outstanding == 1 { encoderProgress[encoder] = now }
            encodeTasks[key] = task
            out.append(send(.encodeRequest(task.request), to: encoder, on: .encoders, now: now))
        }
        encodeQueue = unplacedKeys
        var unplacedJobs: [String] = []
        for (index, id) in decodeQueue.enumerated() {
            guard let job = jobs[id], let encoding = job.encoding, job.decoder == nil else { continue }
            guard decoders.availableCredits(at: now) > 0 else {
                unplacedJobs += decodeQueue[index...].filter { jobs[$0]?.decoder == nil }
                break
            }
            let cost = job.decoderCost
            let preferred = job.promptKey.flatMap { decoderAffinity[$0] }
            guard
                let decoder = decoders.assign(
                    now: now, avoiding: job.failedOn, variant: job.kernels, cost: cost, preferring: preferred)
            else {
                let largest = decoders.largestCapacity(variant: job.kernels)
                if cost > 1, largest > 0, largest < cost {
                    out += finish(
                        job, reason: .unspecified,
                        error: ErrorReply(
                            code: .badRequest,
                            message: "beams.num_beams \(cost) needs \(cost) decoder slots; the largest decoder has "
                                + "\(largest) (start decoders with --slots \(cost) or more)",
                            requestID: job.request.requestID))
                    continue
                }
                if cost > 1 {
                    // A beam job waits for a decoder to free `cost` slots; later jobs wait behind it, or they would
                    // take every slot it frees and it would never run.
                    unplacedJobs += decodeQueue[index...].filter { jobs[$0]?.decoder == nil }
                    break
                }
                unplacedJobs.append(id)
                continue
            }
            job.decoder = decoder
            if let key = job.promptKey {
                if decoderAffinity.count >= Self.affinityLimit { decoderAffinity.removeAll() }
                decoderAffinity[key] = decoder
            }
            job.progressAt = now
            job.attempts += 1
            metrics?.assigned(job, now: now)
            if let failover = job.failover {
                metrics?.failover(failover)
                job.failover = nil
            }
            var request = job.request
            request.requestID = job.decoderID
            let decodeJob = DecodeJob(request: request, encoding: encoding, resumeIDs: job.streamed)
            out.append(send(.decodeJob(decodeJob), to: decoder, on: .decoders, now: now))
        }
        decodeQueue = unplacedJobs
        return out
    }

    func send(_ message: Message, to worker: PeerIdentity, on link: Link, now: ContinuousClock.Instant) -> Outgoing {
        lastSentToWorker[worker] = now
        return Outgoing(link: link, peer: worker, message: message)
    }

    /// Periodic duties: heartbeats to quiet workers, dead and stalled workers' work re-sent, expired deadlines.
    public func tick(now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        let deadline = now - configuration.deadAfter
        for link in [Link.encoders, .decoders] {
            for peer in pool(link).silent(since: deadline) {
                out += workerLeft(peer, on: link, reason: .silent, now: now)
            }
            for peer in pool(link).workers.keys {
                if let last = lastSentToWorker[peer], now - last < configuration.heartbeatInterval { continue }
                out.append(
                    send(
                        .heartbeat(Heartbeat(sentAtUnixMs: WallClock.unixMilliseconds())), to: peer, on: link,
                        now: now))
            }
        }
        out += stalledWork(now: now)
        for job in jobs.values.sorted(by: { $0.internalID < $1.internalID }) {
            guard let jobDeadline = job.deadline, jobDeadline <= now else { continue }
            faults.jobsCancelled += 1
            out += finish(
                job, reason: .unspecified,
                error: ErrorReply(
                    code: .deadlineExceeded,
                    message: "deadline passed after \(job.streamed.count) generated tokens"), now: now)
        }
        out += dispatch(now: now)
        if let metrics {
            let stats = statistics(now: now)
            metrics.update(stats, running: jobs.count - Int(stats.queueDepth))
        }
        return out
    }

    /// What `l2s stats` shows.
    public func statistics(now: ContinuousClock.Instant) -> StatsReply {
        var workers: [WorkerStats] = []
        for (link, role) in [(Link.encoders, Role.encoder), (.decoders, .decoder)] {
            for worker in pool(link).workers.values {
                workers.append(
                    WorkerStats(
                        workerID: workerNames[worker.id] ?? worker.id.description, role: role,
                        capacity: UInt32(clamping: worker.capacity), credits: UInt32(clamping: worker.credits),
                        outstanding: UInt32(clamping: worker.outstanding), jobsDone: worker.jobsDone,
                        lastSeenMsAgo: UInt64(max(0, (now - worker.lastSeen).milliseconds))))
            }
        }
        workers.sort { ($0.role.rawValue, $0.workerID) < ($1.role.rawValue, $1.workerID) }
        let stats = cache.statistics
        let uptime = max(0, (now - startedAt).milliseconds)
        return StatsReply(
            workers: workers, queueDepth: UInt32(clamping: queueDepth),
            maxQueue: UInt32(clamping: configuration.maxQueue),
            cache: CacheStats(
                hits: stats.hits, misses: stats.misses, evictions: stats.evictions,
                entries: UInt64(stats.entries), bytes: UInt64(stats.bytes), capacityBytes: UInt64(stats.capacityBytes),
                coalesced: stats.coalesced),
            jobsDone: jobsDone, jobsFailed: jobsFailed, tokensGenerated: tokensGenerated,
            tokensPerSecond: uptime > 0 ? Double(tokensGenerated) * 1000 / Double(uptime) : 0, uptimeMs: UInt64(uptime),
            faults: faults)
    }
}

extension Duration {
    /// Whole milliseconds, for stats and logs.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
