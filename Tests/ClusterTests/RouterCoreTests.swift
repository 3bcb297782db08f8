import Cluster
import Testing
import Wire

/// The router's decisions, driven message by message with instants the test chooses. The real-socket
/// behaviour (RouterService with worker processes) is covered by the end-to-end tests.
@Suite struct RouterCoreTests {
    let client = PeerIdentity([1])
    let encoder = PeerIdentity([2])
    let decoderA = PeerIdentity([3])
    let decoderB = PeerIdentity([4])
    let fingerprints = Fingerprints(
        llm: String(repeating: "1", count: 64), projector: String(repeating: "2", count: 64),
        slm: String(repeating: "3", count: 64), tokenizer: String(repeating: "4", count: 64))
    /// The encodings of the test's bundle: float32 [m, 2], projected.
    let spec = EncodingSpec(dtype: .float32, width: 2, projected: true)
    let start = ContinuousClock.now

    func core(maxQueue: Int = 8, cacheBytes: Int = 1 << 20) -> RouterCore {
        var configuration = RouterConfiguration()
        configuration.maxQueue = maxQueue
        configuration.cacheBytes = cacheBytes
        return RouterCore(configuration: configuration, now: start)
    }

    func hello(_ core: RouterCore, _ peer: PeerIdentity, _ link: Link, credits: UInt32 = 2) {
        let role: Role = link == .encoders ? .encoder : .decoder
        _ = core.receive(
            .hello(
                Hello(
                    role: role, workerID: "\(link)-\(peer)", fingerprints: fingerprints,
                    capacity: credits, encoding: spec)), from: peer, on: link, now: start)
        _ = core.receive(.credit(Credit(credits: credits)), from: peer, on: link, now: start)
    }

    func generate(_ id: String, _ text: String = "hello", stream: Bool = false) -> Message {
        .generate(GenerateRequest(requestID: id, prompt: .text(text), maxNewTokens: 4, stream: stream))
    }

    func encoding(for request: EncodeRequest) throws -> Message {
        // 1.0 as float32, four times: a finite, non-zero encoding of two prompt ids.
        let tensor = try Tensor(dtype: .float32, shape: [2, 2], bytes: Frame(Array([0, 0, 0x80, 0x3f].repeated(4))))
        return .encoding(
            Encoding(
                requestID: request.requestID, promptHash: request.promptHash, promptIDs: [5, 1],
                tensor: tensor))
    }

    func encodes(_ out: [Outgoing]) -> [(Outgoing, EncodeRequest)] {
        out.compactMap { if case .encodeRequest(let r) = $0.message { ($0, r) } else { nil } }
    }
    func decodeJobs(_ out: [Outgoing]) -> [(Outgoing, DecodeJob)] {
        out.compactMap { if case .decodeJob(let j) = $0.message { ($0, j) } else { nil } }
    }
    func chunks(_ out: [Outgoing]) -> [(Outgoing, TokenChunk)] {
        out.compactMap { if case .tokenChunk(let c) = $0.message { ($0, c) } else { nil } }
    }
    func cancels(_ out: [Outgoing]) -> [(Outgoing, Cancel)] {
        out.compactMap { if case .cancel(let c) = $0.message { ($0, c) } else { nil } }
    }

    @Test func jobFlowsThroughEncoderAndDecoderAndRepeatsHitTheCache() throws {
        let router = core()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders)
        var out = router.receive(generate("r1"), from: client, on: .clients, now: start)
        let asked = encodes(out)
        try #require(asked.count == 1)
        #expect(asked[0].0.peer == encoder)

        out = router.receive(try encoding(for: asked[0].1), from: encoder, on: .encoders, now: start)
        let jobs = decodeJobs(out)
        try #require(jobs.count == 1)
        #expect(jobs[0].0.peer == decoderA)
        let internalID = jobs[0].1.request.requestID

        out = router.receive(
            .tokenChunk(
                TokenChunk(
                    requestID: internalID, ids: [7, 8], textDelta: "ab",
                    finishReason: .eos)), from: decoderA, on: .decoders, now: start)
        let finals = chunks(out)
        try #require(finals.count == 1)
        #expect(finals[0].0.peer == client)
        #expect(finals[0].1.requestID == "r1" && finals[0].1.ids == [7, 8] && finals[0].1.textDelta == "ab")
        #expect(finals[0].1.finishReason == .eos && finals[0].1.usage?.cachedEncoding == false)

