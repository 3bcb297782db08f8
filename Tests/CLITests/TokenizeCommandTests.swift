import Foundation
import TestSupport
import Testing

/// `l2s tokenize` / `l2s detokenize` driven as a user would, on the committed tokenizer fixtures.
@Suite struct TokenizeCommandTests {
    let l2s = TestPaths.l2sExecutable

    func model(_ layout: String) -> String { TestPaths.fixture("tokenizers/\(layout)").path }

    /// The reference ids of "Hello world" (text 1 of the fixture corpus) for a layout.
    func helloWorldIDs(_ layout: String) throws -> [Int] {
        let data = try Data(contentsOf: TestPaths.fixture("tokenizers/reference.json"))
        let reference = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((reference["texts"] as? [String])?[1] == "Hello world")
        let layouts = try #require(reference["layouts"] as? [String: Any])
        let entry = try #require(layouts[layout] as? [String: Any])
        return try #require((entry["ids"] as? [Any])?[1] as? [Int])
    }

    @Test func tokenizePrintsCommaSeparatedIdsWithEOS() throws {
        let result = try ProcessRunner.run(l2s, ["tokenize", "--model", model("t5-spiece"), "Hello world"])
        #expect(result.status == 0, "\(result.stderr)")
        let ids = try helloWorldIDs("t5-spiece")
        #expect(ids.last == 1)
        #expect(result.stdout == ids.map(String.init).joined(separator: ",") + "\n")
    }

    @Test func tokenizeJSONHasIdsAndTokens() throws {
        let result = try ProcessRunner.run(
            l2s, ["tokenize", "--model", model("gpt2-vocab-merges"), "--json", "Hello world"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["ids"] as? [Int] == (try helloWorldIDs("gpt2-vocab-merges")))
        #expect((object?["tokens"] as? [String])?.joined() == "HelloĠworld")
    }

    @Test func tokenizeReadsStandardInputForDash() throws {
        let result = try ProcessRunner.run(l2s, ["tokenize", "--model", model("t5-spiece"), "-"], stdin: "Hello world")
        #expect(result.stdout == (try helloWorldIDs("t5-spiece")).map(String.init).joined(separator: ",") + "\n")
    }

    @Test func detokenizeRoundTrips() throws {
        let ids = try helloWorldIDs("t5-tokenizer-json").map(String.init).joined(separator: ",")
        let plain = try ProcessRunner.run(l2s, ["detokenize", "--model", model("t5-tokenizer-json"), "--ids", ids])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout == "Hello world</s>\n")
        let json = try ProcessRunner.run(
            l2s, ["detokenize", "--model", model("t5-tokenizer-json"), "--ids", ids, "--skip-special-tokens", "--json"])
        #expect(json.stdout == "{\"text\":\"Hello world\"}\n")
    }

    @Test func outOfRangeIdFailsNamingIdAndPosition() throws {
        let result = try ProcessRunner.run(l2s, ["detokenize", "--model", model("t5-spiece"), "--ids", "3,99999"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("token id 99999 at position 1 is outside the vocabulary (valid ids 0..<1100)"))
    }

    @Test func badIdListIsAUsageError() throws {
        let result = try ProcessRunner.run(l2s, ["detokenize", "--model", model("t5-spiece"), "--ids", "3,x"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("'--ids'"))
    }

    @Test func missingModelDirectoryIsNamed() throws {
        let result = try ProcessRunner.run(l2s, ["tokenize", "--model", "/nonexistent/model", "hi"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent/model"))
    }
}
