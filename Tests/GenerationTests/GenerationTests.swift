import Foundation
import Generation
import Models
import TestSupport
import Testing

/// Ids from a fixture's expected.json.
private func fixtureIDs(_ name: String, _ key: String) throws -> [Int32] { try ModelFixture(name).ids(key) }

private func load(_ name: String) throws -> any LanguageModel {
    try ModelRegistry.load(directory: TestPaths.fixture("models/\(name)"))
}

@Suite struct GenerationTests {
    static let cases = ["t5_v10", "t5_v11", "t5_v10_legacy", "t5_v10_f16", "gpt2_a", "gpt2_b", "gpt2_bf16"]

    @Test(arguments: cases) func greedyWithMinNewTokensMatchesTransformersGenerate(name: String) throws {
        let model = try load(name)
        let options = GenerationOptions(maxNewTokens: 12, minNewTokens: 6, eosTokenIDs: nil, recordLogits: true)
        let result = try Generator.generate(model: model, promptIDs: try fixtureIDs(name, "prompt"), options: options)
        let expected = try fixtureIDs(name, "generate_ids")
        let stoppedAtEOS = expected.firstIndex { model.eosTokenIDs.contains($0) }
        #expect(result.ids == Array(expected.prefix((stoppedAtEOS ?? 11) + 1)))
        #expect(result.finishReason == (stoppedAtEOS == nil ? .length : .eos))
        #expect(
            result.usage
                == Usage(promptTokens: try fixtureIDs(name, "prompt").count, completionTokens: result.ids.count))
        #expect(result.logits?.count == result.ids.count)
        #expect(result.logits?.first?.count == model.vocabularySize)
    }

    @Test(arguments: cases) func eosStopsGenerationOnlyAfterMinNewTokens(name: String) throws {
        let model = try load(name)
        let eos = try fixtureIDs(name, "eos")
        let options = GenerationOptions(maxNewTokens: 12, minNewTokens: 2, eosTokenIDs: eos)
        let result = try Generator.generate(model: model, promptIDs: try fixtureIDs(name, "prompt"), options: options)
        let expected = try fixtureIDs(name, "eos_generate_ids")
        #expect(result.ids == expected)
        #expect(result.finishReason == (expected.last == eos.first ? .eos : .length))
        #expect(!expected.prefix(2).contains(eos[0]))
    }

    @Test func zeroMaxNewTokensGeneratesNothing() throws {
        let result = try Generator.generate(
            model: try load("gpt2_a"), promptIDs: [1, 2], options: GenerationOptions(maxNewTokens: 0))
        #expect(result.ids.isEmpty && result.finishReason == .length && result.usage.promptTokens == 2)
    }

    @Test func samplingIsDeterministicPerSeedAndRespectsTopK() throws {
        let model = try load("gpt2_a")
        let prompt: [Int32] = [3, 17, 42, 8]
        func run(_ parameters: SamplingParameters) throws -> GenerationResult {
            try Generator.generate(
                model: model, promptIDs: prompt,
                options: GenerationOptions(maxNewTokens: 12, minNewTokens: 12, sampling: parameters, recordLogits: true)
            )
        }
        let sampled = SamplingParameters(greedy: false, temperature: 1.5, topK: 3, topP: 1, seed: 7)
        let first = try run(sampled)
        #expect(try run(sampled) == first)
        var otherSeed = sampled
        otherSeed.seed = 8
        #expect(try run(otherSeed).ids != first.ids)
        for (ids, logits) in zip(first.ids, first.logits ?? []) {
            // EOS (id 0 in gpt2_a) is suppressed by min-new-tokens, so the top 3 are taken among the others.
            let topThree = logits.enumerated().filter { $0.offset != 0 }.sorted { $0.element > $1.element }.prefix(3)
                .map { Int32($0.offset) }
            #expect(topThree.contains(ids))
        }
        let greedy = try run(.greedy)
        #expect(
            try run(SamplingParameters(greedy: false, temperature: 0.8, topK: 1, topP: 1, seed: 3)).ids == greedy.ids)
        #expect(
            try run(SamplingParameters(greedy: false, temperature: 1, topK: 0, topP: 1e-6, seed: 3)).ids == greedy.ids)
    }

    @Test func samplerDrawsFollowTheDistribution() {
        let sampler = TokenSampler(
            parameters: SamplingParameters(greedy: false, temperature: 1, seed: 42), eosTokenIDs: [])
        let logits: [Float] = [log(0.7), log(0.2), log(0.1)]
        var counts = [0, 0, 0]
        for step in 0..<4000 { counts[Int(sampler.choose(from: logits, step: step))] += 1 }
        #expect(abs(Double(counts[0]) / 4000 - 0.7) < 0.03)
        #expect(abs(Double(counts[2]) / 4000 - 0.1) < 0.03)
        let nucleus = TokenSampler(parameters: SamplingParameters(greedy: false, topP: 0.85, seed: 42), eosTokenIDs: [])
        #expect((0..<500).allSatisfy { nucleus.choose(from: logits, step: $0) != 2 })
    }

    @Test func resultPrintsTheDesignsJSONObject() throws {
        let result = GenerationResult(
            text: "a \"b\"", ids: [4, 1], finishReason: .eos, usage: Usage(promptTokens: 3, completionTokens: 2),
            logits: [[0.5, -.infinity]])
        #expect(
            result.jsonLine
                == #"{"text":"a \"b\"","ids":[4,1],"finish_reason":"eos","#
                + #""usage":{"prompt_tokens":3,"completion_tokens":2},"logits":[[0.5,null]]}"#
        )
        let parsed = try JSONSerialization.jsonObject(with: Data(result.jsonLine.utf8)) as? [String: Any]
        #expect(parsed?["finish_reason"] as? String == "eos")
    }
}