        // The same prompt again: no encode request, straight to a decoder.
        _ = router.receive(.credit(Credit(credits: 1)), from: decoderA, on: .decoders, now: start)
        out = router.receive(generate("r2"), from: client, on: .clients, now: start)
        #expect(encodes(out).isEmpty)
        #expect(decodeJobs(out).count == 1)
        let stats = router.statistics(now: start).cache
        #expect(stats.hits == 1 && stats.misses == 1)
    }

    /// A repeated prompt goes to the decoder its last job went to (which keeps the prompt's started sequence), even
    /// when another decoder is as idle; other prompts still balance by load.
    @Test func aRepeatedPromptGoesToTheDecoderThatStartedItLast() throws {
        let router = core()
        hello(router, encoder, .encoders, credits: 4)
        hello(router, decoderA, .decoders, credits: 4)
        hello(router, decoderB, .decoders, credits: 4)
        func run(_ id: String, _ text: String) throws -> PeerIdentity {
            var out = router.receive(generate(id, text), from: client, on: .clients, now: start)
            if let asked = encodes(out).first {
                out = router.receive(try encoding(for: asked.1), from: encoder, on: .encoders, now: start)
            }
            let job = try #require(decodeJobs(out).first)
            _ = router.receive(
                .tokenChunk(TokenChunk(requestID: job.1.request.requestID, ids: [7], finishReason: .eos)),
                from: job.0.peer, on: .decoders, now: start)
            _ = router.receive(.credit(Credit(credits: 1)), from: job.0.peer, on: .decoders, now: start)
            return job.0.peer
        }
        // Balancing by load alone would alternate (the idle decoder that waited longest gets the next job).
        let first = try run("r1", "hello")
        #expect(try run("r2", "hello") == first)
        let other = try run("r3", "bye")
        #expect(other != first, "a new prompt goes to the decoder that waited longest")
        #expect(try run("r4", "bye") == other)
        #expect(try run("r5", "hello") == first)
    }

    @Test func identicalPromptsInFlightAreEncodedOnce() throws {
        let router = core()
        hello(router, encoder, .encoders, credits: 4)
        hello(router, decoderA, .decoders, credits: 4)
        var asked: [EncodeRequest] = []
        for index in 0..<3 {
            let out = router.receive(generate("r\(index)"), from: client, on: .clients, now: start)
            asked += encodes(out).map(\.1)
        }
        try #require(asked.count == 1)
        let out = router.receive(try encoding(for: asked[0]), from: encoder, on: .encoders, now: start)
        #expect(decodeJobs(out).count == 3)
        #expect(router.statistics(now: start).cache.coalesced == 2)
    }

    @Test func deadDecoderWorkResumesElsewhereFromTheStreamedTokens() throws {
        let router = core()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        var out = router.receive(generate("r1", stream: true), from: client, on: .clients, now: start)
        let encode = try #require(encodes(out).first?.1)
        out = router.receive(try encoding(for: encode), from: encoder, on: .encoders, now: start)
        let job = try #require(decodeJobs(out).first?.1)
        out = router.receive(
            .tokenChunk(TokenChunk(requestID: job.request.requestID, ids: [9], textDelta: "x")),
            from: decoderA, on: .decoders, now: start)
        #expect(chunks(out).first?.1.ids == [9])

        // B joins; A falls silent. After the liveness window the job moves to B with resume_ids [9].
        let later = start + .seconds(10)
        _ = router.receive(
            .hello(
                Hello(
                    role: .decoder, workerID: "b", fingerprints: fingerprints, capacity: 1,
                    encoding: spec)),
            from: decoderB, on: .decoders, now: later)
        _ = router.receive(.credit(Credit(credits: 1)), from: decoderB, on: .decoders, now: later)
        out = router.tick(now: later)
        let resumed = decodeJobs(out)
        try #require(resumed.count == 1)
        #expect(resumed[0].0.peer == decoderB && resumed[0].1.resumeIDs == [9])
        // A late chunk from A is ignored; B's chunks reach the client.
        #expect(
            router.receive(
                .tokenChunk(TokenChunk(requestID: job.request.requestID, ids: [1])),
                from: decoderA, on: .decoders, now: later
            ).allSatisfy { $0.link != .clients })
        out = router.receive(
            .tokenChunk(
                TokenChunk(
                    requestID: resumed[0].1.request.requestID, ids: [10],
                    finishReason: .eos)), from: decoderB, on: .decoders, now: later)
        let final = try #require(chunks(out).last?.1)
        #expect(final.finishReason == .eos && final.usage?.completionTokens == 2)
    }

    /// A beam job streams nothing before it ends, so a failover restarts it: on another decoder, with its beams,
    /// no resume ids, and as many credits there as beams.
    @Test func aBeamJobWhoseDecoderDiesRestartsWholeOnAnother() throws {
        let router = core()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 3)
        let request = GenerateRequest(
            requestID: "b", prompt: .text("hello"), maxNewTokens: 4, stream: true, beams: BeamParams(numBeams: 3))
        var out = router.receive(.generate(request), from: client, on: .clients, now: start)
        let encode = try #require(encodes(out).first?.1)
        out = router.receive(try encoding(for: encode), from: encoder, on: .encoders, now: start)
        #expect(decodeJobs(out).first?.0.peer == decoderA)

        let later = start + .seconds(10)
        _ = router.receive(
            .hello(Hello(role: .decoder, workerID: "b", fingerprints: fingerprints, capacity: 4, encoding: spec)),
            from: decoderB, on: .decoders, now: later)
        _ = router.receive(.credit(Credit(credits: 4)), from: decoderB, on: .decoders, now: later)
        out = router.tick(now: later)
        let resumed = try #require(decodeJobs(out).first)
        #expect(resumed.0.peer == decoderB && resumed.1.resumeIDs.isEmpty)
        #expect(resumed.1.request.beams == request.beams)
        #expect(router.statistics(now: later).workers.first { $0.workerID == "b" }?.credits == 1)
    }

    @Test func fullQueueRefusesAtOnceWithOverloaded() {
        let router = core(maxQueue: 2)
        // No workers at all: jobs wait, and the third is refused.
        _ = router.receive(generate("a", "1"), from: client, on: .clients, now: start)
        _ = router.receive(generate("b", "2"), from: client, on: .clients, now: start)
        let out = router.receive(generate("c", "3"), from: client, on: .clients, now: start)
        guard case .error(let error) = out.first?.message else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .overloaded && error.requestID == "c")
    }

    @Test(arguments: [
        (GenerateRequest(requestID: "x", prompt: .text(""), maxNewTokens: 4), ErrorCode.badRequest, "empty"),
        (GenerateRequest(requestID: "x", prompt: .text("hi"), maxNewTokens: 0), .badRequest, "max_new_tokens"),
        (
            GenerateRequest(requestID: "x", prompt: .text("hi"), maxNewTokens: 4, minNewTokens: 5), .badRequest,
            "min_new_tokens"
        ),
        (GenerateRequest(requestID: "x", prompt: .tokenIDs([1, -3]), maxNewTokens: 4), .badRequest, "negative"),
        (
            GenerateRequest(requestID: "x", prompt: .text(String(repeating: "a", count: 300_000)), maxNewTokens: 4),
            .promptTooLong, "bytes"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4,
                sampling: SamplingParams(greedy: false, temperature: -1)), .badRequest, "temperature"
        ),
        (GenerateRequest(requestID: "", prompt: .text("hi"), maxNewTokens: 4), .badRequest, "request_id"),
        (
            GenerateRequest(requestID: "x", prompt: .text("hi"), maxNewTokens: 4, traceID: "two\nlines"), .badRequest,
            "trace_id"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4, traceID: String(repeating: "t", count: 129)),
            .badRequest, "trace_id"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4,
                sampling: SamplingParams(greedy: true, repetitionPenalty: 11)), .badRequest, "repetition_penalty"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4,
                sampling: SamplingParams(greedy: true, presencePenalty: -2.5)), .badRequest, "presence_penalty"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4,
                sampling: SamplingParams(greedy: true, noRepeatNGramSize: 65)), .badRequest, "no_repeat_ngram_size"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4, stop: ["a", "b", "c", "d", "e"]), .badRequest,
            "stop sequences"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4,
                beams: BeamParams(numBeams: 2, numReturnSequences: 2)), .badRequest, "num_return_sequences"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4, beams: BeamParams(numBeams: 17)), .badRequest,
            "num_beams"
        ),
        (
            GenerateRequest(
                requestID: "x", prompt: .text("hi"), maxNewTokens: 4, stop: ["a"], beams: BeamParams(numBeams: 2)),
            .badRequest, "stop"
        ),
    ])
    func badRequestsAreRefusedWithThePreciseReason(request: GenerateRequest, code: ErrorCode, mentions: String) {
        let router = core()
        let out = router.receive(.generate(request), from: client, on: .clients, now: start)
        guard case .error(let error) = out.first?.message else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == code)
        #expect(error.message.contains(mentions), "\(error.message)")
    }

    @Test func workerWithAnotherBundleIsRefused() {
        let router = core()
        hello(router, encoder, .encoders)
        var other = fingerprints
        other.slm = String(repeating: "e", count: 64)
        _ = router.receive(
            .hello(
                Hello(
                    role: .decoder, workerID: "d", fingerprints: fingerprints, capacity: 1,
                    encoding: spec)),
            from: decoderA, on: .decoders, now: start)
        other.llm = String(repeating: "f", count: 64)
        let out = router.receive(
            .hello(
                Hello(
                    role: .decoder, workerID: "bad", fingerprints: other, capacity: 1,
                    encoding: spec)),
            from: decoderB, on: .decoders, now: start)
        guard case .error(let error) = out.first?.message else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .bundleMismatch)
        #expect(router.statistics(now: start).workers.count == 2)
    }

    /// A beam job takes one decoder credit per beam: it waits (and the jobs behind it wait) until one decoder has
    /// that many free, and fails at once, naming the slots, when no decoder could ever hold it.
    @Test func beamJobsTakeOneCreditPerBeamAndWaitForThem() throws {
        let router = core()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 4)
        func beams(_ id: String, _ count: UInt32) -> Message {
            .generate(
                GenerateRequest(
                    requestID: id, prompt: .text("hello"), maxNewTokens: 4, beams: BeamParams(numBeams: count)))
        }
        var out = router.receive(generate("p1"), from: client, on: .clients, now: start)
        let asked = encodes(out)
        try #require(asked.count == 1)
        _ = router.receive(beams("b4", 4), from: client, on: .clients, now: start)
        _ = router.receive(generate("p2"), from: client, on: .clients, now: start)
        out = router.receive(try encoding(for: asked[0].1), from: encoder, on: .encoders, now: start)
        // p1 takes 1 of 4 credits; b4 needs 4, so it waits and p2 waits behind it.
        var jobs = decodeJobs(out)
        try #require(jobs.count == 1)
        let p1 = jobs[0].1.request.requestID
        #expect(router.statistics(now: start).workers.first { $0.role == .decoder }?.credits == 3)

        out = router.receive(
            .tokenChunk(TokenChunk(requestID: p1, ids: [7], finishReason: .eos)), from: decoderA, on: .decoders,
            now: start)
        out += router.receive(.credit(Credit(credits: 1)), from: decoderA, on: .decoders, now: start)
        jobs = decodeJobs(out)
        try #require(jobs.count == 1)
        #expect(jobs[0].1.request.beams?.numBeams == 4)
        #expect(router.statistics(now: start).workers.first { $0.role == .decoder }?.credits == 0)

        // Its final chunk and 4 credits back: p2 runs.
        out = router.receive(
            .tokenChunk(TokenChunk(requestID: jobs[0].1.request.requestID, ids: [7, 8], finishReason: .eos)),
            from: decoderA, on: .decoders, now: start)
        out += router.receive(.credit(Credit(credits: 4)), from: decoderA, on: .decoders, now: start)
        #expect(decodeJobs(out).count == 1)
        #expect(router.statistics(now: start).workers.first { $0.role == .decoder }?.credits == 3)

        // Five beams never fit a four-slot decoder.
        out = router.receive(beams("b5", 5), from: client, on: .clients, now: start)
        guard case .error(let error) = out.first(where: { $0.peer == client })?.message else {
            Issue.record("expected an error, got \(out.map(\.message))")
            return
        }
        #expect(error.code == .badRequest && error.requestID == "b5")
        #expect(error.message.contains("needs 5 decoder slots; the largest decoder has 4"), "\(error.message)")
    }

    @Test func cancelFreesTheDecoderSlot() throws {
        let router = core()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        var out = router.receive(generate("r1"), from: client, on: .clients, now: start)
        let encode = try #require(encodes(out).first?.1)
        out = router.receive(try encoding(for: encode), from: encoder, on: .encoders, now: start)
        let job = try #require(decodeJobs(out).first?.1)
        out = router.receive(.cancel(Cancel(requestID: "r1")), from: client, on: .clients, now: start)
        #expect(cancels(out).first?.1.requestID == job.request.requestID)
        #expect(chunks(out).first?.1.finishReason == .cancelled)
        #expect(router.statistics(now: start).workers.first { $0.role == .decoder }?.outstanding == 0)
    }

    @Test func messagesOnTheWrongSocketGetAnError() {
        let router = core()
        let out = router.receive(.credit(Credit(credits: 1)), from: client, on: .clients, now: start)
        guard case .error(let error) = out.first?.message else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .badRequest)
        let fromStranger = router.receive(.credit(Credit(credits: 1)), from: decoderA, on: .decoders, now: start)
        guard case .error(let stranger) = fromStranger.first?.message else {
            Issue.record("expected an error")
            return
        }
        #expect(stranger.message.contains("hello"))
    }
}

extension Array {
    /// The array's elements `count` times over.
    func repeated(_ count: Int) -> [Element] { (0..<count).flatMap { _ in self } }
}
