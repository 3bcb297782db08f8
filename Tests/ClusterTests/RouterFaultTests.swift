import Cluster
import Foundation
import Generation
import Testing
import Wire

/// The router against peers that lie, fail or stall (issue 15), message by message: nothing a peer sends can
/// trap it, pin the wrong bundle, poison the cache, or fail a job that another worker could serve.
extension RouterCoreTests {
    func errors(_ out: [Outgoing]) -> [(Outgoing, ErrorReply)] {
        out.compactMap { if case .error(let e) = $0.message { ($0, e) } else { nil } }
    }

    func pinned(_ configure: (inout RouterConfiguration) -> Void = { _ in }) -> RouterCore {
        var configuration = RouterConfiguration()
        configuration.bundle = .pinned(BundleIdentity(fingerprints: fingerprints, encoding: spec))
        configure(&configuration)
        return RouterCore(configuration: configuration, now: start)
    }

    /// Submits one job and answers its encode; returns the decode job as the decoder sees it.
    func jobOnDecoder(_ router: RouterCore, _ id: String = "r1", stream: Bool = true) throws -> (Outgoing, DecodeJob) {
        var out = router.receive(generate(id, stream: stream), from: client, on: .clients, now: start)
        if let encode = encodes(out).first?.1 {
            out = router.receive(try encoding(for: encode), from: encoder, on: .encoders, now: start)
        }
        return try #require(decodeJobs(out).first)
    }

    @Test(arguments: [UInt64(1) << 63, UInt64.max, UInt64(Int64.max)])
    func farDeadlinesDoNotTrap(deadline: UInt64) {
        let router = pinned()
        var request = GenerateRequest(requestID: "far", prompt: .text("hi"), maxNewTokens: 4)
        request.deadlineUnixMs = deadline
        let out = router.receive(.generate(request), from: client, on: .clients, now: start)
        #expect(errors(out).isEmpty, "a far deadline is accepted as none")
        #expect(router.queueDepth == 1)
        #expect(router.tick(now: start + .seconds(3600)).allSatisfy { $0.link != .clients })
    }

    @Test func thePinnedBundleLocksOutARogueEncoderNotTheRealOne() {
        let router = pinned()
        var rogue = fingerprints
        rogue.llm = String(repeating: "9", count: 64)
        let refused = router.receive(
            .hello(
                Hello(
                    role: .encoder, workerID: "rogue", fingerprints: rogue, capacity: 1,
                    encoding: spec)), from: encoder, on: .encoders, now: start)
        #expect(errors(refused).first?.1.code == .bundleMismatch)
        hello(router, decoderA, .decoders)
        #expect(router.statistics(now: start).workers.map(\.workerID) == ["decoders-\(decoderA)"])
        #expect(router.statistics(now: start).faults.refusedPeers == 1)
        #expect(router.drainNotices().contains { $0.contains("rogue") && $0.contains("another bundle") })
    }

    @Test func anAdoptedBundleIsDroppedWhenItsLastWorkerLeaves() {
        let router = core()  // adopts the first worker's bundle
        var rogue = fingerprints
        rogue.llm = String(repeating: "9", count: 64)
        _ = router.receive(
            .hello(
                Hello(
                    role: .encoder, workerID: "rogue", fingerprints: rogue, capacity: 1,
                    encoding: spec)), from: encoder, on: .encoders, now: start)
        let refused = router.receive(
            .hello(
                Hello(
                    role: .decoder, workerID: "real", fingerprints: fingerprints,
                    capacity: 1, encoding: spec)), from: decoderA, on: .decoders, now: start)
        #expect(errors(refused).first?.1.code == .bundleMismatch)
        _ = router.receive(.goodbye(Goodbye(reason: "done")), from: encoder, on: .encoders, now: start)
        hello(router, decoderA, .decoders)
        hello(router, encoder, .encoders)
        #expect(router.statistics(now: start).workers.count == 2, "the real workers join once the rogue left")
    }

