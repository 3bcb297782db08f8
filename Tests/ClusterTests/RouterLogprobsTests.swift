import Cluster
import Testing
import Wire

/// The router and `logprobs` (GenerateRequest field 13, TokenChunk field 6): it refuses out-of-range requests,
/// relays a streamed job's entries with its chunks, gathers a non-streamed job's into its final chunk, and refuses
/// a decoder's chunk whose entries do not match its ids (untrusted input), with the precise reason.
extension RouterCoreTests {
    /// Submits one job asking for `top` alternatives and answers its encode; the decode job as the decoder sees it.
    func logprobsJob(_ router: RouterCore, top: UInt32 = 2, stream: Bool) throws -> (Outgoing, DecodeJob) {
        let request = GenerateRequest(
            requestID: "r1", prompt: .text("hello"), maxNewTokens: 4, stream: stream, logprobs: top)
        var out = router.receive(.generate(request), from: client, on: .clients, now: start)
        if let encode = encodes(out).first?.1 {
            out = router.receive(try encoding(for: encode), from: encoder, on: .encoders, now: start)
        }
        return try #require(decodeJobs(out).first)
    }

    static func entry(_ id: Int32, _ logprob: Float = -0.5) -> ChunkLogprob {
        ChunkLogprob(
            id: id, logprob: logprob, top: [ChunkTopLogprob(id: id, logprob: logprob, text: "t\(id)")], text: "t\(id)")
    }

    @Test(arguments: [
        (
            GenerateRequest(requestID: "x", prompt: .text("hi"), maxNewTokens: 4, logprobs: 21),
            "logprobs must be in 0...20, got 21"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4, beams: BeamParams(numBeams: 2), logprobs: 1),
            "logprobs cannot be combined with beam search (beams.num_beams 2)"
        ),
    ])
    func logprobsOutOfRangeAreRefused(request: GenerateRequest, message: String) {
        let out = core().receive(.generate(request), from: client, on: .clients, now: start)
        guard case .error(let error) = out.first?.message else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .badRequest && error.message == message)
    }

    @Test func streamedChunksCarryTheirLogprobsAndTheFinalChunkGathersThemOtherwise() throws {
        for stream in [true, false] {
            let router = pinned()
            hello(router, encoder, .encoders)
            hello(router, decoderA, .decoders)
            let (assigned, job) = try logprobsJob(router, stream: stream)
            #expect(job.request.logprobs == 2)
            let id = job.request.requestID
            var out = router.receive(
                .tokenChunk(TokenChunk(requestID: id, ids: [7], textDelta: "a", logprobs: [Self.entry(7)])),
                from: assigned.peer, on: .decoders, now: start)
            #expect(chunks(out).first?.1.logprobs == (stream ? [Self.entry(7)] : nil))
            out = router.receive(
                .tokenChunk(
                    TokenChunk(
                        requestID: id, ids: [1], finishReason: .eos, usage: Usage(promptTokens: 2, completionTokens: 2),
                        logprobs: [Self.entry(1, -1)])), from: assigned.peer, on: .decoders, now: start)
            let final = try #require(chunks(out).last?.1)
            #expect(final.finishReason == .eos)
            #expect(final.logprobs == (stream ? [] : [Self.entry(7), Self.entry(1, -1)]), "stream \(stream)")
        }
    }

    @Test(arguments: [
        (TokenChunk(requestID: "", ids: [7, 8], logprobs: [entry(7)]), "token_chunk.logprobs has 1 entries for 2 ids"),
        (TokenChunk(requestID: "", ids: [7], logprobs: []), "token_chunk.logprobs has 0 entries for 1 ids"),
        (TokenChunk(requestID: "", ids: [7], logprobs: [entry(8)]), "token_chunk.logprobs[0].id is 8; ids[0] is 7"),
        (
            TokenChunk(
                requestID: "", ids: [7],
                logprobs: [ChunkLogprob(id: 7, logprob: 0, top: [entry(1).top[0], entry(2).top[0], entry(3).top[0]])]),
            "token_chunk.logprobs[0] has 3 alternatives; the job asked for 2"
        ),
    ])
    func chunksWhoseLogprobsDoNotMatchTheirIdsNeverReachTheClient(forged: TokenChunk, problem: String) throws {
        let router = pinned()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        hello(router, decoderB, .decoders, credits: 1)
        let (assigned, job) = try logprobsJob(router, stream: true)
        var chunk = forged
        chunk.requestID = job.request.requestID
        let out = router.receive(.tokenChunk(chunk), from: assigned.peer, on: .decoders, now: start)
        #expect(out.allSatisfy { $0.link != .clients }, "nothing of the forged chunk reaches the client")
        #expect(decodeJobs(out).first?.0.peer != assigned.peer, "the job resumes on the other decoder")
        #expect(router.statistics(now: start).faults.workerFaults == 1)
        #expect(router.drainNotices().contains { $0.contains(problem) }, "\(router.drainNotices())")
    }

    @Test func aResumedJobsFinalChunkHasTheEntriesOfBothDecoders() throws {
        let router = pinned()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        let (_, job) = try logprobsJob(router, stream: false)
        _ = router.receive(
            .tokenChunk(TokenChunk(requestID: job.request.requestID, ids: [7], logprobs: [Self.entry(7)])),
            from: decoderA, on: .decoders, now: start)
        hello(router, decoderB, .decoders, credits: 1)
        let out = router.receive(
            .error(ErrorReply(code: .internal, message: "oops", requestID: job.request.requestID)), from: decoderA,
            on: .decoders, now: start)
        let resumed = try #require(decodeJobs(out).first)
        #expect(resumed.0.peer == decoderB && resumed.1.resumeIDs == [7] && resumed.1.request.logprobs == 2)
        let end = router.receive(
            .tokenChunk(
                TokenChunk(
                    requestID: resumed.1.request.requestID, ids: [1], finishReason: .eos,
                    usage: Usage(promptTokens: 2, completionTokens: 2), logprobs: [Self.entry(1)])),
            from: decoderB, on: .decoders, now: start)
        let final = try #require(chunks(end).last?.1)
        #expect(final.ids == [7, 1] && final.logprobs == [Self.entry(7), Self.entry(1)])
    }

    @Test func aJobWithoutLogprobsRefusesAChunkWithThem() throws {
        let router = pinned()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        let (assigned, job) = try jobOnDecoder(router)
        let chunk = TokenChunk(requestID: job.request.requestID, ids: [7], logprobs: [Self.entry(7)])
        let out = router.receive(.tokenChunk(chunk), from: assigned.peer, on: .decoders, now: start)
        #expect(out.allSatisfy { $0.link != .clients })
        #expect(router.statistics(now: start).faults.workerFaults == 1)
    }
}
