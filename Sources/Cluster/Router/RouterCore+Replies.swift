import Wire

/// What workers send back, checked before it is cached or forwarded, and what the router does when a worker
/// fails: the work goes to another worker, the fault counts towards the worker's breaker, and the client hears
/// only of faults that no worker could get past.
extension RouterCore {
    func encoded(_ encoding: Encoding, by encoder: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        guard let key = PromptKey(digest: encoding.promptHash), let task = encodeTasks[key], task.encoder == encoder
        else {
            return []  // a late answer to work already re-sent elsewhere
        }
        guard let spec = identity?.encoding else { return [] }
        encoderProgress[encoder] = now
        if let problem = ReplyValidation.problem(with: encoding, for: task.prompt, spec: spec) {
            return encoderFault(key, encoder: encoder, problem: problem, now: now)
        }
        encodeTasks[key] = nil
        encoders.finished(encoder)
        let (kept, bytes) = ReplyValidation.compacted(encoding)
        cache.complete(key, value: kept, bytes: bytes)
        for id in task.waiting {
            guard let job = jobs[id] else { continue }
            job.encoding = kept
            decodeQueue.append(id)
        }
        return dispatch(now: now)
    }

    func relay(_ chunk: TokenChunk, from decoder: PeerIdentity, now: ContinuousClock.Instant) -> [Outgoing] {
        guard let job = job(decoderID: chunk.requestID), job.decoder == decoder else {
            return []  // a cancelled job, or one resumed elsewhere after this decoder failed it
        }
        if let problem = ReplyValidation.problem(with: chunk, for: job) {
            return decoderFault(job, decoder: decoder, problem: problem, now: now)
        }
        job.progressAt = now
        if !chunk.ids.isEmpty {
            if job.firstTokenAt == nil { job.firstTokenAt = now }
            metrics?.token(job, count: chunk.ids.count, now: now)
            if job.kernels == nil { job.kernels = decoders.workers[decoder]?.variant }
        }
        job.streamed += chunk.ids
        if !job.request.stream {  // a streamed job's text and logprobs went out with its chunks
            job.text += chunk.textDelta
            job.streamedLogprobs += chunk.logprobs
        }
        tokensGenerated += UInt64(chunk.ids.count)
        var out: [Outgoing] = []
        if job.request.stream, !chunk.ids.isEmpty || !chunk.textDelta.isEmpty {
            out.append(
                Outgoing(
                    link: .clients, peer: job.key.client,
                    message: .tokenChunk(
                        TokenChunk(
                            requestID: job.request.requestID, ids: chunk.ids, textDelta: chunk.textDelta,
                            logprobs: chunk.logprobs))))
        }
        if chunk.finishReason != .unspecified {
            decoders.finished(decoder, cost: job.decoderCost)
            job.decoder = nil
            jobsDone += 1
            ended(job, outcome: "done", code: "\(chunk.finishReason)", now: now)
            out.append(
                Outgoing(
                    link: .clients, peer: job.key.client,
                    message: .tokenChunk(finalChunk(job, reason: chunk.finishReason))))
            forget(job)
            out += dispatch(now: now)
        }
        return out
    }

    /// An error from a worker about work it holds. An encoder's `prompt_too_long` or `bad_request` is the
    /// prompt's fault and goes to every job waiting on it; anything else is the worker's fault and is retried.
    func workerError(_ error: ErrorReply, from peer: PeerIdentity, on link: Link, now: ContinuousClock.Instant)
        -> [Outgoing]
    {
        if link == .encoders, let key = encodeTasks.keys.first(where: { $0.description == error.requestID }),
            let task = encodeTasks[key], task.encoder == peer
        {
            encoderProgress[peer] = now
            guard error.code == .promptTooLong || error.code == .badRequest else {
                return encoderFault(key, encoder: peer, problem: "\(error.code): \(error.message)", now: now)
            }
            encodeTasks[key] = nil
            encoders.finished(peer)
            cache.fail(key)
            var out: [Outgoing] = []
            for id in task.waiting {
                if let job = jobs[id] { out += finish(job, reason: .unspecified, error: error) }
            }
            return out + dispatch(now: now)
        }
        if link == .decoders, let job = job(decoderID: error.requestID), job.decoder == peer {
            if error.code == .promptTooLong {
                // A prompt the SLM cannot hold is the same on every decoder: the client's answer, not a retry.
                decoders.released(peer, cost: job.decoderCost)
                job.decoder = nil
                return finish(job, reason: .unspecified, error: error, now: now) + dispatch(now: now)
            }
            return decoderFault(job, decoder: peer, problem: "\(error.code): \(error.message)", now: now)
        }
        notice(
            "stray error \(link) \(peer)",
            "\(link) peer \(peer) sent an error about no work it holds: "
                + "\(error.code): \(error.message)")
        return []
    }

