import Cluster
import Testing
import Wire

/// Draining, as the router decides it: a worker that says goodbye with `draining` gets no more work and its credits
/// are ignored, its jobs stay with it until its final goodbye, then resume elsewhere; a draining router refuses new
/// jobs and ends the unfinished ones with a clear error. The processes are tested in
/// clients/python/tests/test_drain.py.
@Suite struct RouterDrainTests {
    let base = RouterCoreTests()

    /// A router with an encoder and decoder A (one slot), one streamed job on A with token 9 streamed.
    func jobOnA() throws -> (RouterCore, DecodeJob) {
        let router = base.core()
        base.hello(router, base.encoder, .encoders)
        base.hello(router, base.decoderA, .decoders, credits: 1)
        var out = router.receive(base.generate("r1", stream: true), from: base.client, on: .clients, now: base.start)
        let encode = try #require(base.encodes(out).first?.1)
        out = router.receive(try base.encoding(for: encode), from: base.encoder, on: .encoders, now: base.start)
        let job = try #require(base.decodeJobs(out).first?.1)
        _ = router.receive(
            .tokenChunk(TokenChunk(requestID: job.request.requestID, ids: [9], textDelta: "x")),
            from: base.decoderA, on: .decoders, now: base.start)
        return (router, job)
    }

    @Test func aDrainingDecoderKeepsItsJobGetsNoNewOneAndHandsBackTheRestWithItsGoodbye() throws {
        let (router, job) = try jobOnA()
        let now = base.start
        let echo = router.receive(
            .goodbye(Goodbye(reason: "SIGTERM", draining: true)), from: base.decoderA,
            on: .decoders, now: now)
        #expect(echo.count == 1 && echo[0].peer == base.decoderA)
        guard case .goodbye(let noted) = echo.first?.message else {
            Issue.record("expected the drain to be echoed, got \(echo)")
            return
        }
        #expect(noted.draining)
        // Credits of a draining worker are void: a second job waits in the queue, and B takes it once it joins.
        _ = router.receive(.credit(Credit(credits: 4)), from: base.decoderA, on: .decoders, now: now)
        let second = router.receive(base.generate("r2"), from: base.client, on: .clients, now: now)
        #expect(base.decodeJobs(second).isEmpty)
        #expect(router.queueDepth == 1)
        // A's job is still A's: a chunk from it reaches the client.
        let relayed = router.receive(
            .tokenChunk(TokenChunk(requestID: job.request.requestID, ids: [4])),
            from: base.decoderA, on: .decoders, now: now)
        #expect(base.chunks(relayed).first?.1.ids == [4])
        base.hello(router, base.decoderB, .decoders, credits: 2)
        #expect(router.queueDepth == 0)
        // A's final goodbye hands its job back: it resumes on B from the streamed tokens [9, 4].
        let out = router.receive(
            .goodbye(Goodbye(reason: "drain bound passed")), from: base.decoderA, on: .decoders,
            now: now)
        let resumed = try #require(base.decodeJobs(out).first)
        #expect(resumed.0.peer == base.decoderB && resumed.1.resumeIDs == [9, 4])
    }

    @Test func aDrainingRouterRefusesNewJobsAndEndsTheUnfinishedOnesWithTheReason() throws {
        let (router, _) = try jobOnA()
        router.beginDrain()
        let refused = router.receive(base.generate("late"), from: base.client, on: .clients, now: base.start)
        guard case .error(let error) = refused.first?.message else {
            Issue.record("expected an error for a job submitted while draining, got \(refused)")
            return
        }
        #expect(error.code == .unavailable && error.requestID == "late" && error.message.contains("shutting down"))
        #expect(router.unfinishedJobs == 1)
        let ended = router.failUnfinished(after: .seconds(2), now: base.start)
        let toClient = ended.filter { $0.link == .clients }
        guard toClient.count == 1, case .error(let failure) = toClient[0].message else {
            Issue.record("expected one error to the client, got \(ended)")
            return
        }
        #expect(failure.code == .unavailable && failure.requestID == "r1")
        #expect(failure.message.contains("router shut down") && failure.message.contains("1 tokens generated"))
        #expect(base.cancels(ended).first?.0.peer == base.decoderA)
        #expect(router.unfinishedJobs == 0)
    }
}
