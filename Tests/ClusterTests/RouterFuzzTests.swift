import Cluster
import Foundation
import Generation
import Testing
import Wire

/// Every message a worker can send (hello, heartbeat, credit, goodbye, encoding, token chunk(s), error), with random
/// and extreme values in every field, from rogue workers that are members of a cluster with good jobs in flight.
/// Each message goes through the real codec first, so only what can cross the wire reaches the router. The router
/// must never trap, and every good job must still end: with a result, or with an error its client is told.
@Suite struct RouterFuzzTests {
    let fingerprints = Fingerprints(
        llm: String(repeating: "1", count: 64), projector: String(repeating: "2", count: 64),
        slm: String(repeating: "3", count: 64), tokenizer: String(repeating: "4", count: 64))
    let spec = EncodingSpec(dtype: .float16, width: 4, projected: true)

    static func pick<T>(_ values: [T], _ random: inout SplitMix64) -> T { values.randomElement(using: &random)! }

    func randomString(_ random: inout SplitMix64, known: [String]) -> String {
        Self.pick(
            [
                known.randomElement(using: &random) ?? "", "", "x", String(repeating: "z", count: 300),
                "🌍\u{0}é", fingerprints.llm,
            ], &random)
    }

    func randomIDs(_ random: inout SplitMix64) -> [Int32] {
        Self.pick(
            [
                [], [0], [-1], [Int32.max], [Int32.min, 5], Array(repeating: 3, count: 5000),
                (0..<Int.random(in: 1...6, using: &random)).map { _ in Int32.random(in: -2...40, using: &random) },
            ], &random)
    }

    func randomTensor(_ random: inout SplitMix64, rows: Int) throws -> Tensor {
        let dtype = Self.pick(DType.allCases, &random)
        let width = Self.pick([0, 1, 4, 5], &random)
        let shape = Self.pick([[rows, width], [rows], [rows, width, 1], [0, width]], &random)
        let count = shape.reduce(1, *) * dtype.elementSize
        let fill = Self.pick([UInt8(0), 0x3c, 0x7f, 0xff], &random)
        return try Tensor(dtype: dtype, shape: shape, bytes: Frame([UInt8](repeating: fill, count: count)))
    }

