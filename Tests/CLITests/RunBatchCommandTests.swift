import Foundation
import TestSupport
import Testing

/// `l2s run --model DIR --batch N`: N copies of the prompt through the batched step path give copy 0's result, the
/// same as the one-sequence path, and `--timings` names the batch. Timings are never compared.
@Suite struct RunBatchCommandTests {
    let l2s = TestPaths.l2sExecutable

    func run(_ model: String, _ extra: [String]) throws -> ProcessResult {
        try ProcessRunner.run(
            l2s,
            [
                "run", "--model", TestPaths.fixture("models/\(model)").path, "--input-ids", "3,17,42,5", "--json",
                "--max-new-tokens", "6", "--min-new-tokens", "6", "--threads", "1",
            ] + extra)
    }

    @Test(arguments: ["gpt2_b", "t5_v11"]) func batchedCopiesGiveTheOneSequenceResult(model: String) throws {
        let alone = try run(model, [])
        #expect(alone.status == 0)
        for extra in [
            ["--batch", "1"], ["--batch", "5", "--timings"], ["--batch", "3", "--seed", "7", "--top-k", "5"],
        ] {
            let batched = try run(model, extra)
            #expect(batched.status == 0, "\(extra): \(batched.stderr)")
            if extra.contains("--seed") {
                let sampled = try run(model, ["--seed", "7", "--top-k", "5"])
                #expect(batched.stdout == sampled.stdout, "\(extra)")
            } else {
                #expect(batched.stdout == alone.stdout, "\(extra)")
            }
        }
        let timed = try run(model, ["--batch", "5", "--timings"])
        let line = try #require(timed.stderr.split(separator: "\n").last { $0.contains("prefill_s") })
        let timings = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(timings?["batch"] as? Int == 5)
        #expect(timings?["decode_steps"] as? Int == 5)
        #expect(timings?["kernels"] as? String != nil)
    }

    @Test func batchNeedsAModelAndAPositiveCount() throws {
        let zero = try run("gpt2_b", ["--batch", "0"])
        #expect(zero.status == 64)
        #expect(zero.stderr.contains("--batch"))
        let bundle = try ProcessRunner.run(
            l2s, ["run", "--bundle", TestPaths.fixture("bundles/t5-add").path, "--batch", "2", "hello"])
        #expect(bundle.status == 64)
        #expect(bundle.stderr.contains("option '--batch' needs '--model'"))
    }
}
