import L2SProtoC

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Packed envelope frame -> protobuf-c structs -> Swift message. Only this file reads protobuf-c structs.
/// Everything is untrusted: enums are checked against the schema and strings against UTF-8, because
/// protobuf-c 1.4 checks neither for proto3.
enum EnvelopeDecoder {
    /// Decodes `frames` (envelope, then a tensor frame exactly when the body carries one). The
    /// protobuf-c tree is freed before returning; the tensor frame is referenced, not copied.
    static func decode(_ frames: [Frame], limits: WireLimits) throws(WireError) -> Message {
        guard let frame = frames.first else { throw .noFrames }
        guard frame.count <= limits.maxEnvelopeBytes else {
            throw .frameTooLarge(frame: "envelope", bytes: frame.count, limit: limits.maxEnvelopeBytes)
        }
        let unpacked = frame.withUnsafeBytes { bytes in
            l2s__envelope__unpack(nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        }
        guard let envelope = unpacked else { throw .invalidProtobuf(bytes: frame.count) }
        defer { l2s__envelope__free_unpacked(envelope, nil) }
        let body = envelope.pointee
        guard body.version == L2SVersion.protocolVersion else {
            throw .unsupportedVersion(expected: L2SVersion.protocolVersion, got: body.version)
        }
        let kind = try kind(of: body.body_case)
        let expectedFrames = kind.carriesTensor ? 2 : 1
        if frames.count < expectedFrames { throw .missingTensorFrame(body: kind.rawValue) }
        if frames.count > expectedFrames {
            throw .extraFrames(body: kind.rawValue, expected: expectedFrames, got: frames.count)
        }
        switch kind {
        case .hello:
            return .hello(try hello(body.hello))
        case .heartbeat:
            return .heartbeat(
                Heartbeat(sentAtUnixMs: try required(body.heartbeat, "heartbeat").pointee.sent_at_unix_ms))
        case .credit:
            return .credit(Credit(credits: try required(body.credit, "credit").pointee.credits))
        case .generate:
            return .generate(try generate(body.generate, field: "generate"))
        case .cancel:
            let value = try required(body.cancel, "cancel").pointee
            return .cancel(Cancel(requestID: try string(value.request_id, "cancel.request_id")))
        case .encodeRequest:
            return .encodeRequest(try encodeRequest(body.encode_request))
        case .encoding:
            return .encoding(try encoding(body.encoding, field: "encoding", tensorFrame: frames[1], limits: limits))
        case .decodeJob:
            let job = try required(body.decode_job, "decode_job").pointee
            let request = try generate(job.request, field: "decode_job.request")
            let encoding = try encoding(
                job.encoding, field: "decode_job.encoding", tensorFrame: frames[1], limits: limits)
            return .decodeJob(
                DecodeJob(request: request, encoding: encoding, resumeIDs: ints(job.resume_ids, job.n_resume_ids)))
        case .tokenChunk:
            return .tokenChunk(try tokenChunk(body.token_chunk, field: "token_chunk"))
        case .tokenChunks:
            let value = try required(body.token_chunks, "token_chunks").pointee
            var chunks: [TokenChunk] = []
            chunks.reserveCapacity(value.n_chunks)
            for index in 0..<value.n_chunks {
                chunks.append(try tokenChunk(value.chunks?[index], field: "token_chunks.chunks[\(index)]"))
            }
            return .tokenChunks(chunks)
        case .error:
            let value = try required(body.error, "error").pointee
            return .error(
                ErrorReply(
                    code: try enumValue(value.code.rawValue, "error.code"),
                    message: try string(value.message, "error.message"),
                    requestID: try string(value.request_id, "error.request_id")))
        case .statsRequest:
            _ = try required(body.stats_request, "stats_request")
            return .statsRequest(StatsRequest())
        case .statsReply:
            return .statsReply(try statsReply(body.stats_reply))
        case .goodbye:
            let value = try required(body.goodbye, "goodbye").pointee
            return .goodbye(Goodbye(reason: try string(value.reason, "goodbye.reason"), draining: value.draining != 0))
        }
    }

    /// The request id of a generate or cancel envelope, if the frame parses and the id is valid UTF-8; else empty.
    static func requestID(in frame: Frame) -> String {
        let unpacked = frame.withUnsafeBytes { bytes in
            l2s__envelope__unpack(nil, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        }
        guard let envelope = unpacked else { return "" }
        defer { l2s__envelope__free_unpacked(envelope, nil) }
        let body = envelope.pointee
        let pointer: UnsafeMutablePointer<CChar>?
        switch body.body_case {
        case L2S__ENVELOPE__BODY_GENERATE: pointer = body.generate?.pointee.request_id
        case L2S__ENVELOPE__BODY_CANCEL: pointer = body.cancel?.pointee.request_id
        default: pointer = nil
        }
        guard let id = try? string(pointer, "request_id"), id.utf8.count <= 256 else { return "" }
        return id
    }

    private static func kind(of bodyCase: L2s__Envelope__BodyCase) throws(WireError) -> MessageKind {
        switch bodyCase {
        case L2S__ENVELOPE__BODY_HELLO: return .hello
        case L2S__ENVELOPE__BODY_HEARTBEAT: return .heartbeat
        case L2S__ENVELOPE__BODY_CREDIT: return .credit
        case L2S__ENVELOPE__BODY_GENERATE: return .generate
        case L2S__ENVELOPE__BODY_CANCEL: return .cancel
        case L2S__ENVELOPE__BODY_ENCODE_REQUEST: return .encodeRequest
        case L2S__ENVELOPE__BODY_ENCODING: return .encoding
        case L2S__ENVELOPE__BODY_DECODE_JOB: return .decodeJob
        case L2S__ENVELOPE__BODY_TOKEN_CHUNK: return .tokenChunk
        case L2S__ENVELOPE__BODY_TOKEN_CHUNKS: return .tokenChunks
        case L2S__ENVELOPE__BODY_ERROR: return .error
        case L2S__ENVELOPE__BODY_STATS_REQUEST: return .statsRequest
        case L2S__ENVELOPE__BODY_STATS_REPLY: return .statsReply
        case L2S__ENVELOPE__BODY_GOODBYE: return .goodbye
        default: throw .noBody
        }
    }

    // MARK: - Bodies

    private static func hello(_ pointer: UnsafeMutablePointer<L2s__Hello>?) throws(WireError) -> Hello {
        let value = try required(pointer, "hello").pointee
        var fingerprints = Fingerprints()
        if let prints = value.fingerprints?.pointee {
            fingerprints = Fingerprints(
                llm: try string(prints.llm, "hello.fingerprints.llm"),
                projector: try string(prints.projector, "hello.fingerprints.projector"),
                slm: try string(prints.slm, "hello.fingerprints.slm"),
                tokenizer: try string(prints.tokenizer, "hello.fingerprints.tokenizer"))
        }
        var encoding: EncodingSpec?
        if let spec = value.encoding?.pointee {
            let dtype: DType? =
                spec.dtype.rawValue == 0 ? nil : try enumValue(spec.dtype.rawValue, "hello.encoding.dtype")
            encoding = EncodingSpec(dtype: dtype, width: spec.width, projected: spec.projected != 0)
        }
        return Hello(
            role: try enumValue(value.role.rawValue, "hello.role"),
            workerID: try string(value.worker_id, "hello.worker_id"),
            fingerprints: fingerprints, capacity: value.capacity, heartbeatIntervalMs: value.heartbeat_interval_ms,
            software: try string(value.software, "hello.software"), encoding: encoding,
            kernels: try string(value.kernels, "hello.kernels"))
    }

    private static func generate(
        _ pointer: UnsafeMutablePointer<L2s__GenerateRequest>?, field: String
    ) throws(WireError) -> GenerateRequest {
        let value = try required(pointer, field).pointee
        let prompt: Prompt
        switch value.prompt_case {
        case L2S__GENERATE_REQUEST__PROMPT_TEXT: prompt = .text(try string(value.text, field + ".text"))
        case L2S__GENERATE_REQUEST__PROMPT_TOKEN_IDS:
            let ids = try required(value.token_ids, field + ".token_ids").pointee
            prompt = .tokenIDs(ints(ids.ids, ids.n_ids))
        default: throw .missingField(field + ".prompt")
        }
        var stop: [String] = []
        for index in 0..<value.n_stop {
            stop.append(try string(value.stop?[index], "\(field).stop[\(index)]"))
        }
        let sampling = value.sampling.map { pointer in
            let params = pointer.pointee
            return SamplingParams(
                greedy: params.greedy != 0, temperature: params.temperature, topK: params.top_k, topP: params.top_p,
                seed: params.seed, repetitionPenalty: params.repetition_penalty,
                noRepeatNGramSize: params.no_repeat_ngram_size, presencePenalty: params.presence_penalty,
                frequencyPenalty: params.frequency_penalty)
        }
        var beams: BeamParams?
        if let params = value.beams?.pointee {
            beams = BeamParams(
                numBeams: params.num_beams, lengthPenalty: params.length_penalty,
                earlyStopping: try enumValue(params.early_stopping.rawValue, field + ".beams.early_stopping"),
                numReturnSequences: params.num_return_sequences)
        }
        return GenerateRequest(
            requestID: try string(value.request_id, field + ".request_id"), prompt: prompt,
            maxNewTokens: value.max_new_tokens, minNewTokens: value.min_new_tokens, sampling: sampling, stop: stop,
            deadlineUnixMs: value.deadline_unix_ms, tenantSalt: bytes(value.tenant_salt), stream: value.stream != 0,
            traceID: try string(value.trace_id, field + ".trace_id"), beams: beams,
            logprobs: value.logprobs.map { $0.pointee.top })
    }

    private static func encodeRequest(_ pointer: UnsafeMutablePointer<L2s__EncodeRequest>?) throws(WireError)
        -> EncodeRequest
    {
        let value = try required(pointer, "encode_request").pointee
        let prompt: Prompt
        switch value.prompt_case {
        case L2S__ENCODE_REQUEST__PROMPT_TEXT: prompt = .text(try string(value.text, "encode_request.text"))
        case L2S__ENCODE_REQUEST__PROMPT_TOKEN_IDS:
            let ids = try required(value.token_ids, "encode_request.token_ids").pointee
            prompt = .tokenIDs(ints(ids.ids, ids.n_ids))
        default: throw .missingField("encode_request.prompt")
        }
        return EncodeRequest(
            requestID: try string(value.request_id, "encode_request.request_id"),
            promptHash: bytes(value.prompt_hash), prompt: prompt,
            traceID: try string(value.trace_id, "encode_request.trace_id"))
    }

    private static func encoding(
        _ pointer: UnsafeMutablePointer<L2s__Encoding>?, field: String, tensorFrame: Frame, limits: WireLimits
    ) throws(WireError) -> Encoding {
        let value = try required(pointer, field).pointee
        let info = try required(value.tensor, field + ".tensor").pointee
        let shape = info.n_shape == 0 ? [] : Array(UnsafeBufferPointer(start: info.shape, count: info.n_shape))
        let tensor = try Tensor(
            field: field + ".tensor", dtypeValue: Int32(truncatingIfNeeded: info.dtype.rawValue), wireShape: shape,
            bytes: tensorFrame, limits: limits)
        let encoding = Encoding(
            requestID: try string(value.request_id, field + ".request_id"), promptHash: bytes(value.prompt_hash),
            promptIDs: ints(value.prompt_ids, value.n_prompt_ids), tensor: tensor, projected: value.projected != 0)
        try WireCodec.checkRows(of: encoding, field: field)
        return encoding
    }

    private static func tokenChunk(_ pointer: UnsafeMutablePointer<L2s__TokenChunk>?, field: String) throws(WireError)
        -> TokenChunk
    {
        let value = try required(pointer, field).pointee
        let usage = value.usage.map { pointer in
            Usage(
                promptTokens: pointer.pointee.prompt_tokens, completionTokens: pointer.pointee.completion_tokens,
                cachedEncoding: pointer.pointee.cached_encoding != 0)
        }
        return TokenChunk(
            requestID: try string(value.request_id, field + ".request_id"), ids: ints(value.ids, value.n_ids),
            textDelta: try string(value.text_delta, field + ".text_delta"),
            finishReason: try enumValue(value.finish_reason.rawValue, field + ".finish_reason"), usage: usage,
            logprobs: try logprobs(value.logprobs, value.n_logprobs, field: field + ".logprobs"))
    }

    private static func statsReply(_ pointer: UnsafeMutablePointer<L2s__StatsReply>?) throws(WireError) -> StatsReply {
        let value = try required(pointer, "stats_reply").pointee
        var workers: [WorkerStats] = []
        for index in 0..<value.n_workers {
            let field = "stats_reply.workers[\(index)]"
            let worker = try required(value.workers?[index], field).pointee
            workers.append(
                WorkerStats(
                    workerID: try string(worker.worker_id, field + ".worker_id"),
                    role: try enumValue(worker.role.rawValue, field + ".role"), capacity: worker.capacity,
                    credits: worker.credits, outstanding: worker.outstanding, jobsDone: worker.jobs_done,
                    lastSeenMsAgo: worker.last_seen_ms_ago))
        }
        var cache = CacheStats()
        if let stats = value.cache?.pointee {
            cache = CacheStats(
                hits: stats.hits, misses: stats.misses, evictions: stats.evictions, entries: stats.entries,
                bytes: stats.bytes, capacityBytes: stats.capacity_bytes, coalesced: stats.coalesced)
        }
        return StatsReply(
            workers: workers, queueDepth: value.queue_depth, maxQueue: value.max_queue, cache: cache,
            jobsDone: value.jobs_done, jobsFailed: value.jobs_failed, tokensGenerated: value.tokens_generated,
            tokensPerSecond: value.tokens_per_second, uptimeMs: value.uptime_ms,
            faults: FaultStats(
                jobsCancelled: value.jobs_cancelled, slowClientCancels: value.slow_client_cancels,
                workerFaults: value.worker_faults, retries: value.retries, refusedPeers: value.refused_peers))
    }

    // MARK: - Fields

    static func required<T>(_ pointer: UnsafeMutablePointer<T>?, _ field: String) throws(WireError)
        -> UnsafeMutablePointer<T>
    {
        guard let pointer else { throw .missingField(field) }
        return pointer
    }

    /// A proto3 string; protobuf-c does not validate UTF-8, so it is checked here.
    static func string(_ pointer: UnsafeMutablePointer<CChar>?, _ field: String) throws(WireError) -> String {
        guard let pointer else { return "" }
        let length = strlen(pointer)
        let units = UnsafeRawPointer(pointer).bindMemory(to: UInt8.self, capacity: length)
        guard let value = String(validating: UnsafeBufferPointer(start: units, count: length), as: UTF8.self) else {
            throw .invalidUTF8(field: field, bytes: length)
        }
        return value
    }

    /// An enum field checked against the schema (proto3 enums are open; protobuf-c keeps unknown numbers).
    private static func enumValue<E: RawRepresentable<Int32>, Raw: BinaryInteger>(
        _ raw: Raw, _ field: String
    ) throws(WireError) -> E {
        let number = Int32(truncatingIfNeeded: raw)
        guard let value = E(rawValue: number) else { throw .unknownEnumValue(field: field, value: number) }
        return value
    }

    private static func ints(_ pointer: UnsafeMutablePointer<Int32>?, _ count: Int) -> [Int32] {
        count == 0 ? [] : Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    private static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        data.len == 0 ? [] : Array(UnsafeBufferPointer(start: data.data, count: data.len))
    }
}
