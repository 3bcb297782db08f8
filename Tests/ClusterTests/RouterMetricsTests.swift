import Cluster
import Metrics
import Testing
import Wire

/// The router's event counters (workers joined and lost, failovers) and the trace id's way to the workers, driven
/// message by message through `RouterCore` with instants the test chooses; the exposition is read as Prometheus
/// would read it.
@Suite struct RouterMetricsTests {
    let client = PeerIdentity([1])
    let encoder = PeerIdentity([2])
    let decoderA = PeerIdentity([3])
    let decoderB = PeerIdentity([4])
    let fingerprints = Fingerprints(
        llm: String(repeating: "a", count: 64), projector: String(repeating: "b", count: 64),
        slm: String(repeating: "c", count: 64), tokenizer: String(repeating: "d", count: 64))
    let spec = EncodingSpec(dtype: .float32, width: 2, projected: true)
    let start = ContinuousClock.now

    func join(_ core: RouterCore, _ peer: PeerIdentity, _ link: Link, at now: ContinuousClock.Instant) {
        let role: Role = link == .encoders ? .encoder : .decoder
        _ = core.receive(
            .hello(
                Hello(
                    role: role, workerID: "\(link)-\(peer)", fingerprints: fingerprints, capacity: 1,
                    encoding: spec)),
            from: peer, on: link, now: now)
        _ = core.receive(.credit(Credit(credits: 1)), from: peer, on: link, now: now)
    }

    @Test func aDeadDecoderCountsAsLostAndItsJobAsOneFailoverCarryingItsTraceID() throws {
        let registry = MetricsRegistry()
        let router = RouterCore(
            configuration: RouterConfiguration(), now: start, metrics: RouterMetrics(registry: registry))
        #expect(registry.sample(#"l2s_failovers_total{reason="worker_lost"}"#) == 0)
        join(router, encoder, .encoders, at: start)
        join(router, decoderA, .decoders, at: start)
        var out = router.receive(
            .generate(
                GenerateRequest(
                    requestID: "r1", prompt: .text("hello"), maxNewTokens: 4, stream: true, traceID: "trace-9")),
            from: client, on: .clients, now: start)
        let encode = try #require(
            out.compactMap { if case .encodeRequest(let r) = $0.message { r } else { nil } }.first)
        #expect(encode.traceID == "trace-9", "the encoder logs the request whose miss asked for the encode")
        let tensor = try Tensor(dtype: .float32, shape: [2, 2], bytes: Frame(Array([0, 0, 0x80, 0x3f].repeated(4))))
        out = router.receive(
            .encoding(
                Encoding(
                    requestID: encode.requestID, promptHash: encode.promptHash, promptIDs: [5, 1],
                    tensor: tensor)),
            from: encoder, on: .encoders, now: start)
        let job = try #require(out.compactMap { if case .decodeJob(let j) = $0.message { j } else { nil } }.first)
        #expect(job.request.traceID == "trace-9", "the decoder logs the job under the client's trace id")
        _ = router.receive(
            .tokenChunk(TokenChunk(requestID: job.request.requestID, ids: [9], textDelta: "x")),
            from: decoderA, on: .decoders, now: start)

        // B joins; A (and the silent encoder) fall silent past the liveness window: A's job resumes on B.
        let later = start + .seconds(10)
        join(router, decoderB, .decoders, at: later)
        out = router.tick(now: later)
        let resumed = try #require(out.compactMap { if case .decodeJob(let j) = $0.message { j } else { nil } }.first)
        #expect(resumed.resumeIDs == [9] && resumed.request.traceID == "trace-9")
        #expect(registry.sample(#"l2s_failovers_total{reason="worker_lost"}"#) == 1)
        #expect(registry.sample(#"l2s_failovers_total{reason="worker_fault"}"#) == 0)
        #expect(registry.sample(#"l2s_workers_joined_total{role="decoder"}"#) == 2)
        #expect(registry.sample(#"l2s_workers_lost_total{role="decoder",reason="silent"}"#) == 1)
        #expect(registry.sample(#"l2s_workers_lost_total{role="encoder",reason="silent"}"#) == 1)

        // B fails the job with an error: a fault, and with no other decoder left the job has nowhere to go yet.
        _ = router.receive(
            .error(ErrorReply(code: .internal, message: "boom", requestID: resumed.request.requestID)),
            from: decoderB, on: .decoders, now: later)
        #expect(registry.sample(#"l2s_failovers_total{reason="worker_fault"}"#) == 0, "counted when placed")
        _ = router.receive(.goodbye(Goodbye(reason: "bye")), from: decoderB, on: .decoders, now: later)
        #expect(registry.sample(#"l2s_workers_lost_total{role="decoder",reason="goodbye"}"#) == 1)
        join(router, decoderA, .decoders, at: later)
        #expect(registry.sample(#"l2s_failovers_total{reason="worker_fault"}"#) == 1)
    }
}
