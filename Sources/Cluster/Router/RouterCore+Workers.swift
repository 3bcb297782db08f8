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
            return [Outgoing(link: link, peer: peer, message: .error(ErrorReply(code: .unavailable,
                message: "unknown \(link) peer: send hello first (or again, after being declared dead)")))]
        }
        updatePool(link) { $0.heard(peer, now: now) }
        switch message {
        case .heartbeat:
            return []
        case .credit(let credit):
            updatePool(link) { $0.grant(peer, credits: Int(credit.credits)) }
            return dispatch(now: now)
        case .goodbye:
            return workerLeft(peer, on: link, now: now)
        case .encoding(let encoding) where link == .encoders:
            return encoded(encoding, by: peer, now: now)
        case .tokenChunk(let chunk) where link == .decoders:
            return relay(chunk, from: peer, now: now)
        case .error(let error):
            return workerError(error, from: peer, on: link, now: now)
        default:
            return [Outgoing(link: link, peer: peer, message: .error(ErrorReply(code: .badRequest,
                message: "the \(link) socket does not accept \(message.kind) messages")))]
        }
    }

    func join(_ hello: Hello, peer: PeerIdentity, on link: Link, now: ContinuousClock.Instant) -> [Outgoing] {
        guard hello.role == link.workerRole else {
            return [Outgoing(link: link, peer: peer, message: .error(ErrorReply(code: .badRequest,
                message: "hello with role \(hello.role) on the \(link) socket, which expects \(link.workerRole!)")))]
        }
        if let mismatch = FingerprintCheck.mismatch(pinned: fingerprints, announced: hello.fingerprints) {
            return [Outgoing(link: link, peer: peer, message: .error(ErrorReply(code: .bundleMismatch,
                message: "worker '\(hello.workerID)' serves another bundle: \(mismatch); it gets no jobs")))]
        }
        var out: [Outgoing] = []
        if pool(link).workers[peer] != nil { out += workerLeft(peer, on: link, now: now) }
        fingerprints = FingerprintCheck.merge(pinned: fingerprints, announced: hello.fingerprints)
        let capacity = max(1, Int(hello.capacity))
        updatePool(link) { $0.join(peer, capacity: capacity, now: now) }
        workerNames[peer] = hello.workerID
        lastSentToWorker[peer] = now
        if routingFingerprints != nil, !awaitingFingerprints.isEmpty {
            let waiting = awaitingFingerprints
            awaitingFingerprints = []
            for id in waiting { if let job = jobs[id] { route(job) } }
        }
        return out + dispatch(now: now)
    }

    /// A worker that said goodbye or went silent: its work goes back to the front of the queues.
    func workerLeft(_ peer: PeerIdentity, on link: Link, now: ContinuousClock.Instant) -> [Outgoing] {
        updatePool(link) { $0.leave(peer) }
        if link == .encoders {
            var requeued: [PromptKey] = []
            for (key, task) in encodeTasks where task.encoder == peer {
                encodeTasks[key]?.encoder = nil
                requeued.append(key)
            }
            encodeQueue.insert(contentsOf: requeued, at: 0)
        } else {
            let orphans = jobs.values.filter { $0.decoder == peer }.sorted { $0.internalID < $1.internalID }
            for job in orphans { job.decoder = nil }
            decodeQueue.insert(contentsOf: orphans.map(\.internalID), at: 0)
        }
        workerNames[peer] = nil
        lastSentToWorker[peer] = nil
        return dispatch(now: now)
    }

    func encoded(_ encoding: Encoding, by encoder: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        guard let key = PromptKey(digest: encoding.promptHash), let task = encodeTasks[key], task.encoder == encoder
        else {
            return []  // a late answer to work already re-sent elsewhere
        }
        encodeTasks[key] = nil
        encoders.finished(encoder)
        let bytes = encoding.tensor.bytes.count + encoding.promptIDs.count * 4
        cache.complete(key, value: encoding, bytes: bytes)
        for id in task.waiting {
            guard let job = jobs[id] else { continue }
            job.encoding = encoding
            decodeQueue.append(id)
        }
        return dispatch(now: now)
    }

    func relay(_ chunk: TokenChunk, from decoder: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        guard let job = jobs[chunk.requestID], job.decoder == decoder else {
            return []  // a cancelled job, or one resumed elsewhere after this decoder was declared dead
        }
        job.streamed += chunk.ids
        job.text += chunk.textDelta
        tokensGenerated += UInt64(chunk.ids.count)
        var out: [Outgoing] = []
        if job.request.stream, !chunk.ids.isEmpty || !chunk.textDelta.isEmpty {
            out.append(Outgoing(link: .clients, peer: job.key.client, message: .tokenChunk(
                TokenChunk(requestID: job.request.requestID, ids: chunk.ids, textDelta: chunk.textDelta))))
        }
        if chunk.finishReason != .unspecified {
            decoders.finished(decoder)
            job.decoder = nil
            jobsDone += 1
            out.append(Outgoing(link: .clients, peer: job.key.client,
                message: .tokenChunk(finalChunk(job, reason: chunk.finishReason))))
            forget(job)
            out += dispatch(now: now)
        }
        return out
    }

    func workerError(_ error: ErrorReply, from peer: PeerIdentity, on link: Link, now: ContinuousClock.Instant)
        -> [Outgoing]
    {
        var out: [Outgoing] = []
        if link == .encoders, let key = encodeTasks.keys.first(where: { $0.description == error.requestID }),
            let task = encodeTasks[key], task.encoder == peer
        {
            // The prompt itself is bad (too long, untokenizable): every job waiting on it fails the same way.
            encodeTasks[key] = nil
            encoders.finished(peer)
            cache.fail(key)
            for id in task.waiting {
                if let job = jobs[id] { out += finish(job, reason: .unspecified, error: error) }
            }
        } else if link == .decoders, let job = jobs[error.requestID], job.decoder == peer {
            decoders.finished(peer)
            job.decoder = nil
            out += finish(job, reason: .unspecified, error: error)
        }
        return out + dispatch(now: now)
    }

    /// Sends queued work to workers holding credits: encodes first, then decode jobs in arrival order.
    func dispatch(now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        while let key = encodeQueue.first {
            guard var task = encodeTasks[key] else {
                encodeQueue.removeFirst()
                continue
            }
            guard let encoder = encoders.assign() else { break }
            encodeQueue.removeFirst()
            task.encoder = encoder
            encodeTasks[key] = task
            out.append(send(.encodeRequest(task.request), to: encoder, on: .encoders, now: now))
        }
        while let id = decodeQueue.first {
            guard let job = jobs[id], let encoding = job.encoding else {
                decodeQueue.removeFirst()
                continue
            }
            guard let decoder = decoders.assign() else { break }
            decodeQueue.removeFirst()
            job.decoder = decoder
            var request = job.request
            request.requestID = job.internalID
            let decodeJob = DecodeJob(request: request, encoding: encoding, resumeIDs: job.streamed)
            out.append(send(.decodeJob(decodeJob), to: decoder, on: .decoders, now: now))
        }
        return out
    }

    func send(_ message: Message, to worker: PeerIdentity, on link: Link, now: ContinuousClock.Instant) -> Outgoing {
        lastSentToWorker[worker] = now
        return Outgoing(link: link, peer: worker, message: message)
    }

    /// Periodic duties: heartbeats to quiet workers, dead workers' work re-sent, expired deadlines.
    public func tick(now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        let deadline = now - configuration.deadAfter
        for link in [Link.encoders, .decoders] {
            for peer in pool(link).silent(since: deadline) { out += workerLeft(peer, on: link, now: now) }
            for peer in pool(link).workers.keys {
                if let last = lastSentToWorker[peer], now - last < configuration.heartbeatInterval { continue }
                out.append(send(.heartbeat(Heartbeat(sentAtUnixMs: WallClock.unixMilliseconds())), to: peer, on: link,
                    now: now))
            }
        }
        for job in jobs.values.sorted(by: { $0.internalID < $1.internalID }) {
            guard let jobDeadline = job.deadline, jobDeadline <= now else { continue }
            out += finish(job, reason: .unspecified, error: ErrorReply(code: .deadlineExceeded,
                message: "deadline passed after \(job.streamed.count) generated tokens"))
        }
        return out + dispatch(now: now)
    }

    /// What `l2s stats` shows.
    public func statistics(now: ContinuousClock.Instant) -> StatsReply {
        var workers: [WorkerStats] = []
        for (link, role) in [(Link.encoders, Role.encoder), (.decoders, .decoder)] {
            for worker in pool(link).workers.values {
                workers.append(WorkerStats(workerID: workerNames[worker.id] ?? worker.id.description, role: role,
                    capacity: UInt32(worker.capacity), credits: UInt32(worker.credits),
                    outstanding: UInt32(worker.outstanding), jobsDone: worker.jobsDone,
                    lastSeenMsAgo: UInt64(max(0, (now - worker.lastSeen).milliseconds))))
            }
        }
        workers.sort { ($0.role.rawValue, $0.workerID) < ($1.role.rawValue, $1.workerID) }
        let stats = cache.statistics
        let uptime = max(0, (now - startedAt).milliseconds)
        return StatsReply(workers: workers, queueDepth: UInt32(queueDepth), maxQueue: UInt32(configuration.maxQueue),
            cache: CacheStats(hits: stats.hits, misses: stats.misses, evictions: stats.evictions,
                entries: UInt64(stats.entries), bytes: UInt64(stats.bytes), capacityBytes: UInt64(stats.capacityBytes),
                coalesced: stats.coalesced),
            jobsDone: jobsDone, jobsFailed: jobsFailed, tokensGenerated: tokensGenerated,
            tokensPerSecond: uptime > 0 ? Double(tokensGenerated) * 1000 / Double(uptime) : 0, uptimeMs: UInt64(uptime))
    }
}

extension Duration {
    /// Whole milliseconds, for stats and logs.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