    /// A random message of a kind workers send, naming (often) work the worker really holds.
    func randomWorkerMessage(_ random: inout SplitMix64, role: Role, known: [String], hashes: [[UInt8]])
        throws -> Message
    {
        switch Int.random(in: 0..<7, using: &random) {
        case 0:
            var prints = fingerprints
            if Bool.random(using: &random) { prints.slm = randomString(&random, known: known) }
            return .hello(
                Hello(
                    role: Self.pick([role, .client, .router, .unspecified], &random),
                    workerID:
                        randomString(&random, known: known), fingerprints: prints,
                    capacity: Self.pick([0, 1, 7, UInt32.max], &random),
                    heartbeatIntervalMs: Self.pick([0, UInt32.max], &random),
                    encoding: Self.pick(
                        [spec, nil, EncodingSpec(dtype: nil, width: UInt32.max, projected: false)], &random)))
        case 1: return .heartbeat(Heartbeat(sentAtUnixMs: Self.pick([0, UInt64.max], &random)))
        case 2: return .credit(Credit(credits: Self.pick([0, 1, UInt32.max], &random)))
        case 3: return .goodbye(Goodbye(reason: randomString(&random, known: known)))
        case 4:
            let ids = randomIDs(&random)
            let hash = Self.pick(hashes + [[], [1, 2, 3]], &random)
            return .encoding(
                Encoding(
                    requestID: randomString(&random, known: known), promptHash: hash,
                    promptIDs: ids, tensor: try randomTensor(&random, rows: ids.count),
                    projected: Bool.random(using: &random)))
        case 5:
            let chunks = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                TokenChunk(
                    requestID: randomString(&random, known: known), ids: randomIDs(&random),
                    textDelta: randomString(&random, known: known),
                    finishReason: Self.pick(FinishReason.allCases, &random),
                    usage: Bool.random(using: &random) ? Usage(promptTokens: .max, completionTokens: .max) : nil)
            }
            return chunks.count == 1 ? .tokenChunk(chunks[0]) : .tokenChunks(chunks)
        default:
            return .error(
                ErrorReply(
                    code: Self.pick(ErrorCode.allCases, &random),
                    message: randomString(&random, known: known), requestID: randomString(&random, known: known)))
        }
    }

    /// Seeds: the first one, and four whose runs end jobs with final chunks inside a client's multi-chunk message
    /// (a sweep of 3,000 seeds found no trap and no lost job).
    @Test(arguments: [UInt64(0x15_0AD_F022), 40_634_951, 86_715_711, 98_340_630, 103_681_809])
    func rogueWorkersCannotTrapTheRouterOrLoseGoodJobs(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var configuration = RouterConfiguration()
        configuration.bundle = .pinned(BundleIdentity(fingerprints: fingerprints, encoding: spec))
        configuration.stallTimeout = .seconds(2)
        configuration.maxQueue = 10_000
        let start = ContinuousClock.now
        let router = RouterCore(configuration: configuration, now: start)
        let client = PeerIdentity([1])
        let (rogueEncoder, rogueDecoder) = (PeerIdentity([2]), PeerIdentity([3]))
        var now = start
        var known: [String] = []  // request ids and prompt hashes the rogues were sent
        var hashes: [[UInt8]] = []
        var submitted = 0
        var ended: Set<String> = []
        func note(_ out: [Outgoing]) {
            for item in out {
                switch item.message {
                case .encodeRequest(let request):
                    known.append(request.requestID)
                    hashes.append(request.promptHash)
                case .decodeJob(let job): known.append(job.request.requestID)
                case .tokenChunk(let chunk) where item.link == .clients && chunk.finishReason != .unspecified:
                    ended.insert(chunk.requestID)
                case .tokenChunks(let chunks) where item.link == .clients:
                    for chunk in chunks where chunk.finishReason != .unspecified { ended.insert(chunk.requestID) }
                case .error(let error) where item.link == .clients && !error.requestID.isEmpty:
                    ended.insert(error.requestID)
                default: break
                }
            }
            if known.count > 200 { known.removeFirst(100) }
            if hashes.count > 200 { hashes.removeFirst(100) }
        }
        func wire(_ message: Message) -> Message? {
            guard let frames = try? WireCodec.encode(message) else { return nil }
            return try? WireCodec.decode(frames)
        }
        /// A rogue that lost its membership (goodbye, refused hello, declared dead) joins again, as a real one would.
        func join(_ peer: PeerIdentity, _ link: Link, _ role: Role) {
            note(
                router.receive(
                    .hello(
                        Hello(
                            role: role, workerID: "rogue", fingerprints: fingerprints, capacity: 8,
                            encoding: spec)), from: peer, on: link, now: now))
            note(router.receive(.credit(Credit(credits: 8)), from: peer, on: link, now: now))
        }
        join(rogueEncoder, .encoders, .encoder)
        join(rogueDecoder, .decoders, .decoder)
        for step in 0..<6000 {
            now += .milliseconds(Int.random(in: 0...20, using: &random))
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                submitted += 1
                note(
                    router.receive(
                        .generate(
                            GenerateRequest(
                                requestID: "job\(submitted)",
                                prompt: .text("prompt \(submitted % 7)"), maxNewTokens: 4,
                                stream: Bool.random(using: &random))),
                        from: client, on: .clients, now: now))
            case 1:
                note(router.tick(now: now))
            default:
                let (peer, link, role) =
                    Bool.random(using: &random)
                    ? (rogueEncoder, Link.encoders, Role.encoder) : (rogueDecoder, .decoders, .decoder)
                guard let message = wire(try randomWorkerMessage(&random, role: role, known: known, hashes: hashes))
                else { continue }
                let out = router.receive(message, from: peer, on: link, now: now)
                note(out)
                let dropped = out.contains {
                    if case .error(let error) = $0.message {
                        error.code == .unavailable && $0.peer == peer
                    } else {
                        false
                    }
                }
                if dropped || Int.random(in: 0..<20, using: &random) == 0 { join(peer, link, role) }
            }
            if step % 500 == 0 { _ = router.drainNotices() }
        }
        // The rogues go; every job still in flight must end within its attempts and stall timeouts.
        note(router.receive(.goodbye(Goodbye(reason: "")), from: rogueEncoder, on: .encoders, now: now))
        note(router.receive(.goodbye(Goodbye(reason: "")), from: rogueDecoder, on: .decoders, now: now))
        #expect(submitted > 300)
        let pending = router.statistics(now: now).queueDepth
        #expect(Int(pending) + ended.count == submitted, "every job is either ended or waiting for a worker")
        let stats = router.statistics(now: now)
        #expect(ended.count > submitted / 2, "most jobs were answered (by rogues, or failed with an error)")
        #expect(
            stats.faults.workerFaults > 10 && stats.faults.retries > 0 && stats.faults.refusedPeers > 0,
            "\(stats.faults)")
    }
}