    @Test(arguments: [
        Fingerprints(), Fingerprints(llm: String(repeating: "1", count: 64)),
        Fingerprints(
            llm: String(repeating: "1", count: 64), projector: String(repeating: "2", count: 64),
            slm: String(repeating: "3", count: 64), tokenizer: "not hex"),
    ])
    func helloWithMissingFingerprintsIsRefused(announced: Fingerprints) {
        for router in [core(), pinned()] {
            let out = router.receive(
                .hello(
                    Hello(
                        role: .decoder, workerID: "partial", fingerprints: announced,
                        capacity: 4, encoding: spec)), from: decoderA, on: .decoders, now: start)
            #expect(errors(out).first?.1.code == .badRequest)
            #expect(errors(out).first?.1.message.contains("hello.fingerprints") == true)
            #expect(router.statistics(now: start).workers.isEmpty)
        }
    }

    @Test func helloWithoutAnEncodingSpecIsRefused() {
        let out = pinned().receive(
            .hello(
                Hello(
                    role: .encoder, workerID: "old", fingerprints: fingerprints,
                    capacity: 4)), from: encoder, on: .encoders, now: start)
        #expect(errors(out).first?.1.message.contains("hello.encoding") == true)
    }

    @Test func announcedSlotsAreCappedByConfiguration() {
        let router = pinned { $0.maxWorkerSlots = 3 }
        hello(router, decoderA, .decoders, credits: 1_000_000)
        let worker = router.statistics(now: start).workers[0]
        #expect(worker.capacity == 3 && worker.credits == 3)
    }

    /// Tensors no encoder of this bundle produces, each with the word its refusal must name.
    static let badTensors: [(DType, [Int], [UInt8], String)] = [
        (.float32, [2, 2], [0, 0, 0xc0, 0x7f] + Array([0, 0, 0x80, 0x3f].repeated(3)), "not finite"),  // NaN
        (.float32, [2, 2], [0, 0, 0x80, 0x7f] + Array([0, 0, 0x80, 0x3f].repeated(3)), "not finite"),  // +inf
        (.float32, [2, 2], [UInt8](repeating: 0, count: 16), "zero"),
        (.float32, [2, 1], Array([0, 0, 0x80, 0x3f].repeated(2)), "[2, 1]"),
        (.float16, [2, 2], [UInt8](repeating: 0x3c, count: 8), "float16"),
    ]

    @Test(arguments: 0..<badTensors.count)
    func invalidEncodingsAreRetriedOnAnotherEncoderAndNeverCached(index: Int) throws {
        let (dtype, shape, bytes, word) = Self.badTensors[index]
        let router = pinned()
        let encoderB = PeerIdentity([9])
        hello(router, encoder, .encoders)
        hello(router, encoderB, .encoders)
        hello(router, decoderA, .decoders)
        var out = router.receive(generate("r1"), from: client, on: .clients, now: start)
        let (first, request) = try #require(encodes(out).first)
        let bad = Encoding(
            requestID: request.requestID, promptHash: request.promptHash, promptIDs: [5, 1],
            tensor: try Tensor(dtype: dtype, shape: shape, bytes: Frame(bytes)))
        out = router.receive(.encoding(bad), from: first.peer, on: .encoders, now: start)
        #expect(errors(out).isEmpty, "the client is not blamed for the encoder's fault")
        let retry = try #require(encodes(out).first)
        #expect(retry.0.peer != first.peer)
        #expect(router.drainNotices().contains { $0.contains(word) }, "the fault names '\(word)'")
        #expect(router.statistics(now: start).cache.entries == 0)
        out = router.receive(try encoding(for: retry.1), from: retry.0.peer, on: .encoders, now: start)
        #expect(decodeJobs(out).count == 1)
        #expect(router.statistics(now: start).faults.workerFaults == 1)
        #expect(router.statistics(now: start).faults.retries == 1)
    }

    @Test func anEncoderThatKeepsFailingEndsInUnavailableNotBadRequest() throws {
        let router = pinned { $0.maxAttempts = 2 }
        hello(router, encoder, .encoders, credits: 4)
        var out = router.receive(generate("r1"), from: client, on: .clients, now: start)
        for _ in 0..<2 {
            let (_, request) = try #require(encodes(out).first)
            out = router.receive(
                .error(ErrorReply(code: .internal, message: "boom", requestID: request.requestID)),
                from: encoder, on: .encoders, now: start)
        }
        let failure = try #require(errors(out).first)
        #expect(failure.0.peer == client && failure.1.code == .unavailable && failure.1.requestID == "r1")
        #expect(failure.1.message.contains("boom"))
    }

