import Foundation
import Metrics
import Models
import Synchronization
import TestSupport
import Testing
import Wire

@testable import Cluster

/// The encoder service's compute side on a real bundle: prompts that arrive together are taken as one batch, run
/// one by one (batch-invariant kernels), and sent when each pass ends (`.each`) or when the batch ends (`.batch`).
@Suite struct EncoderEngineTests {
    static let bundle = TestPaths.fixture("bundles/t5-add")

    @Test(arguments: [
        (EncoderEngine.SendPolicy.each, [1, 2, 3], 3),
        (EncoderEngine.SendPolicy.batch, [3, 3, 3], 1),
    ])
    func aBatchsEncodingsLeaveAsThePolicySays(send: EncoderEngine.SendPolicy, encodedAtEach: [Double], passes: Double)
        throws
    {
        let prompts: [[Int32]] = [[13, 7, 21, 1], [5, 9, 1], [30, 2, 2, 8, 1]]
        let encoder = try PromptEncoder(bundle: try L2SBundle.load(directory: Self.bundle))
        #expect(!encoder.stacksPrompts)
        let metrics = MetricsRegistry()
        let engine = EncoderEngine(
            encoder: encoder, maxBatch: 8, batchWait: .zero, send: send, metrics: metrics,
            log: ServiceLog(component: "encoder-test"))
        // Queued before the compute thread starts, so its first take is one batch of all three.
        for (index, ids) in prompts.enumerated() {
            engine.handle(
                .encodeRequest(
                    EncodeRequest(requestID: "p\(index)", promptHash: [UInt8(index)], prompt: .tokenIDs(ids))))
        }
        // At each encoding sent, on the compute thread before it runs anything else: how many prompts it had encoded.
        let seen = Mutex<[(encodedBefore: Double?, encoding: Encoding)]>([])
        let outboxBox = Mutex<WorkerOutbox?>(nil)
        let outbox = WorkerOutbox(wake: {
            guard let outbox = outboxBox.withLock({ $0 }) else { return }
            for message in outbox.drain() {
                if case .encoding(let encoding) = message {
                    seen.withLock {
                        $0.append((metrics.sample(#"l2s_encoder_prompts_total{outcome="encoded"}"#), encoding))
                    }
                }
            }
        })
        outboxBox.withLock { $0 = outbox }
        engine.start(outbox: outbox)
        defer { engine.stop() }
        let deadline = ContinuousClock.now + .seconds(30)
        while seen.withLock({ $0.count }) < prompts.count && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.001)
        }
        let sent = seen.withLock { $0 }
        try #require(sent.count == prompts.count)
        #expect(sent.map(\.encoding.requestID) == ["p0", "p1", "p2"])
        #expect(sent.map(\.encodedBefore) == encodedAtEach, "prompts encoded when each encoding left")
        #expect(metrics.sample("l2s_encoder_batch_prompts_count") == passes, "encode calls")
        // Either way every encoding is the prompt's unbatched one, as the decoder needs it.
        let dtype = encoder.bundle.wireDType
        for (index, ids) in prompts.enumerated() {
            let alone = try encoder.encode([ids])[0]
            let expected = try Tensor(
                dtype: DType(dtype), shape: [ids.count, encoder.encodingWidth],
                bytes: Frame(WireRounding.narrow(alone, to: dtype)))
            #expect(sent[index].encoding.tensor == expected, "prompt \(index) equals its unbatched encoding")
        }
    }
}
