import Foundation
import Generation
import Metrics
import Models
import TestSupport
import Testing
import Wire

@testable import Cluster

/// A decoder's prefill cache on real bundles (a T5 and a GPT-2 SLM): a repeated prompt starts from a fork of the
/// cached start and streams the ids of a fresh prefill, resumed jobs too; jobs of one prompt that arrive together
/// share one prefill; an entry never serves another key (another tenant) or other inputs under its key.
@Suite(.timeLimit(.minutes(1))) struct PrefillCacheTests {
    static let prompts = ["the big dog sees a cat", "a small cat"]

    /// One bundle's encoder side, to make real encodings, and the decoder engine under test.
    final class Harness {
        let bundle: L2SBundle
        let encoder: PromptEncoder
        let metrics = MetricsRegistry()
        let engine: DecoderEngine
        let outbox = WorkerOutbox(wake: {})
        var chunks: [TokenChunk] = []

        init(bundle name: String, streamPolicy: StreamPolicy = StreamPolicy()) throws {
            bundle = try L2SBundle.load(directory: TestPaths.fixture("bundles/\(name)"))
            encoder = try PromptEncoder(bundle: bundle)
            engine = DecoderEngine(
                slm: try ConditionedSLM(bundle: bundle), slots: 8, prefillCacheBytes: 64 << 20,
                streamPolicy: streamPolicy, metrics: metrics, log: ServiceLog(component: "decoder-test"))
            engine.start(outbox: outbox)
        }

        /// The encoding the encoder service would send for `text`, under the prompt key `key`.
        func encoding(_ text: String, key: UInt8) throws -> Encoding {
            let ids = try encoder.tokenize(text)
            let values = try #require(try encoder.encode([ids]).first)
            let dtype = bundle.wireDType
            let tensor = try Tensor(
                dtype: DType(dtype), shape: [ids.count, values.count / ids.count],
                bytes: Frame(WireRounding.narrow(values, to: dtype)))
            return Encoding(
                requestID: "e", promptHash: [UInt8](repeating: key, count: 32), promptIDs: ids, tensor: tensor,
                projected: bundle.projectorRunsOn == .encoder)
        }

        func post(_ id: String, _ encoding: Encoding, tokens: UInt32 = 6, resume: [Int32] = [], stream: Bool = false) {
            engine.handle(
                .decodeJob(
                    DecodeJob(
                        request: GenerateRequest(
                            requestID: id, prompt: .tokenIDs(encoding.promptIDs), maxNewTokens: tokens,
                            minNewTokens: tokens, stream: stream),
                        encoding: encoding, resumeIDs: resume)))
        }

        /// Collects chunks until `ids` have all finished; returns each one's streamed ids.
        func finish(_ ids: [String]) throws -> [String: [Int32]] {
            let deadline = ContinuousClock.now + .seconds(30)
            func done() -> Bool {
                ids.allSatisfy { id in chunks.contains { $0.requestID == id && $0.finishReason != .unspecified } }
            }
            while !done() && ContinuousClock.now < deadline {
                for message in outbox.drain() {
                    switch message {
                    case .tokenChunk(let chunk): chunks.append(chunk)
                    case .tokenChunks(let list): chunks += list
                    case .error(let reply): Issue.record("\(reply.requestID): \(reply.message)")
                    default: break
                    }
                }
                Thread.sleep(forTimeInterval: 0.002)
            }
            #expect(done(), "jobs \(ids) finished")
            return Dictionary(
                uniqueKeysWithValues: ids.map { id in (id, chunks.filter { $0.requestID == id }.flatMap(\.ids)) })
        }

        /// The ids `l2s run --bundle` generates for `text`.
        func inProcess(_ text: String, tokens: Int = 6) throws -> [Int32] {
            try BundleGenerator(bundle: bundle).generate(
                promptIDs: try encoder.tokenize(text),
                options: GenerationOptions(maxNewTokens: tokens, minNewTokens: tokens)
            ).ids
        }

        /// Sequence starts so far: (prefills, cached).
        var starts: (prefill: Int, cached: Int) {
            let text = metrics.render()
            func count(_ source: String) -> Int {
                let line = text.split(separator: "\n").first {
                    $0.hasPrefix("l2s_decoder_sequence_starts_total{source=\"\(source)\"}")
                }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? 0
            }
            return (count("prefill"), count("cached"))
        }
    }

    @Test(arguments: ["t5-add", "gpt2-projection_only"]) func repeatedPromptsStartFromTheCacheWithFreshNumbers(
        bundle: String
    ) throws {
        let harness = try Harness(bundle: bundle)
        defer { harness.engine.stop() }
        let expected = try harness.inProcess(Self.prompts[0])
        let encoding = try harness.encoding(Self.prompts[0], key: 1)

        harness.post("first", encoding)
        #expect(try harness.finish(["first"])["first"] == expected)
        #expect(harness.starts == (1, 0))

        // The same key and inputs: a fork of the cached start, the same ids; a resumed job replays onto a fork too.
        harness.post("again", encoding)
        harness.post("resumed", encoding, resume: Array(expected.prefix(2)))
        let repeated = try harness.finish(["again", "resumed"])
        #expect(repeated["again"] == expected)
        #expect(repeated["resumed"] == Array(expected.dropFirst(2)))
        #expect(harness.starts == (1, 2))

        // Another key (another tenant) with the same inputs, and the cached key with another prompt's inputs: both
        // run their own prefill.
        var otherTenant = encoding
        otherTenant.promptHash = [UInt8](repeating: 2, count: 32)
        var forged = try harness.encoding(Self.prompts[1], key: 1)
        forged.promptHash = encoding.promptHash
        harness.post("other-tenant", otherTenant)
        harness.post("forged", forged)
        let others = try harness.finish(["other-tenant", "forged"])
        #expect(others["other-tenant"] == expected)
        #expect(others["forged"] == (try harness.inProcess(Self.prompts[1])))
        #expect(harness.starts == (3, 2))
    }

    @Test func jobsOfOnePromptArrivingTogetherShareOnePrefill() throws {
        let harness = try Harness(bundle: "t5-add")
        defer { harness.engine.stop() }
        let encoding = try harness.encoding(Self.prompts[1], key: 3)
        let names = ["a", "b", "c", "d"]
        for name in names { harness.post(name, encoding) }
        let streamed = try harness.finish(names)
        let expected = try harness.inProcess(Self.prompts[1])
        for name in names { #expect(streamed[name] == expected, "\(name)") }
        #expect(harness.starts == (1, 3))
    }

    @Test func aJobWithoutAPromptKeyIsNeverCached() throws {
        let harness = try Harness(bundle: "t5-add")
        defer { harness.engine.stop() }
        var encoding = try harness.encoding(Self.prompts[0], key: 0)
        encoding.promptHash = []
        harness.post("x", encoding)
        _ = try harness.finish(["x"])
        harness.post("y", encoding)
        _ = try harness.finish(["y"])
        #expect(harness.starts == (2, 0))
    }
}
