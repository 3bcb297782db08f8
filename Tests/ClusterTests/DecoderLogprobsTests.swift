import Foundation
import Generation
import Models
import TestSupport
import Testing
import Wire

@testable import Cluster

extension DecoderEngineTests {
    /// A job asking for logprobs gets one entry per id in each chunk, equal to `l2s run --bundle --logprobs`'s, each
    /// id with the SLM tokenizer's text; a job resumed after failover sends the entries of its new ids only (the
    /// router holds the earlier ones), equal to the uninterrupted run's.
    @Test func chunksCarryTheLogprobsOfInProcessGeneration() throws {
        let bundle = try L2SBundle.load(directory: Self.encoderSide)
        let generator = try BundleGenerator(bundle: bundle)
        let ids = try generator.tokenize(Self.text)
        let z = try #require(try generator.encoder.encode([ids]).first)
        let encoding = try Self.message(ids, z, width: 24, dtype: .float16, projected: true)
        let inProcess = try generator.generate(promptIDs: ids, options: GenerationOptions(maxNewTokens: 6, logprobs: 2))
        let expected = try #require(inProcess.logprobs)
        #expect(expected.count == inProcess.ids.count && expected.allSatisfy { $0.top.count == 2 })

        let engine = DecoderEngine(
            slm: try ConditionedSLM(bundle: bundle), slots: 4, log: ServiceLog(component: "decoder-test"))
        let outbox = WorkerOutbox(wake: {})
        engine.start(outbox: outbox)
        defer { engine.stop() }
        let request = GenerateRequest(requestID: "whole", prompt: .tokenIDs(ids), maxNewTokens: 6, logprobs: 2)
        var resumed = request
        resumed.requestID = "resumed"
        engine.handle(.decodeJob(DecodeJob(request: request, encoding: encoding)))
        engine.handle(
            .decodeJob(DecodeJob(request: resumed, encoding: encoding, resumeIDs: Array(inProcess.ids[..<2]))))
        var chunks: [String: [TokenChunk]] = [:]
        var finished = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while finished < 2 && ContinuousClock.now < deadline {
            for message in outbox.drain() {
                var batch: [TokenChunk] = []
                if case .tokenChunk(let chunk) = message { batch = [chunk] }
                if case .tokenChunks(let many) = message { batch = many }
                for chunk in batch {
                    chunks[chunk.requestID, default: []].append(chunk)
                    if chunk.finishReason != .unspecified { finished += 1 }
                }
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        let whole = chunks["whole"] ?? []
        #expect(whole.allSatisfy { $0.logprobs.count == $0.ids.count })
        let entries = whole.flatMap(\.logprobs)
        #expect(LogprobConversion.generation(entries) == expected)
        let tokenizer = generator.slm.tokenizer
        #expect(entries.allSatisfy { $0.text == tokenizer.text(of: $0.id) && !$0.text.isEmpty })
        #expect(entries.flatMap(\.top).allSatisfy { $0.text == tokenizer.text(of: $0.id) })
        let tail = (chunks["resumed"] ?? []).flatMap(\.logprobs)
        #expect(LogprobConversion.generation(tail) == Array(expected.dropFirst(2)))
    }
}
