import Foundation
import TestSupport
import Testing

/// `l2s run --weights`: a conversion asked for is applied, an unknown one refused by name; as-stored and float32
/// give the same bits; int8 stays batch-invariant through the batched step path. Timings are never compared.
@Suite struct RunWeightsCommandTests {
    let l2s = TestPaths.l2sExecutable

    func run(_ model: String, _ extra: [String]) throws -> ProcessResult {
        try ProcessRunner.run(
            l2s,
            [
                "run", "--model", TestPaths.fixture("models/\(model)").path, "--input-ids", "3,17,42,5", "--json",
                "--dump-logits", "--max-new-tokens", "5", "--min-new-tokens", "5", "--threads", "1",
            ] + extra)
    }

    @Test(arguments: ["t5_v10_f16", "gpt2_bf16"]) func asStoredGivesTheBitsOfFloat32(model: String) throws {
        let stored = try run(model, [])
        let float32 = try run(model, ["--weights", "float32"])
        #expect(stored.status == 0 && float32.status == 0, "\(stored.stderr) \(float32.stderr)")
        #expect(stored.stdout == float32.stdout)
    }

    @Test(arguments: ["t5_v11", "gpt2_b"]) func int8IsAppliedAndBatchInvariant(model: String) throws {
        let float32 = try run(model, ["--weights", "float32"])
        let int8 = try run(model, ["--weights", "int8", "--timings"])
        #expect(int8.status == 0, "\(int8.stderr)")
        #expect(int8.stdout != float32.stdout, "int8 logits must differ from float32's")
        let batched = try run(model, ["--weights", "int8", "--batch", "4"])
        #expect(batched.stdout == int8.stdout)
        let line = try #require(int8.stderr.split(separator: "\n").last { $0.contains("prefill_s") })
        let timings = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(timings?["weights"] as? String == "int8")
    }

    @Test func unknownWeightsAreRefusedByNameAndConversionsApply() throws {
        let unknown = try run("t5_v11", ["--weights", "int4"])
        #expect(unknown.status == 64)
        #expect(
            unknown.stderr.contains("option '--weights' must be one of as-stored, float32, float16, bfloat16, int8"))
        // A float32 GPT-2 converted to float16 at load runs, and its logits are not float32's.
        let gpt2 = try run("gpt2_b", ["--weights", "float16"])
        #expect(gpt2.status == 0, "\(gpt2.stderr)")
        #expect(gpt2.stdout != (try run("gpt2_b", ["--weights", "float32"])).stdout)
        let bundle = try ProcessRunner.run(
            l2s, ["run", "--bundle", TestPaths.fixture("bundles/t5-add").path, "--weights", "int8", "--json", "3 + 4"])
        #expect(bundle.status == 0, "\(bundle.stderr)")
    }
}
