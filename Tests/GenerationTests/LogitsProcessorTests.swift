import Foundation
import Generation
import Models
import TestSupport
import Testing

/// The penalties against transformers' `generate` (Tests/Fixtures/generation, written by
/// scripts/fixtures/generation.py): repetition penalty, no-repeat n-grams, min-new-tokens and OpenAI's presence and
/// frequency penalties, alone and together, greedy, on T5 and GPT-2 fixtures; the greedy ids must be identical.
@Suite struct LogitsProcessorTests {
    struct Case {
        let options: [String: Double]
        let ids: [Int32]
    }

    static func cases(_ model: String) throws -> (prompt: [Int32], cases: [Case]) {
        let fixture = try GenerationFixture("generation", model: model)
        let cases = fixture.cases.map { entry in
            Case(
                options: (entry["options"] as? [String: NSNumber] ?? [:]).mapValues(\.doubleValue),
                ids: (entry["ids"] as? [NSNumber] ?? []).map { Int32($0.intValue) })
        }
        return (fixture.prompt, cases)
    }

    @Test(arguments: ["t5_v10", "t5_v11", "gpt2_a", "gpt2_b"])
    func penaltiesGiveTransformersGreedyIds(model name: String) throws {
        let model = try ModelRegistry.load(directory: TestPaths.fixture("models/\(name)"))
        let (prompt, cases) = try Self.cases(name)
        #expect(cases.count >= 8)
        for entry in cases {
            let sampling = SamplingParameters(
                repetitionPenalty: Float(entry.options["repetition_penalty"] ?? 1),
                noRepeatNGramSize: Int(entry.options["no_repeat_ngram_size"] ?? 0),
                presencePenalty: Float(entry.options["presence_penalty"] ?? 0),
                frequencyPenalty: Float(entry.options["frequency_penalty"] ?? 0))
            let options = GenerationOptions(
                maxNewTokens: 12, minNewTokens: Int(entry.options["min_new_tokens"] ?? 0), sampling: sampling)
            let result = try Generator.generate(model: model, promptIDs: prompt, options: options)
            #expect(result.ids == entry.ids, "\(name) \(entry.options)")
        }
    }

    @Test func penaltiesOutOfRangeAreNamed() {
        #expect(
            SamplingParameters(repetitionPenalty: 0).validationError == "repetition_penalty must be in (0, 10], got 0.0"
        )
        #expect(
            SamplingParameters(noRepeatNGramSize: -1).validationError == "no_repeat_ngram_size must be >= 0, got -1")
        #expect(
            SamplingParameters(presencePenalty: 2.5).validationError == "presence_penalty must be in [-2, 2], got 2.5")
        #expect(SamplingParameters(frequencyPenalty: .nan).validationError?.hasPrefix("frequency_penalty") == true)
        #expect(SamplingParameters(repetitionPenalty: 1.2, noRepeatNGramSize: 3).validationError == nil)
    }
}
