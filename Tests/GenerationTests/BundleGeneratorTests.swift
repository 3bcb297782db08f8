import Foundation
import Generation
import Models
import TestSupport
import Testing

/// LLM-to-SLM generation in one process on the fixture bundles (greedy ids recorded by the PyTorch reference).
@Suite struct BundleGeneratorTests {
    let bundle = TestPaths.fixture("bundles/t5-add")
    /// Prompt 0 of expected/t5-add.json: its text and the reference's 8 greedy ids.
    let text: String
    let greedy: [Int32]

    init() throws {
        let reference = try #require(try ExpectedPrompt.load(bundle: "t5-add").first)
        text = reference.text
        greedy = reference.greedyIDs
    }

    @Test func generatesTheReferenceIdsAndTheirText() throws {
        let generator = try BundleGenerator(bundle: try L2SBundle.load(directory: bundle))
        let ids = try generator.tokenize(text)
        var deltas: [(String, [Int32])] = []
        let result = try generator.generate(promptIDs: ids, options: GenerationOptions(maxNewTokens: 8)) {
            deltas.append(($0, $1))
            #expect($2 == nil)
        }
        #expect(result.ids == greedy)
        #expect(result.finishReason == .length)
        #expect(result.usage == Usage(promptTokens: ids.count, completionTokens: 8))
        #expect(result.text == (try generator.slm.tokenizer.decode(greedy, skipSpecialTokens: true)))
        #expect(deltas.map(\.0).joined() == result.text)
        #expect(deltas.flatMap(\.1) == greedy)
    }

    @Test func theIdThatEndsTheJobIsInIdsButNotInText() throws {
        let generator = try BundleGenerator(bundle: try L2SBundle.load(directory: bundle))
        // The first id that repeats none before it, taken as EOS, ends the job there, as the bundle's EOS would.
        let end = try #require(greedy.indices.dropFirst().first { !greedy[..<$0].contains(greedy[$0]) })
        let options = GenerationOptions(maxNewTokens: 8, eosTokenIDs: [greedy[end]])
        var streamed = ""
        let result = try generator.generate(promptIDs: try generator.tokenize(text), options: options) { delta, _, _ in
            streamed += delta
        }
        #expect(result.ids == Array(greedy.prefix(end + 1)))
        #expect(result.finishReason == .eos)
        let answer = try generator.slm.tokenizer.decode(Array(greedy.prefix(end)), skipSpecialTokens: true)
        #expect(result.text == answer)
        #expect(streamed == answer)
        #expect(!answer.isEmpty)
    }

    @Test func promptsBeyondTheLimitsAreRefused() throws {
        let loaded = try L2SBundle.load(directory: bundle)
        let generator = try BundleGenerator(bundle: loaded, maxPromptTokens: 4)
        let promptTokens = try ExpectedPrompt.load(bundle: "t5-add")[0].inputIDs.count
        #expect(promptTokens > 4)
        #expect(throws: ModelError.promptTooLong(tokens: promptTokens, limit: 4)) { try generator.tokenize(text) }
        // GPT-2 SLM with n_positions 64: the prompt, the separator and the new tokens must fit.
        let gpt2 = try BundleGenerator(bundle: try L2SBundle.load(directory: TestPaths.fixture("bundles/gpt2-add")))
        let ids = try gpt2.tokenize(text)
        #expect(throws: ModelError.promptTooLong(tokens: ids.count, limit: 13)) {
            try gpt2.generate(promptIDs: ids, options: GenerationOptions(maxNewTokens: 50))
        }
        let fitting = 64 - 1 - ids.count
        #expect(
            try gpt2.generate(promptIDs: ids, options: GenerationOptions(maxNewTokens: fitting)).ids.count == fitting)
    }
}