    @Test func aDecoderErrorResumesTheJobElsewhereFromTheStreamedTokens() throws {
        let router = pinned()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        let (_, job) = try jobOnDecoder(router)
        let id = job.request.requestID
        _ = router.receive(
            .tokenChunk(TokenChunk(requestID: id, ids: [7], textDelta: "a")), from: decoderA,
            on: .decoders, now: start)
        hello(router, decoderB, .decoders, credits: 1)
        let out = router.receive(
            .error(ErrorReply(code: .internal, message: "oops", requestID: id)), from: decoderA,
            on: .decoders, now: start)
        #expect(errors(out).isEmpty)
        #expect(cancels(out).first?.0.peer == decoderA)
        let resumed = try #require(decodeJobs(out).first)
        #expect(resumed.0.peer == decoderB && resumed.1.resumeIDs == [7])
    }

    @Test(arguments: [
        TokenChunk(requestID: "", ids: [1, 2, 3, 4, 5]),  // more than max_new_tokens 4
        TokenChunk(requestID: "", ids: [-1]),
        TokenChunk(requestID: "", ids: [1], finishReason: .cancelled),
        TokenChunk(requestID: "", ids: [1], finishReason: .length),  // length after 1 of 4 tokens
    ])
    func forgedChunksNeverReachTheClient(forged: TokenChunk) throws {
        let router = pinned()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        hello(router, decoderB, .decoders, credits: 1)
        let (assigned, job) = try jobOnDecoder(router)
        var chunk = forged
        chunk.requestID = job.request.requestID
        let out = router.receive(.tokenChunk(chunk), from: assigned.peer, on: .decoders, now: start)
        #expect(out.allSatisfy { $0.link != .clients }, "nothing of the forged chunk reaches the client")
        #expect(decodeJobs(out).first?.0.peer != assigned.peer)
        #expect(router.statistics(now: start).faults.workerFaults == 1)
    }

    @Test func aFailingDecoderTripsItsBreakerAndGetsNoMoreJobs() throws {
        let router = pinned { $0.breakerThreshold = 2 }
        hello(router, encoder, .encoders, credits: 8)
        hello(router, decoderA, .decoders, credits: 8)
        hello(router, decoderB, .decoders, credits: 8)
        var sentTo: [PeerIdentity] = []
        for index in 0..<8 {
            let (assigned, job) = try jobOnDecoder(router, "r\(index)")
            sentTo.append(assigned.peer)
            if assigned.peer == decoderA {
                _ = router.receive(
                    .error(
                        ErrorReply(
                            code: .internal, message: "fail fast",
                            requestID: job.request.requestID)), from: decoderA, on: .decoders, now: start)
            }
        }
        #expect(sentTo.filter { $0 == decoderA }.count == 2, "two faults open A's breaker: \(sentTo)")
        #expect(router.drainNotices().contains { $0.contains("no work") })
    }

    @Test func aStalledDecoderLosesItsJobAfterTheStallTimeout() throws {
        let router = pinned { $0.stallTimeout = .seconds(5) }
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        let (_, job) = try jobOnDecoder(router)
        hello(router, decoderB, .decoders, credits: 1)
        // A heart-beats but never answers.
        let later = start + .seconds(6)
        _ = router.receive(.heartbeat(Heartbeat(sentAtUnixMs: 0)), from: decoderA, on: .decoders, now: later)
        _ = router.receive(.heartbeat(Heartbeat(sentAtUnixMs: 0)), from: decoderB, on: .decoders, now: later)
        let out = router.tick(now: later)
        #expect(cancels(out).first?.1.requestID == job.request.requestID)
        #expect(decodeJobs(out).first?.0.peer == decoderB)
    }

