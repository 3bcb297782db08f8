import L2SProtoC

/// Swift message -> protobuf-c structs -> packed envelope frame. Only this file builds protobuf-c structs.
enum EnvelopeEncoder {
    /// Packs `message` into one envelope frame (the tensor frame, if any, is added by `WireCodec`).
    static func pack(_ message: Message) throws(WireError) -> Frame {
        let arena = CArena()
        var envelope = L2s__Envelope()
        l2s__envelope__init(&envelope)
        envelope.version = L2SVersion.protocolVersion
        switch message {
        case .hello(let hello):
            envelope.body_case = L2S__ENVELOPE__BODY_HELLO
            envelope.hello = try build(hello, arena)
        case .heartbeat(let heartbeat):
            envelope.body_case = L2S__ENVELOPE__BODY_HEARTBEAT
            envelope.heartbeat = arena.message {
                l2s__heartbeat__init($0)
                $0.pointee.sent_at_unix_ms = heartbeat.sentAtUnixMs
            }
        case .credit(let credit):
            envelope.body_case = L2S__ENVELOPE__BODY_CREDIT
            envelope.credit = arena.message {
                l2s__credit__init($0)
                $0.pointee.credits = credit.credits
            }
        case .generate(let request):
            envelope.body_case = L2S__ENVELOPE__BODY_GENERATE
            envelope.generate = try build(request, field: "generate", arena)
        case .cancel(let cancel):
            envelope.body_case = L2S__ENVELOPE__BODY_CANCEL
            let requestID = try arena.string(cancel.requestID, field: "cancel.request_id")
            envelope.cancel = arena.message {
                l2s__cancel__init($0)
                $0.pointee.request_id = requestID
            }
        case .encodeRequest(let request):
            envelope.body_case = L2S__ENVELOPE__BODY_ENCODE_REQUEST
            envelope.encode_request = try build(request, arena)
        case .encoding(let encoding):
            envelope.body_case = L2S__ENVELOPE__BODY_ENCODING
            envelope.encoding = try build(encoding, field: "encoding", arena)
        case .decodeJob(let job):
            envelope.body_case = L2S__ENVELOPE__BODY_DECODE_JOB
            let request = try build(job.request, field: "decode_job.request", arena)
            let encoding = try build(job.encoding, field: "decode_job.encoding", arena)
            let resume = arena.array(job.resumeIDs)
            envelope.decode_job = arena.message {
                l2s__decode_job__init($0)
                $0.pointee.request = request
                $0.pointee.encoding = encoding
                $0.pointee.n_resume_ids = job.resumeIDs.count
                $0.pointee.resume_ids = resume
            }
        case .tokenChunk(let chunk):
            envelope.body_case = L2S__ENVELOPE__BODY_TOKEN_CHUNK
            envelope.token_chunk = try build(chunk, arena)
        case .tokenChunks(let chunks):
            envelope.body_case = L2S__ENVELOPE__BODY_TOKEN_CHUNKS
            var built: [UnsafeMutablePointer<L2s__TokenChunk>?] = []
            built.reserveCapacity(chunks.count)
            for chunk in chunks { built.append(try build(chunk, arena)) }
            let array = arena.pointerArray(built)
            envelope.token_chunks = arena.message {
                l2s__token_chunks__init($0)
                $0.pointee.n_chunks = built.count
                $0.pointee.chunks = array
            }
        case .error(let reply):
            envelope.body_case = L2S__ENVELOPE__BODY_ERROR
            let text = try arena.string(reply.message, field: "error.message")
            let requestID = try arena.string(reply.requestID, field: "error.request_id")
            envelope.error = arena.message {
                l2s__error__init($0)
                $0.pointee.code = L2s__ErrorCode(rawValue: .init(truncatingIfNeeded: reply.code.rawValue))
                $0.pointee.message = text
                $0.pointee.request_id = requestID
            }
        case .statsRequest:
            envelope.body_case = L2S__ENVELOPE__BODY_STATS_REQUEST
            envelope.stats_request = arena.message { l2s__stats_request__init($0) }
        case .statsReply(let reply):
            envelope.body_case = L2S__ENVELOPE__BODY_STATS_REPLY
            envelope.stats_reply = try build(reply, arena)
        case .goodbye(let goodbye):
            envelope.body_case = L2S__ENVELOPE__BODY_GOODBYE
            let reason = try arena.string(goodbye.reason, field: "goodbye.reason")
            envelope.goodbye = arena.message {
                l2s__goodbye__init($0)
                $0.pointee.reason = reason
                $0.pointee.draining = goodbye.draining ? 1 : 0
            }
        }
        // The arena (and with it every pointer in `envelope`) stays alive until pack has returned.
        return withExtendedLifetime(arena) {
            let size = l2s__envelope__get_packed_size(&envelope)
            return Frame(count: size) { buffer in
                guard let base = buffer.baseAddress else { return }
                _ = l2s__envelope__pack(&envelope, base.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    private static func build(_ hello: Hello, _ arena: CArena) throws(WireError) -> UnsafeMutablePointer<L2s__Hello> {
        let workerID = try arena.string(hello.workerID, field: "hello.worker_id")
        let software = try arena.string(hello.software, field: "hello.software")
        let kernels = try arena.string(hello.kernels, field: "hello.kernels")
        let llm = try arena.string(hello.fingerprints.llm, field: "hello.fingerprints.llm")
        let projector = try arena.string(hello.fingerprints.projector, field: "hello.fingerprints.projector")
        let slm = try arena.string(hello.fingerprints.slm, field: "hello.fingerprints.slm")
        let tokenizer = try arena.string(hello.fingerprints.tokenizer, field: "hello.fingerprints.tokenizer")
        let fingerprints: UnsafeMutablePointer<L2s__Fingerprints> = arena.message {
            l2s__fingerprints__init($0)
            $0.pointee.llm = llm
            $0.pointee.projector = projector
            $0.pointee.slm = slm
            $0.pointee.tokenizer = tokenizer
        }
        let encoding: UnsafeMutablePointer<L2s__EncodingSpec>? = hello.encoding.map { spec in
            arena.message {
                l2s__encoding_spec__init($0)
                $0.pointee.dtype = L2s__DType(rawValue: .init(truncatingIfNeeded: spec.dtype?.rawValue ?? 0))
                $0.pointee.width = spec.width
                $0.pointee.projected = spec.projected ? 1 : 0
            }
        }
        return arena.message {
            l2s__hello__init($0)
            $0.pointee.encoding = encoding
            $0.pointee.role = L2s__Role(rawValue: .init(truncatingIfNeeded: hello.role.rawValue))
            $0.pointee.worker_id = workerID
            $0.pointee.fingerprints = fingerprints
            $0.pointee.capacity = hello.capacity
            $0.pointee.heartbeat_interval_ms = hello.heartbeatIntervalMs
            $0.pointee.software = software
            $0.pointee.kernels = kernels
        }
    }

    private static func build(
        _ request: GenerateRequest, field: String, _ arena: CArena
    ) throws(WireError) -> UnsafeMutablePointer<L2s__GenerateRequest> {
        let requestID = try arena.string(request.requestID, field: field + ".request_id")
        var stops: [UnsafeMutablePointer<CChar>?] = []
        for (index, stop) in request.stop.enumerated() {
            stops.append(try arena.string(stop, field: "\(field).stop[\(index)]"))
        }
        let stopArray = arena.array(stops)
        let sampling: UnsafeMutablePointer<L2s__SamplingParams>? = request.sampling.map { params in
            arena.message {
                l2s__sampling_params__init($0)
                $0.pointee.greedy = params.greedy ? 1 : 0
                $0.pointee.temperature = params.temperature
                $0.pointee.top_k = params.topK
                $0.pointee.top_p = params.topP
                $0.pointee.seed = params.seed
                $0.pointee.repetition_penalty = params.repetitionPenalty
                $0.pointee.no_repeat_ngram_size = params.noRepeatNGramSize
                $0.pointee.presence_penalty = params.presencePenalty
                $0.pointee.frequency_penalty = params.frequencyPenalty
            }
        }
        var text: UnsafeMutablePointer<CChar>?
        var tokenIDs: UnsafeMutablePointer<L2s__TokenIds>?
        switch request.prompt {
        case .text(let value): text = try arena.string(value, field: field + ".text")
        case .tokenIDs(let ids): tokenIDs = build(ids, arena)
        }
        let salt = arena.binary(request.tenantSalt)
        let beams: UnsafeMutablePointer<L2s__BeamParams>? = request.beams.map { params in
            arena.message {
                l2s__beam_params__init($0)
                $0.pointee.num_beams = params.numBeams
                $0.pointee.length_penalty = params.lengthPenalty
                $0.pointee.early_stopping = L2s__EarlyStopping(
                    rawValue: .init(truncatingIfNeeded: params.earlyStopping.rawValue))
                $0.pointee.num_return_sequences = params.numReturnSequences
            }
        }
        let traceID = try arena.string(request.traceID, field: field + ".trace_id")
        let logprobs: UnsafeMutablePointer<L2s__LogprobsParams>? = request.logprobs.map { top in
            arena.message {
                l2s__logprobs_params__init($0)
                $0.pointee.top = top
            }
        }
        return arena.message {
            l2s__generate_request__init($0)
            $0.pointee.beams = beams
            $0.pointee.logprobs = logprobs
            $0.pointee.request_id = requestID
            $0.pointee.max_new_tokens = request.maxNewTokens
            $0.pointee.min_new_tokens = request.minNewTokens
            $0.pointee.sampling = sampling
            $0.pointee.n_stop = stops.count
            $0.pointee.stop = stopArray
            $0.pointee.deadline_unix_ms = request.deadlineUnixMs
            $0.pointee.tenant_salt = salt
            $0.pointee.stream = request.stream ? 1 : 0
            $0.pointee.trace_id = traceID
            if let text {
                $0.pointee.prompt_case = L2S__GENERATE_REQUEST__PROMPT_TEXT
                $0.pointee.text = text
            } else {
                $0.pointee.prompt_case = L2S__GENERATE_REQUEST__PROMPT_TOKEN_IDS
                $0.pointee.token_ids = tokenIDs
            }
        }
    }

    private static func build(_ ids: [Int32], _ arena: CArena) -> UnsafeMutablePointer<L2s__TokenIds> {
        let values = arena.array(ids)
        return arena.message {
            l2s__token_ids__init($0)
            $0.pointee.n_ids = ids.count
            $0.pointee.ids = values
        }
    }

    private static func build(
        _ request: EncodeRequest, _ arena: CArena
    ) throws(WireError) -> UnsafeMutablePointer<L2s__EncodeRequest> {
        let requestID = try arena.string(request.requestID, field: "encode_request.request_id")
        let hash = arena.binary(request.promptHash)
        let traceID = try arena.string(request.traceID, field: "encode_request.trace_id")
        var text: UnsafeMutablePointer<CChar>?
        var tokenIDs: UnsafeMutablePointer<L2s__TokenIds>?
        switch request.prompt {
        case .text(let value): text = try arena.string(value, field: "encode_request.text")
        case .tokenIDs(let ids): tokenIDs = build(ids, arena)
        }
        return arena.message {
            l2s__encode_request__init($0)
            $0.pointee.request_id = requestID
            $0.pointee.prompt_hash = hash
            $0.pointee.trace_id = traceID
            if let text {
                $0.pointee.prompt_case = L2S__ENCODE_REQUEST__PROMPT_TEXT
                $0.pointee.text = text
            } else {
                $0.pointee.prompt_case = L2S__ENCODE_REQUEST__PROMPT_TOKEN_IDS
                $0.pointee.token_ids = tokenIDs
            }
        }
    }

    private static func build(
        _ encoding: Encoding, field: String, _ arena: CArena
    ) throws(WireError) -> UnsafeMutablePointer<L2s__Encoding> {
        try WireCodec.checkRows(of: encoding, field: field)
        let requestID = try arena.string(encoding.requestID, field: field + ".request_id")
        let hash = arena.binary(encoding.promptHash)
        let promptIDs = arena.array(encoding.promptIDs)
        let shape = arena.array(encoding.tensor.shape.map { UInt64($0) })
        let info: UnsafeMutablePointer<L2s__TensorInfo> = arena.message {
            l2s__tensor_info__init($0)
            $0.pointee.dtype = L2s__DType(rawValue: .init(truncatingIfNeeded: encoding.tensor.dtype.rawValue))
            $0.pointee.n_shape = encoding.tensor.shape.count
            $0.pointee.shape = shape
        }
        return arena.message {
            l2s__encoding__init($0)
            $0.pointee.request_id = requestID
            $0.pointee.prompt_hash = hash
            $0.pointee.n_prompt_ids = encoding.promptIDs.count
            $0.pointee.prompt_ids = promptIDs
            $0.pointee.tensor = info
            $0.pointee.projected = encoding.projected ? 1 : 0
        }
    }

    private static func build(_ chunk: TokenChunk, _ arena: CArena) throws(WireError) -> UnsafeMutablePointer<
        L2s__TokenChunk
    > {
        let requestID = try arena.string(chunk.requestID, field: "token_chunk.request_id")
        let text = try arena.string(chunk.textDelta, field: "token_chunk.text_delta")
        let ids = arena.array(chunk.ids)
        let logprobs = try build(chunk.logprobs, arena, field: "token_chunk.logprobs")
        let usage: UnsafeMutablePointer<L2s__Usage>? = chunk.usage.map { usage in
            arena.message {
                l2s__usage__init($0)
                $0.pointee.prompt_tokens = usage.promptTokens
                $0.pointee.completion_tokens = usage.completionTokens
                $0.pointee.cached_encoding = usage.cachedEncoding ? 1 : 0
            }
        }
        return arena.message {
            l2s__token_chunk__init($0)
            $0.pointee.request_id = requestID
            $0.pointee.n_ids = chunk.ids.count
            $0.pointee.ids = ids
            $0.pointee.text_delta = text
            $0.pointee.finish_reason = L2s__FinishReason(
                rawValue: .init(truncatingIfNeeded: chunk.finishReason.rawValue))
            $0.pointee.usage = usage
            $0.pointee.n_logprobs = chunk.logprobs.count
            $0.pointee.logprobs = logprobs
        }
    }

    private static func build(_ reply: StatsReply, _ arena: CArena) throws(WireError) -> UnsafeMutablePointer<
        L2s__StatsReply
    > {
        var workers: [UnsafeMutablePointer<L2s__WorkerStats>?] = []
        for (index, worker) in reply.workers.enumerated() {
            let workerID = try arena.string(worker.workerID, field: "stats_reply.workers[\(index)].worker_id")
            workers.append(
                arena.message {
                    l2s__worker_stats__init($0)
                    $0.pointee.worker_id = workerID
                    $0.pointee.role = L2s__Role(rawValue: .init(truncatingIfNeeded: worker.role.rawValue))
                    $0.pointee.capacity = worker.capacity
                    $0.pointee.credits = worker.credits
                    $0.pointee.outstanding = worker.outstanding
                    $0.pointee.jobs_done = worker.jobsDone
                    $0.pointee.last_seen_ms_ago = worker.lastSeenMsAgo
                })
        }
        let workerArray = arena.pointerArray(workers)
        let cache: UnsafeMutablePointer<L2s__CacheStats> = arena.message {
            l2s__cache_stats__init($0)
            $0.pointee.hits = reply.cache.hits
            $0.pointee.misses = reply.cache.misses
            $0.pointee.evictions = reply.cache.evictions
            $0.pointee.entries = reply.cache.entries
            $0.pointee.bytes = reply.cache.bytes
            $0.pointee.capacity_bytes = reply.cache.capacityBytes
            $0.pointee.coalesced = reply.cache.coalesced
        }
        return arena.message {
            l2s__stats_reply__init($0)
            $0.pointee.n_workers = workers.count
            $0.pointee.workers = workerArray
            $0.pointee.queue_depth = reply.queueDepth
            $0.pointee.max_queue = reply.maxQueue
            $0.pointee.cache = cache
            $0.pointee.jobs_done = reply.jobsDone
            $0.pointee.jobs_failed = reply.jobsFailed
            $0.pointee.tokens_generated = reply.tokensGenerated
            $0.pointee.tokens_per_second = reply.tokensPerSecond
            $0.pointee.uptime_ms = reply.uptimeMs
            $0.pointee.jobs_cancelled = reply.faults.jobsCancelled
            $0.pointee.slow_client_cancels = reply.faults.slowClientCancels
            $0.pointee.worker_faults = reply.faults.workerFaults
            $0.pointee.retries = reply.faults.retries
            $0.pointee.refused_peers = reply.faults.refusedPeers
        }
    }
}
