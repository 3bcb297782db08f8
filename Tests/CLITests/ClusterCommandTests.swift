import Foundation
import TestSupport
import Testing

/// `l2s cluster --prompts`: the quick start's one command, here on the tiny GPT-2 fixture bundle
/// (decoder-only SLM, projection-only input), must print what `l2s run --bundle` prints for each prompt.
@Suite(.timeLimit(.minutes(2))) struct ClusterCommandTests {
    let bundle = TestPaths.fixture("bundles/gpt2-projection_only").path

    @Test func promptsThroughALocalClusterEqualInProcessRuns() throws {
        // Distinct prompts whose answers differ (checked below), so an answer printed for the wrong prompt shows.
        let prompts = ["hello world", "the cat sat on the mat", "a dog ran in the park"]
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-cluster-\(UUID().uuidString).txt")
        try prompts.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // Three consecutive ports; another run holding them makes start-up fail, so try a few bases.
        var result: ProcessResult?
        for _ in 0..<3 {
            let base = Int.random(in: 20_000...60_000)
            let attempt = try ProcessRunner.run(
                TestPaths.l2sExecutable,
                [
                    "cluster", "--bundle", bundle,
                    "--decoders", "2", "--base-port", "\(base)", "--prompts", file.path, "--max-new-tokens", "10",
                ],
                timeout: 90)
            result = attempt
            if attempt.status == 0 { break }
        }
        let output = try #require(result)
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == prompts.count)
        var answers: Set<[Int]> = []
        for (prompt, line) in zip(prompts, lines) {
            let run = try ProcessRunner.run(
                TestPaths.l2sExecutable,
                ["run", "--bundle", bundle, prompt, "--json", "--max-new-tokens", "10", "--threads", "1"])
            let expected = run.stdout.trimmingCharacters(in: .newlines)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let printed = try #require(object["result"] as? [String: Any], "\(line) has no result object")
            #expect(object["prompt"] as? String == prompt, "\(line) answers another prompt")
            let result = try JSONSerialization.data(withJSONObject: printed, options: [.sortedKeys])
            let reference = try JSONSerialization.data(
                withJSONObject: try JSONSerialization.jsonObject(with: Data(expected.utf8)), options: [.sortedKeys])
            #expect(result == reference, "\(prompt): \(line) vs \(expected)")
            answers.insert(try #require(printed["ids"] as? [Int], "\(line) has no ids"))
        }
        #expect(answers.count == prompts.count, "every prompt has its own answer: \(answers)")
        #expect(output.stderr.contains("stopping"), "children are stopped at the end")
    }

    @Test func aMissingBundleIsAUsageError() throws {
        let result = try ProcessRunner.run(TestPaths.l2sExecutable, ["cluster", "--bundle", "/nonexistent"])
        #expect(result.status == 64 && result.stderr.contains("l2s.json"))
    }
}
