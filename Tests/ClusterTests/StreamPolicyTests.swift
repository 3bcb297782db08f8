import Foundation
import Testing
import Wire

@testable import Cluster

/// When a decoder sends a job's tokens (`l2s decoder --stream-interval`): the rule of `HeldChunk` on its own, then a
/// real decoder engine on a real bundle, whose chunks must carry exactly the ids of an unheld run, in order.
@Suite(.timeLimit(.minutes(1))) struct StreamPolicyTests {
    static let start = ContinuousClock.now

    func chunk(_ id: Int32, final: Bool = false) -> TokenChunk {
        TokenChunk(
            requestID: "j", ids: [id], textDelta: "t\(id) ", finishReason: final ? .length : .unspecified,
            usage: final ? Usage(promptTokens: 3, completionTokens: 4) : nil,
            logprobs: [ChunkLogprob(id: id, logprob: -Float(id), top: [], text: "t\(id)")])
    }

    @Test func theFirstTokensGoAtOnceThenTheyWaitForARelease() throws {
        var held = HeldChunk()
        let limit = Duration.seconds(1)
        let firstSent = held.add(chunk(1), release: false, holdLimit: limit, now: Self.start)
        let first = try #require(firstSent)
        #expect(first.ids == [1])
        #expect(held.add(chunk(2), release: false, holdLimit: limit, now: Self.start) == nil)
        #expect(held.add(chunk(3), release: false, holdLimit: limit, now: Self.start) == nil)
        // A release sends everything held as one chunk: ids, text and logprobs in order.
        let mergedSent = held.add(chunk(4), release: true, holdLimit: limit, now: Self.start)
        let merged = try #require(mergedSent)
        #expect(merged.ids == [2, 3, 4])
        #expect(merged.textDelta == "t2 t3 t4 ")
        #expect(merged.logprobs.map(\.id) == [2, 3, 4])
        #expect(merged.finishReason == .unspecified && merged.usage == nil)
        // The final chunk goes at once, with what was held before it, and keeps its finish reason and usage.
        #expect(held.add(chunk(5), release: false, holdLimit: limit, now: Self.start) == nil)
        let lastSent = held.add(chunk(6, final: true), release: false, holdLimit: limit, now: Self.start)
        let last = try #require(lastSent)
        #expect(last.ids == [5, 6])
        #expect(last.finishReason == .length)
        #expect(last.usage == Usage(promptTokens: 3, completionTokens: 4))
    }

    @Test func noTokenWaitsLongerThanTheHoldLimit() throws {
        var held = HeldChunk()
        let limit = Duration.milliseconds(100)
        _ = held.add(chunk(1), release: false, holdLimit: limit, now: Self.start)
        #expect(held.add(chunk(2), release: false, holdLimit: limit, now: Self.start) == nil)
        // The oldest held token (2) decides, not the newest.
        #expect(held.add(chunk(3), release: false, holdLimit: limit, now: Self.start + .milliseconds(99)) == nil)
        let dueSent = held.add(chunk(4), release: false, holdLimit: limit, now: Self.start + limit)
        let due = try #require(dueSent)
        #expect(due.ids == [2, 3, 4])
        // The clock starts again with the next held token.
        #expect(held.add(chunk(5), release: false, holdLimit: limit, now: Self.start + .milliseconds(150)) == nil)
        #expect(held.add(chunk(6), release: false, holdLimit: limit, now: Self.start + .milliseconds(249)) == nil)
        #expect(
            held.add(chunk(7), release: false, holdLimit: limit, now: Self.start + .milliseconds(250))?.ids == [
                5, 6, 7,
            ])
    }

    /// A decoder on the T5 fixture bundle sending every 3 steps: a streamed job's first token comes alone and no later
    /// chunk but its last carries more than 3 ids; a job whose client waits gets its first token, then the rest in
    /// the final chunk; both equal `l2s run --bundle`, as do jobs on a decoder sending every token.
    @Test func heldTokensReachTheRouterInOrderAndComplete() throws {
        let harness = try PrefillCacheTests.Harness(
            bundle: "t5-add", streamPolicy: StreamPolicy(interval: 3, holdLimit: .seconds(3600)))
        defer { harness.engine.stop() }
        let prompt = PrefillCacheTests.prompts[0]
        let expected = try harness.inProcess(prompt, tokens: 12)
        let encoding = try harness.encoding(prompt, key: 1)
        harness.post("streamed", encoding, tokens: 12, stream: true)
        harness.post("waiting", encoding, tokens: 12)
        let ids = try harness.finish(["streamed", "waiting"])
        #expect(ids["streamed"] == expected)
        #expect(ids["waiting"] == expected)

        let streamed = harness.chunks.filter { $0.requestID == "streamed" }.map(\.ids.count)
        #expect(streamed.first == 1)
        #expect(streamed.dropFirst().dropLast().allSatisfy { $0 <= 3 })
        #expect(streamed.count < expected.count, "chunks of several tokens: \(streamed)")
        #expect(harness.chunks.filter { $0.requestID == "waiting" }.map(\.ids.count) == [1, expected.count - 1])

        let everyToken = try PrefillCacheTests.Harness(bundle: "t5-add")
        defer { everyToken.engine.stop() }
        everyToken.post("streamed", encoding, tokens: 12, stream: true)
        #expect(try everyToken.finish(["streamed"])["streamed"] == expected)
        #expect(everyToken.chunks.map(\.ids.count) == Array(repeating: 1, count: expected.count))
    }
}
