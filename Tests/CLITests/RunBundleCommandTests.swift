import Foundation
import TestSupport
import Testing

/// `l2s run --bundle` driven as a user would, on the tiny random bundles whose reference greedy ids
/// scripts/fixtures/bundles.py recorded.
@Suite struct RunBundleCommandTests {
    let l2s = TestPaths.l2sExecutable

    struct Case: Sendable, CustomStringConvertible {
        let bundle: String
        let text: String
        let inputIDs: [Int]
        let greedyIDs: [Int]
        let answerText: String?
        let steps: Int
        var description: String { "\(bundle): \(text)" }
    }

    /// The prompts of `Tests/Fixtures/bundles/expected/<file>.json`; `bundle` is the directory it names.
    static func cases(file: String) -> [Case] {
        guard let data = try? Data(contentsOf: TestPaths.fixture("bundles/expected/\(file).json")),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let prompts = object["prompts"] as? [[String: Any]], let bundle = object["bundle"] as? String,
            let steps = object["steps"] as? Int
        else { return [] }
        return prompts.compactMap { prompt in
            guard let text = prompt["text"] as? String, let ids = prompt["input_ids"] as? [Int],
                let greedy = prompt["greedy_ids"] as? [Int]
            else { return nil }
            return Case(
                bundle: bundle, text: text, inputIDs: ids, greedyIDs: greedy,
                answerText: prompt["answer_text"] as? String,
                steps: steps)
        }
    }

    static let cases = ["t5-add", "t5-projection_only", "gpt2-add", "gpt2-projection_only", "t5-add-decoder"].flatMap {
        cases(file: $0)
    }

    /// The shipped bundles' expectations (written by scripts/fixtures/bundles.py once bundles/default and
    /// bundles/gpt2 exist): whole greedy answers up to and including EOS.
    static let shippedCases: [Case] = {
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: TestPaths.fixture("bundles/expected").path)) ?? []
        return names.filter { $0.hasPrefix("shipped-") && $0.hasSuffix(".json") }.sorted().flatMap {
            cases(file: String($0.dropLast(5)))
        }
    }()

    func object(_ line: Substring) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func everyFixturePromptIsCovered() { #expect(Self.cases.count == 10) }

    @Test(arguments: cases) func textPromptGivesTheReferenceGreedyIds(testCase: Case) throws {
        let bundle = TestPaths.fixture("bundles/\(testCase.bundle)").path
        let result = try ProcessRunner.run(
            l2s, ["run", "--bundle", bundle, testCase.text, "--max-new-tokens", "8", "--json", "--threads", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let json = try object(try #require(lines.last))
        #expect(json["ids"] as? [Int] == testCase.greedyIDs)
        #expect(json["finish_reason"] as? String == "length")
        #expect((json["usage"] as? [String: Any])?["prompt_tokens"] as? Int == testCase.inputIDs.count)
        #expect(json["text"] as? String == testCase.answerText)

        let fromIDs = try ProcessRunner.run(
            l2s,
            [
                "run", "--bundle", bundle, "--input-ids", testCase.inputIDs.map(String.init).joined(separator: ","),
                "--max-new-tokens", "8", "--json", "--threads", "1",
            ])
        #expect(fromIDs.stdout == result.stdout, "\(fromIDs.stderr)")
    }

    @Test(arguments: shippedCases) func shippedBundleGivesTheReferenceAnswer(testCase: Case) throws {
        let result = try ProcessRunner.run(
            l2s,
            [
                "run", "--bundle", TestPaths.repositoryRoot.appendingPathComponent(testCase.bundle).path, testCase.text,
                "--max-new-tokens", "\(testCase.steps)", "--json",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try object(try #require(result.stdout.split(separator: "\n").last))
        #expect(json["ids"] as? [Int] == testCase.greedyIDs)
        #expect(json["text"] as? String == testCase.answerText)
    }

    /// A service's `--threads` must not change its numbers: the encoder and the decoders of a cluster may run with
    /// other thread counts than `l2s run`, and the cluster promises the in-process result bit for bit.
    @Test(arguments: ["bundles/default", "bundles/gpt2"]) func logitsDoNotDependOnTheThreadCount(bundle: String) throws
    {
        let prompt =
            "some handsome elegant boats that will burn this skunk will love this lizard that jumps the cow wisely"
        let outputs = try ["1", "2"].map { threads in
            let result = try ProcessRunner.run(
                l2s,
                [
                    "run", "--bundle", TestPaths.repositoryRoot.appendingPathComponent(bundle).path, prompt,
                    "--dump-logits", "--max-new-tokens", "30", "--threads", threads,
                ])
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout
        }
        #expect(outputs[0].contains("\"logits\""))
        #expect(outputs[0] == outputs[1])
    }

    @Test(arguments: ["t5-add", "gpt2-projection_only"]) func streamedDeltasAddUpToTheResult(bundle: String) throws {
        let testCase = try #require(Self.cases.first { $0.bundle == bundle })
        let result = try ProcessRunner.run(
            l2s,
            [
                "run", "--bundle", TestPaths.fixture("bundles/\(bundle)").path, testCase.text, "--max-new-tokens", "8",
                "--stream",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count >= 9)
        let final = try object(try #require(lines.last))
        var text = ""
        var ids: [Int] = []
        for line in lines.dropLast() {
            let delta = try object(line)
            text += try #require(delta["delta"] as? String)
            ids += try #require(delta["ids"] as? [Int])
        }
        #expect(ids == testCase.greedyIDs)
        #expect(final["ids"] as? [Int] == ids)
        #expect(final["text"] as? String == text)
    }

    @Test func badBundleExitsOneNamingTheField() throws {
        let result = try ProcessRunner.run(
            l2s, ["run", "--bundle", TestPaths.fixture("bundles/bad/unknown-wire-dtype").path, "hello"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("wire_dtype"))
        #expect(result.stderr.contains("int8"))
    }

    @Test(arguments: [
        ["run", "--bundle", "B", "a prompt", "--input-ids", "1,2"],
        ["run", "--bundle", "B"],
        ["run", "--bundle", "B", "--model", "M", "--input-ids", "1"],
        ["run", "--model", "M", "--input-ids", "1", "--stream"],
    ])
    func conflictingPromptFlagsAreUsageErrors(arguments: [String]) throws {
        let bundle = TestPaths.fixture("bundles/t5-add").path
        let result = try ProcessRunner.run(l2s, arguments.map { $0 == "B" ? bundle : $0 })
        #expect(result.status == 64, "\(result.stderr)")
    }
}