    /// Work held too long without progress: taken back and retried elsewhere. A decoder must stream a token of each
    /// job it holds within the stall timeout; an encoder must answer one of its encodes within it.
    func stalledWork(now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        let limit = configuration.stallTimeout
        for (encoder, since) in encoderProgress.sorted(by: { $0.value < $1.value }) where now - since >= limit {
            let held = encodeTasks.filter { $0.value.encoder == encoder }.keys.sorted {
                $0.description < $1.description
            }
            encoderProgress[encoder] = held.isEmpty ? nil : now
            for key in held {
                out += encoderFault(
                    key, encoder: encoder,
                    problem: "no encoding for \(limit.milliseconds) ms while holding \(held.count) encodes", now: now)
            }
        }
        for job in jobs.values.sorted(by: { $0.internalID < $1.internalID }) {
            // A job that must resume on a kernel variant no decoder has any more waits a stall timeout for one.
            if job.decoder == nil, let kernels = job.kernels, let since = job.requeuedAt, now - since >= limit,
                !decoders.hasMember(variant: kernels)
            {
                out += finish(
                    job, reason: .unspecified,
                    error: ErrorReply(
                        code: .unavailable,
                        message: "no decoder with kernel variant '\(kernels)' to resume on after \(job.streamed.count) "
                            + "tokens (another variant would change the result)"), now: now)
                continue
            }
            guard let decoder = job.decoder, let since = job.progressAt, now - since >= limit else { continue }
            out += decoderFault(job, decoder: decoder, problem: "no token within \(limit.milliseconds) ms", now: now)
        }
        return out
    }

    /// An encoder failed an encode (invalid encoding, error, stall): the encode goes to another encoder, or,
    /// after `maxAttempts`, every waiting job fails with `unavailable` naming the last fault.
    func encoderFault(_ key: PromptKey, encoder: PeerIdentity, problem: String, now: ContinuousClock.Instant)
        -> [Outgoing]
    {
        guard var task = encodeTasks[key] else { return [] }
        recordFault(of: encoder, on: .encoders, problem: problem, job: nil, now: now)
        task.encoder = nil
        task.failedOn.insert(encoder)
        guard task.attempts < configuration.maxAttempts else {
            encodeTasks[key] = nil
            cache.fail(key)
            var out: [Outgoing] = []
            for id in task.waiting {
                guard let job = jobs[id] else { continue }
                out += finish(
                    job, reason: .unspecified,
                    error: ErrorReply(
                        code: .unavailable,
                        message: "no encoder produced a valid encoding in \(task.attempts) attempts; last: \(problem)"))
            }
            return out + dispatch(now: now)
        }
        faults.retries += 1
        encodeTasks[key] = task
        encodeQueue.insert(key, at: 0)
        return dispatch(now: now)
    }

    /// A decoder failed a job (invalid chunk, error, stall): the decoder is told to drop it, the fault counts
    /// towards its breaker, and the job resumes on another decoder from the tokens already streamed, or fails with
    /// `UNAVAILABLE` after `maxAttempts`.
    func decoderFault(_ job: RouterJob, decoder: PeerIdentity, problem: String, now: ContinuousClock.Instant)
        -> [Outgoing]
    {
        let out = [Outgoing(link: .decoders, peer: decoder, message: .cancel(Cancel(requestID: job.decoderID)))]
        recordFault(of: decoder, on: .decoders, problem: problem, job: job.decoderID, cost: job.decoderCost, now: now)
        job.decoder = nil
        job.progressAt = nil
        job.requeuedAt = now
        job.failedOn.insert(decoder)
        guard job.attempts < configuration.maxAttempts else {
            return out
                + finish(
                    job, reason: .unspecified,
                    error: ErrorReply(
                        code: .unavailable,
                        message: "the job failed on \(job.attempts) decoders; last: \(problem)")) + dispatch(now: now)
        }
        faults.retries += 1
        job.failover = .workerFault
        decodeQueue.insert(job.internalID, at: 0)
        return out + dispatch(now: now)
    }

    /// Counts a worker's fault, takes the work off it in its pool (opening its breaker after enough faults in a row),
    /// and logs the fault once.
    func recordFault(
        of worker: PeerIdentity, on link: Link, problem: String, job: String?, cost: Int = 1,
        now: ContinuousClock.Instant
    ) {
        let name = workerNames[worker] ?? worker.description
        let role = link == .encoders ? "encoder" : "decoder"
        faults.workerFaults += 1
        var tripped = false
        updatePool(link) { tripped = $0.failed(worker, cost: cost, now: now) }
        if tripped {
            notices.append(
                "\(role) '\(name)' failed \(configuration.breakerThreshold) times in a row; no work for "
                    + "it for \(configuration.breakerCooldown.milliseconds) ms")
        }
        notice("fault \(name) \(problem)", "\(role) '\(name)' fault\(job.map { " on job \($0)" } ?? ""): \(problem)")
    }
}