    @Test func aBusyEncoderWorkingThroughItsQueueIsNotStalledButASilentOneIs() throws {
        let router = pinned { $0.stallTimeout = .seconds(30) }
        let encoderB = PeerIdentity([9])
        hello(router, encoder, .encoders, credits: 3)
        hello(router, decoderA, .decoders, credits: 8)
        var asked: [EncodeRequest] = []
        for index in 0..<3 {
            asked += encodes(
                router.receive(
                    generate("r\(index)", "prompt \(index)"), from: client, on: .clients,
                    now: start)
            ).map(\.1)
        }
        try #require(asked.count == 3)
        // One answer every 20 s: each encode waits up to 60 s in the queue, but the encoder never stalls.
        for (index, request) in asked.enumerated() {
            let now = start + .seconds(20 * (index + 1))
            _ = router.receive(.heartbeat(Heartbeat(sentAtUnixMs: 0)), from: encoder, on: .encoders, now: now)
            _ = router.receive(.heartbeat(Heartbeat(sentAtUnixMs: 0)), from: decoderA, on: .decoders, now: now)
            #expect(encodes(router.tick(now: now)).isEmpty)
            let out = router.receive(try encoding(for: request), from: encoder, on: .encoders, now: now)
            for (_, job) in decodeJobs(out) {  // the decoder answers at once: only the encoder is on trial
                _ = router.receive(
                    .tokenChunk(
                        TokenChunk(
                            requestID: job.request.requestID, ids: [1],
                            finishReason: .eos)), from: decoderA, on: .decoders, now: now)
            }
        }
        #expect(router.statistics(now: start).faults.workerFaults == 0)
        // Now it holds a new encode and answers nothing for 30 s: the encode goes to B.
        _ = router.receive(.credit(Credit(credits: 1)), from: encoder, on: .encoders, now: start + .seconds(60))
        let held = router.receive(
            generate("late", "another prompt"), from: client, on: .clients, now: start + .seconds(60))
        #expect(encodes(held).first?.0.peer == encoder)
        let later = start + .seconds(91)
        hello(router, encoderB, .encoders)
        for peer in [encoder, encoderB] {
            _ = router.receive(.heartbeat(Heartbeat(sentAtUnixMs: 0)), from: peer, on: .encoders, now: later)
        }
        _ = router.receive(.heartbeat(Heartbeat(sentAtUnixMs: 0)), from: decoderA, on: .decoders, now: later)
        #expect(encodes(router.tick(now: later)).first?.0.peer == encoderB)
    }

    @Test func aJobResumesOnlyOnADecoderOfTheKernelVariantThatStartedIt() throws {
        let router = pinned { $0.stallTimeout = .seconds(5) }
        let decoderC = PeerIdentity([7])
        hello(router, encoder, .encoders, credits: 8)
        func join(_ peer: PeerIdentity, _ variant: String, credits: UInt32) {
            _ = router.receive(
                .hello(
                    Hello(
                        role: .decoder, workerID: "\(variant)-\(peer)", fingerprints: fingerprints,
                        capacity: 4, encoding: spec, kernels: variant)), from: peer, on: .decoders, now: start)
            _ = router.receive(.credit(Credit(credits: credits)), from: peer, on: .decoders, now: start)
        }
        join(decoderA, "avx2", credits: 1)
        let (assigned, job) = try jobOnDecoder(router, "r1")
        try #require(assigned.peer == decoderA)
        join(decoderC, "avx2", credits: 4)
        #expect(try jobOnDecoder(router, "busy").0.peer == decoderC)
        join(decoderB, "baseline", credits: 4)  // idle: balancing alone would pick it
        _ = router.receive(
            .tokenChunk(TokenChunk(requestID: job.request.requestID, ids: [4])), from: decoderA,
            on: .decoders, now: start)
        let out = router.receive(.goodbye(Goodbye(reason: "")), from: decoderA, on: .decoders, now: start)
        // The same job under its next attempt's id: `<internal id>#2`.
        func sameJob(_ id: String) -> Bool {
            id.split(separator: "#").first == job.request.requestID.split(separator: "#").first
        }
        let resumed = try #require(decodeJobs(out).first { sameJob($0.1.request.requestID) })
        #expect(resumed.0.peer == decoderC && resumed.1.resumeIDs == [4], "same variant, not the idler B")
        // C goes too: only B (baseline) is left, so the job waits, then fails rather than change its numbers.
        let gone = router.receive(.goodbye(Goodbye(reason: "")), from: decoderC, on: .decoders, now: start)
        #expect(!decodeJobs(gone).contains { sameJob($0.1.request.requestID) })
        _ = router.receive(
            .heartbeat(Heartbeat(sentAtUnixMs: 0)), from: decoderB, on: .decoders, now: start + .seconds(6))
        _ = router.receive(
            .heartbeat(Heartbeat(sentAtUnixMs: 0)), from: encoder, on: .encoders, now: start + .seconds(6))
        let failed = errors(router.tick(now: start + .seconds(6))).map(\.1)
        #expect(failed.contains { $0.code == .unavailable && $0.message.contains("kernel variant 'avx2'") })
    }

