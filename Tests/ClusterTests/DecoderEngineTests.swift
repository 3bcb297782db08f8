import Foundation
import Generation
import Models
import TestSupport
import Testing
import Wire

@testable import Cluster

/// A decoder worker's compute side on a `projector.runs_on: decoder` bundle, fed real encodings made by the encoder
/// side of real bundles: it projects Hw itself, and refuses an encoding that is not what its bundle's encoder ships
/// (another width, dtype or `projected` flag) with an error naming both, while the other jobs carry on.
@Suite(.timeLimit(.minutes(1))) struct DecoderEngineTests {
    static let decoderSide = TestPaths.fixture("bundles/t5-add-decoder")
    static let encoderSide = TestPaths.fixture("bundles/t5-add")
    static let text = "the big dog sees a cat"

    /// The wire form of `encoding` as an encoder service sends it.
    static func message(_ ids: [Int32], _ encoding: [Float], width: Int, dtype: WireDType, projected: Bool) throws
        -> Encoding
    {
        let tensor = try Tensor(
            dtype: DType(dtype), shape: [ids.count, width],
            bytes: Frame(WireRounding.narrow(encoding, to: dtype)))
        return Encoding(requestID: "e", promptHash: [], promptIDs: ids, tensor: tensor, projected: projected)
    }

    @Test func encodingsOfTheOtherPlacementAreRefusedNamingBothAndTheGoodJobEqualsInProcess() throws {
        let bundle = try L2SBundle.load(directory: Self.decoderSide)
        let encoder = try PromptEncoder(bundle: bundle)
        let ids = try encoder.tokenize(Self.text)
        let hidden = try #require(try encoder.encode([ids]).first)  // H [m, 32]
        // A `runs_on: encoder` bundle's encoder ships Z [m, 24], projected.
        let z = try #require(
            try PromptEncoder(bundle: try L2SBundle.load(directory: Self.encoderSide)).encode([ids]).first)
        let m = ids.count
        let jobs: [(String, Encoding)] = [
            ("z-shaped", try Self.message(ids, z, width: 24, dtype: .float16, projected: true)),
            ("flagged-projected", try Self.message(ids, hidden, width: 32, dtype: .float16, projected: true)),
            ("float32", try Self.message(ids, hidden, width: 32, dtype: .float32, projected: false)),
            ("good", try Self.message(ids, hidden, width: 32, dtype: .float16, projected: false)),
        ]

        let engine = DecoderEngine(
            slm: try ConditionedSLM(bundle: bundle), slots: 4,
            log: ServiceLog(component: "decoder-test"))
        let outbox = WorkerOutbox(wake: {})
        engine.start(outbox: outbox)
        defer { engine.stop() }
        for (name, encoding) in jobs {
            engine.handle(
                .decodeJob(
                    DecodeJob(
                        request: GenerateRequest(requestID: name, prompt: .tokenIDs(ids), maxNewTokens: 8),
                        encoding: encoding)))
        }
        var errors: [String: ErrorReply] = [:]
        var final: TokenChunk?
        var streamed: [Int32] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while final == nil && ContinuousClock.now < deadline {
            for message in outbox.drain() {
                switch message {
                case .error(let reply): errors[reply.requestID] = reply
                case .tokenChunk(let chunk):
                    #expect(chunk.requestID == "good")
                    streamed += chunk.ids
                    if chunk.finishReason != .unspecified { final = chunk }
                default: break
                }
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(Set(errors.keys) == ["z-shaped", "flagged-projected", "float32"])
        #expect(errors.values.allSatisfy { $0.code == .badRequest })
        let needed =
            "needs float16 [\(m), 32], projected false (runs_on decoder: Hw, 32 floats (d_llm) per prompt position)"
        #expect(
            errors["z-shaped"]?.message == "the job's encoding is float16 [\(m), 24], projected true; this decoder's "
                + "bundle \(needed)")
        #expect(errors["flagged-projected"]?.message.contains("float16 [\(m), 32], projected true;") == true)
        #expect(errors["float32"]?.message.contains("float32 [\(m), 32], projected false;") == true)

        // The good job: the ids `l2s run --bundle` (BundleGenerator) produces, and the reference's.
        #expect(try #require(final).finishReason == .length)
        let inProcess = try BundleGenerator(bundle: bundle).generate(
            promptIDs: ids, options: GenerationOptions(maxNewTokens: 8))
        #expect(streamed == inProcess.ids)
        #expect(streamed == (try ExpectedPrompt.load(bundle: "t5-add-decoder")[0].greedyIDs))
    }

    /// Jobs arriving while another streams are admitted a few prompt tokens per step (here one job per step), so the
    /// running job (streamed, so its tokens go every step) keeps getting a token every step; every job still gets
    /// exactly its in-process ids.
    @Test func newJobsArePrefilledBetweenStepsOfRunningOnes() throws {
        let bundle = try L2SBundle.load(directory: Self.encoderSide)
        let encoder = try PromptEncoder(bundle: bundle)
        let ids = try encoder.tokenize(Self.text)
        let z = try #require(try encoder.encode([ids]).first)
        let encoding = try Self.message(ids, z, width: 24, dtype: .float16, projected: true)
        let engine = DecoderEngine(
            slm: try ConditionedSLM(bundle: bundle), slots: 4, prefillTokensPerStep: 1,
            log: ServiceLog(component: "decoder-test"))
        let outbox = WorkerOutbox(wake: {})
        engine.start(outbox: outbox)
        defer { engine.stop() }
        func post(_ id: String, tokens: UInt32) {
            engine.handle(
                .decodeJob(
                    DecodeJob(
                        request: GenerateRequest(
                            requestID: id, prompt: .tokenIDs(ids),
                            maxNewTokens: tokens, minNewTokens: tokens, stream: true), encoding: encoding)))
        }
        var steps: [[TokenChunk]] = []
        func collect(until done: () -> Bool) {
            let deadline = ContinuousClock.now + .seconds(30)
            while !done() && ContinuousClock.now < deadline {
                for message in outbox.drain() {
                    if case .tokenChunk(let chunk) = message { steps.append([chunk]) }
                    if case .tokenChunks(let chunks) = message { steps.append(chunks) }
                }
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
        post("long", tokens: 3000)
        collect { !steps.isEmpty }
        for id in ["b", "c", "d"] { post(id, tokens: 6) }
        collect { steps.joined().filter { $0.finishReason != .unspecified }.count == 4 }
        func firstStep(_ id: String) -> Int? { steps.firstIndex { $0.contains { $0.requestID == id } } }
        let starts = try ["b", "c", "d"].map { try #require(firstStep($0)) }
        #expect(starts[0] < starts[1] && starts[1] < starts[2], "new jobs start in arrival order: \(starts)")
        // With a budget of one prompt token a step, each step runs one prefill unit (a T5 SLM encoder block, then
        // the decoder start): a job's prefill is spread over that many steps of the running ones.
        let units =
            try #require((try ConditionedSLM(bundle: bundle).model as? T5Model)?.configuration.encoderLayers) + 1
        #expect(starts[1] - starts[0] >= units && starts[2] - starts[1] >= units, "\(units) units a job: \(starts)")
        let running = steps[starts[0]...starts[2]]
        #expect(running.allSatisfy { $0.contains { $0.requestID == "long" } }, "'long' gets a token every step")
        let chunks = steps.joined()
        for (id, count) in [("long", 3000), ("b", 6), ("c", 6), ("d", 6)] {
            let streamed = chunks.filter { $0.requestID == id }.flatMap(\.ids)
            let inProcess = try BundleGenerator(bundle: bundle).generate(
                promptIDs: ids,
                options: GenerationOptions(maxNewTokens: count, minNewTokens: count))
            #expect(streamed == inProcess.ids, "\(id)")
        }
    }

    /// A router is a peer like any other: decode jobs with every numeric field out of range (0, huge, NaN, too
    /// many or too long stop strings) each get a BAD_REQUEST naming the field, and the decoder keeps serving.
    @Test func decodeJobsWithFieldsOutOfRangeAreRefusedAndTheDecoderServesOn() throws {
        let bundle = try L2SBundle.load(directory: Self.encoderSide)
        let encoder = try PromptEncoder(bundle: bundle)
        let ids = try encoder.tokenize(Self.text)
        let z = try #require(try encoder.encode([ids]).first)
        let encoding = try Self.message(ids, z, width: 24, dtype: .float16, projected: true)
        let bad: [(String, GenerateRequest, String)] = [
            ("zero", GenerateRequest(requestID: "zero", prompt: .tokenIDs(ids), maxNewTokens: 0), "max_new_tokens"),
            (
                "min-above-max",
                GenerateRequest(
                    requestID: "min-above-max", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    minNewTokens: 3), "min_new_tokens"
            ),
            (
                "nan-temperature",
                GenerateRequest(
                    requestID: "nan-temperature", prompt: .tokenIDs(ids),
                    maxNewTokens: 2, sampling: SamplingParams(greedy: false, temperature: .nan)), "temperature"
            ),
            (
                "huge-penalty",
                GenerateRequest(
                    requestID: "huge-penalty", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    sampling: SamplingParams(repetitionPenalty: .greatestFiniteMagnitude)), "repetition_penalty"
            ),
            (
                "nan-presence",
                GenerateRequest(
                    requestID: "nan-presence", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    sampling: SamplingParams(presencePenalty: .nan)), "presence_penalty"
            ),
            (
                "huge-ngram",
                GenerateRequest(
                    requestID: "huge-ngram", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    sampling: SamplingParams(noRepeatNGramSize: .max)), "no_repeat_ngram_size"
            ),
            (
                "five-stops",
                GenerateRequest(
                    requestID: "five-stops", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    stop: ["a", "b", "c", "d", "e"]), "stop"
            ),
            (
                "huge-beams",
                GenerateRequest(
                    requestID: "huge-beams", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    beams: BeamParams(numBeams: .max)), "num_beams"
            ),
            (
                "nan-length-penalty",
                GenerateRequest(
                    requestID: "nan-length-penalty", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    beams: BeamParams(numBeams: 2, lengthPenalty: .nan)), "length_penalty"
            ),
            (
                "more-returned-than-beams",
                GenerateRequest(
                    requestID: "more-returned-than-beams", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    beams: BeamParams(numBeams: 2, numReturnSequences: 3)), "num_return_sequences"
            ),
            (
                "sampled-beams",
                GenerateRequest(
                    requestID: "sampled-beams", prompt: .tokenIDs(ids), maxNewTokens: 2,
                    sampling: SamplingParams(greedy: false, temperature: 0.7), beams: BeamParams(numBeams: 2)),
                "num_beams"
            ),
        ]
        let engine = DecoderEngine(
            slm: try ConditionedSLM(bundle: bundle), slots: 2, log: ServiceLog(component: "decoder-test"))
        let outbox = WorkerOutbox(wake: {})
        engine.start(outbox: outbox)
        defer { engine.stop() }
        for (_, request, _) in bad { engine.handle(.decodeJob(DecodeJob(request: request, encoding: encoding))) }
        let good = GenerateRequest(requestID: "good", prompt: .tokenIDs(ids), maxNewTokens: 5, minNewTokens: 5)
        engine.handle(.decodeJob(DecodeJob(request: good, encoding: encoding)))
        var errors: [String: ErrorReply] = [:]
        var streamed: [Int32] = []
        var finished = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !finished && ContinuousClock.now < deadline {
            for message in outbox.drain() {
                switch message {
                case .error(let reply): errors[reply.requestID] = reply
                case .tokenChunk(let chunk):
                    streamed += chunk.ids
                    finished = finished || chunk.finishReason != .unspecified
                default: break
                }
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        for (id, _, field) in bad {
            #expect(errors[id]?.code == .badRequest, "\(id)")
            #expect(errors[id]?.message.contains(field) == true, "\(id): \(errors[id]?.message ?? "no error")")
        }
        let inProcess = try BundleGenerator(bundle: bundle).generate(
            promptIDs: ids, options: GenerationOptions(maxNewTokens: 5, minNewTokens: 5))
        #expect(streamed == inProcess.ids)
    }

    /// A beam job holds one slot per beam, sends nothing until it ends, then one chunk with the best sequence: the
    /// one `l2s run --bundle --num-beams` gives; a plain job batched beside it is unaffected, and every slot comes
    /// back as credit. A beam job offered resume ids is refused (it streamed nothing, so it restarts).
    @Test func aBeamJobHoldsItsRowsAndEqualsInProcess() throws {
        let bundle = try L2SBundle.load(directory: Self.encoderSide)
        let generator = try BundleGenerator(bundle: bundle)
        let ids = try generator.tokenize(Self.text)
        let z = try #require(try generator.encoder.encode([ids]).first)
        let encoding = try Self.message(ids, z, width: 24, dtype: .float16, projected: true)
        let beams = BeamParams(numBeams: 3, lengthPenalty: 0.5, earlyStopping: .always)
        let engine = DecoderEngine(
            slm: try ConditionedSLM(bundle: bundle), slots: 4, log: ServiceLog(component: "decoder-test"))
        let outbox = WorkerOutbox(wake: {})
        engine.start(outbox: outbox)
        defer { engine.stop() }
        let requests = [
            GenerateRequest(requestID: "beam", prompt: .tokenIDs(ids), maxNewTokens: 9, beams: beams),
            GenerateRequest(requestID: "plain", prompt: .tokenIDs(ids), maxNewTokens: 9),
        ]
        for request in requests { engine.handle(.decodeJob(DecodeJob(request: request, encoding: encoding))) }
        var resumed = requests[0]
        resumed.requestID = "beam-resumed"
        engine.handle(.decodeJob(DecodeJob(request: resumed, encoding: encoding, resumeIDs: [5])))
        var chunks: [String: [TokenChunk]] = [:]
        var errors: [String: ErrorReply] = [:]
        var credits = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while credits < 7 && ContinuousClock.now < deadline {
            for message in outbox.drain() {
                switch message {
                case .tokenChunk(let chunk): chunks[chunk.requestID, default: []].append(chunk)
                case .tokenChunks(let batch): for chunk in batch { chunks[chunk.requestID, default: []].append(chunk) }
                case .error(let reply): errors[reply.requestID] = reply
                case .credit(let credit): credits += Int(credit.credits)
                default: break
                }
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        #expect(credits == 7, "3 beam rows, 1 plain job, 3 rows of the refused beam job (its resume ids)")
        #expect(errors["beam-resumed"]?.message.contains("resume_ids") == true)
        let beamChunks = chunks["beam"] ?? []
        #expect(beamChunks.count == 1, "a beam job sends one chunk, at its end")
        let options = GenerationOptions(
            maxNewTokens: 9, beams: BeamOptions(numBeams: 3, lengthPenalty: 0.5, earlyStopping: .always))
        let inProcess = try generator.generate(promptIDs: ids, options: options)
        #expect(beamChunks.first?.ids == inProcess.ids)
        #expect(beamChunks.first?.textDelta == inProcess.text)
        #expect(beamChunks.first?.usage?.completionTokens == UInt32(inProcess.ids.count))
        let plain = try generator.generate(promptIDs: ids, options: GenerationOptions(maxNewTokens: 9))
        #expect((chunks["plain"] ?? []).flatMap(\.ids) == plain.ids)
    }
}
