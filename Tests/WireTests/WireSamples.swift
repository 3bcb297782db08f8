import Wire

/// One message of every body kind, every field non-default somewhere. Must stay identical to `samples()`
/// in clients/python/tests/interop_peer.py, which checks Swift's encoding of these field by field.
enum WireSamples {
    static let promptHash: [UInt8] = Array(0..<32)
    static let text = "Translate: Grüße, 世界 🌍"

    /// Deterministic bytes; `pattern` in interop_peer.py computes the same.
    static func pattern(_ count: Int, seed: Int) -> Frame {
        Frame((0..<count).map { UInt8((($0 * 7) + seed) % 256) })
    }

    static let generateText = GenerateRequest(
        requestID: "req-1", prompt: .text(text), maxNewTokens: 32, minNewTokens: 2,
        sampling: SamplingParams(
            greedy: false, temperature: 0.75, topK: 40, topP: 0.5, seed: 12_345_678_901_234, repetitionPenalty: 1.25),
        stop: ["\n\n", "END"], deadlineUnixMs: 1_732_400_009_999, tenantSalt: [0, 1, 2, 255], stream: true,
        traceID: "trace-7 checkout/42")

    static let generateIDs = GenerateRequest(
        requestID: "req-2", prompt: .tokenIDs([0, 1, 2_147_483_647, -1, 250_001]), maxNewTokens: 4)

    static func encoding(
        _ requestID: String, hash: [UInt8], ids: [Int32], dtype: DType, width: Int, seed: Int,
        projected: Bool
    ) throws -> Encoding {
        let tensor = try Tensor(
            dtype: dtype, shape: [ids.count, width], bytes: pattern(ids.count * width * dtype.elementSize, seed: seed))
        return Encoding(requestID: requestID, promptHash: hash, promptIDs: ids, tensor: tensor, projected: projected)
    }

    static func all() throws -> [Message] {
        [
            .hello(
                Hello(
                    role: .decoder, workerID: "decoder-1",
                    fingerprints: Fingerprints(
                        llm: String(repeating: "a1", count: 32), projector: String(repeating: "b2", count: 32),
                        slm: String(repeating: "c3", count: 32), tokenizer: String(repeating: "d4", count: 32)),
                    capacity: 8, heartbeatIntervalMs: 500, software: "l2s 0.1.0",
                    encoding: EncodingSpec(dtype: .float16, width: 32, projected: true), kernels: "avx2")),
            .heartbeat(Heartbeat(sentAtUnixMs: 1_732_400_000_123)),
            .credit(Credit(credits: 5)),
            .generate(generateText),
            .generate(generateIDs),
            .cancel(Cancel(requestID: "req-1")),
            .encodeRequest(
                EncodeRequest(requestID: "req-1", promptHash: promptHash, prompt: .text(text), traceID: "trace-7")),
            .encodeRequest(EncodeRequest(requestID: "req-2", promptHash: promptHash, prompt: .tokenIDs([5, 6, 7]))),
            .encoding(
                try encoding(
                    "req-1", hash: promptHash, ids: [13, 8, 21], dtype: .float16, width: 4, seed: 3, projected: true)),
            .encoding(
                try encoding("req-4", hash: [], ids: [99], dtype: .float32, width: 5, seed: 11, projected: false)),
            .decodeJob(
                DecodeJob(
                    request: generateIDs,
                    encoding: try encoding(
                        "req-2", hash: Array(promptHash.prefix(8)), ids: [1, 2], dtype: .bfloat16, width: 3, seed: 5,
                        projected: true),
                    resumeIDs: [7, 8, 9])),
            .tokenChunk(
                TokenChunk(
                    requestID: "req-1", ids: [42, 7], textDelta: "Grüße", finishReason: .length,
                    usage: Usage(promptTokens: 3, completionTokens: 2, cachedEncoding: true))),
            .tokenChunk(TokenChunk(requestID: "req-2", ids: [9], textDelta: " world")),
            .tokenChunks([
                TokenChunk(requestID: "j1", ids: [3], textDelta: "a"),
                TokenChunk(
                    requestID: "j2", ids: [1], finishReason: .eos, usage: Usage(promptTokens: 4, completionTokens: 9)),
            ]),
            .error(ErrorReply(code: .overloaded, message: "queue full: 64 of 64", requestID: "req-3")),
            .statsRequest(StatsRequest()),
            .statsReply(
                StatsReply(
                    workers: [
                        WorkerStats(
                            workerID: "encoder-1", role: .encoder, capacity: 4, credits: 3, outstanding: 1,
                            jobsDone: 10,
                            lastSeenMsAgo: 120),
                        WorkerStats(workerID: "decoder-1", role: .decoder, capacity: 8, jobsDone: 1 << 40),
                    ],
                    queueDepth: 3, maxQueue: 64,
                    cache: CacheStats(
                        hits: 7, misses: 2, evictions: 1, entries: 5, bytes: 1 << 33, capacityBytes: 1 << 34,
                        coalesced: 4),
                    jobsDone: 17, jobsFailed: 1, tokensGenerated: 123_456, tokensPerSecond: 123.5,
                    uptimeMs: 987_654_321,
                    faults: FaultStats(
                        jobsCancelled: 3, slowClientCancels: 2, workerFaults: 5, retries: 4,
                        refusedPeers: 1)
                )),
            .goodbye(Goodbye(reason: "shutdown")),
            .goodbye(Goodbye(reason: "draining 3 jobs", draining: true)),
        ]
    }
}