    @Test func aJobRetriedOnTheSameDecoderIgnoresLateChunksOfItsEarlierAttempt() throws {
        let router = pinned()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 2)
        let (_, first) = try jobOnDecoder(router)
        var out = router.receive(
            .error(ErrorReply(code: .internal, message: "hiccup", requestID: first.request.requestID)),
            from: decoderA, on: .decoders, now: start)
        let retry = try #require(decodeJobs(out).first)
        #expect(retry.0.peer == decoderA && retry.1.request.requestID != first.request.requestID)
        #expect(cancels(out).first?.1.requestID == first.request.requestID, "only the old attempt is cancelled")
        out = router.receive(
            .tokenChunk(TokenChunk(requestID: first.request.requestID, ids: [3], textDelta: "x")),
            from: decoderA, on: .decoders, now: start)
        #expect(out.allSatisfy { $0.link != .clients }, "a late chunk of the first attempt is not the job's")
        out = router.receive(
            .tokenChunk(TokenChunk(requestID: retry.1.request.requestID, ids: [4], textDelta: "y")),
            from: decoderA, on: .decoders, now: start)
        #expect(chunks(out).first?.1.ids == [4])
    }

    @Test func aDecoderSayingThePromptIsTooLongEndsTheJobAtOnce() throws {
        let router = pinned()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders)
        hello(router, decoderB, .decoders)
        let (assigned, job) = try jobOnDecoder(router)
        let out = router.receive(
            .error(
                ErrorReply(
                    code: .promptTooLong, message: "13 > 8 positions",
                    requestID: job.request.requestID)), from: assigned.peer, on: .decoders, now: start)
        #expect(decodeJobs(out).isEmpty && errors(out).first?.1.code == .promptTooLong)
        #expect(router.statistics(now: start).faults.workerFaults == 0)
    }

    @Test func aCancelledJobsEncodeIsDroppedWhenNoEncoderHasItYet() {
        let router = pinned()
        _ = router.receive(generate("r1", "a prompt nobody needs"), from: client, on: .clients, now: start)
        _ = router.receive(.cancel(Cancel(requestID: "r1")), from: client, on: .clients, now: start)
        hello(router, encoder, .encoders)  // an encoder joins: there is nothing to encode
        #expect(router.statistics(now: start).workers.first?.outstanding == 0)
    }

    @Test func aSlowClientsJobsAreCancelledWithAnErrorAndCounted() throws {
        let router = pinned()
        hello(router, encoder, .encoders)
        hello(router, decoderA, .decoders, credits: 1)
        let (_, job) = try jobOnDecoder(router)
        let out = router.clientTooSlow(client, backlog: 20_001, now: start)
        #expect(cancels(out).first?.1.requestID == job.request.requestID)
        let error = try #require(errors(out).first?.1)
        #expect(error.code == .cancelled && error.requestID == "r1" && error.message.contains("unread"))
        #expect(router.statistics(now: start).faults.slowClientCancels == 1)
    }

    @Test func aTinyTemperatureSamplesTheLikeliestToken() {
        let sampler = TokenSampler(
            parameters: SamplingParameters(greedy: false, temperature: 1e-38, seed: 1),
            eosTokenIDs: [])
        let logits: [Float] = [0.5, 3, -1, 2.9]
        for step in 0..<20 { #expect(sampler.choose(from: logits, step: step) == 1) }
    }
}
