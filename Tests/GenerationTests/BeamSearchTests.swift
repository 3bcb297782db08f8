import Foundation
import Generation
import Models
import TestSupport
import Testing

/// Beam search against transformers' `generate` (Tests/Fixtures/beams, written by scripts/fixtures/beams.py):
/// widths 2-5, length penalties, early_stopping False / True / "never", one and two EOS ids, num_return_sequences,
/// with the logits processors, on T5 v1.0, v1.1 and GPT-2. Every returned sequence's ids must be identical and its
/// score within 1e-4.
@Suite struct BeamSearchTests {
    struct Case {
        let options: [String: Any]
        let sequences: [[Int32]]
        let scores: [Float]

        func number(_ key: String) -> Double? { (options[key] as? NSNumber)?.doubleValue }

        var generationOptions: GenerationOptions {
            let stopping: BeamOptions.EarlyStopping
            switch options["early_stopping"] {
            case let flag as Bool: stopping = flag ? .always : .heuristic
            case let word as String: stopping = BeamOptions.EarlyStopping(rawValue: word) ?? .heuristic
            default: stopping = .heuristic
            }
            let beams = BeamOptions(
                numBeams: Int(number("num_beams") ?? 1), lengthPenalty: Float(number("length_penalty") ?? 1),
                earlyStopping: stopping, numReturnSequences: Int(number("num_return_sequences") ?? 1))
            let sampling = SamplingParameters(
                repetitionPenalty: Float(number("repetition_penalty") ?? 1),
                noRepeatNGramSize: Int(number("no_repeat_ngram_size") ?? 0))
            return GenerationOptions(
                maxNewTokens: 12, minNewTokens: Int(number("min_new_tokens") ?? 0), sampling: sampling,
                eosTokenIDs: (options["eos_token_id"] as? [NSNumber])?.map { Int32($0.intValue) }, beams: beams)
        }
    }

    static func cases(_ model: String) throws -> (prompt: [Int32], cases: [Case]) {
        let fixture = try GenerationFixture("beams", model: model)
        let cases = fixture.cases.map { entry in
            Case(
                options: entry["options"] as? [String: Any] ?? [:],
                sequences: (entry["sequences"] as? [[NSNumber]] ?? []).map { $0.map { Int32($0.intValue) } },
                scores: (entry["scores"] as? [NSNumber] ?? []).map(\.floatValue))
        }
        return (fixture.prompt, cases)
    }

    @Test(arguments: ["t5_v10", "t5_v11", "gpt2_a", "gpt2_b"])
    func beamSearchGivesTransformersSequencesAndScores(model name: String) throws {
        let model = try ModelRegistry.load(directory: TestPaths.fixture("models/\(name)"))
        let (prompt, cases) = try Self.cases(name)
        #expect(cases.count >= 12)
        for entry in cases {
            let options = entry.generationOptions
            var job = try BeamGeneration(
                options: options, eosTokenIDs: model.eosTokenIDs, tokenizer: nil, promptTokens: prompt.count,
                contextPrefix: model.penaltyContext(promptIDs: prompt))
            let results = try job.run(from: try model.startSequence(promptIDs: prompt), model: model)
            #expect(results.map(\.ids) == entry.sequences, "\(name) \(entry.options)")
            let scores = job.hypotheses.map(\.score)
            #expect(scores.count == entry.scores.count, "\(name) \(entry.options)")
            #expect(Tolerance.maxAbsDifference(scores, entry.scores) <= 1e-4, "\(name) \(entry.options)")
            // The public path: the best result, the others as its alternatives.
            let best = try Generator.generate(model: model, promptIDs: prompt, options: options)
            #expect([best.ids] + best.alternatives.map(\.ids) == entry.sequences, "\(name) \(entry.options)")
            #expect(best.usage.completionTokens == entry.sequences[0].count)
            let eos = Set(options.eosTokenIDs ?? model.eosTokenIDs)
            #expect(best.finishReason == (eos.contains(best.ids.last ?? -1) ? .eos : .length))
        }
    }

    @Test func beamOptionsOutOfRangeAreNamed() {
        func problem(_ options: GenerationOptions) -> String? {
            do {
                try options.validate()
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(GenerationOptions(beams: BeamOptions(numBeams: 0))) == "num_beams must be 1-16, got 0")
        #expect(problem(GenerationOptions(beams: BeamOptions(numBeams: 17))) == "num_beams must be 1-16, got 17")
        #expect(
            problem(GenerationOptions(beams: BeamOptions(numBeams: 2, numReturnSequences: 3)))
                == "num_return_sequences must be 1-2 (at most num_beams), got 3")
        #expect(
            problem(GenerationOptions(beams: BeamOptions(numBeams: 2, lengthPenalty: .infinity)))
                == "length_penalty must be finite, got inf")
        #expect(
            problem(GenerationOptions(sampling: SamplingParameters(greedy: false), beams: BeamOptions(numBeams: 2)))
                == "num_beams must be 1 when sampling (beam search is greedy), got 2")
        #expect(
            problem(GenerationOptions(stop: ["x"], beams: BeamOptions(numBeams: 2)))
                == "stop must be empty with num_beams > 1, got 1 strings")
        #expect(problem(GenerationOptions(beams: BeamOptions(numBeams: 4, numReturnSequences: 4))) == nil)
    }

    @Test func zeroNewTokensEndAtOnceWithAnEmptySequence() throws {
        let model = try ModelRegistry.load(directory: TestPaths.fixture("models/gpt2_a"))
        let result = try Generator.generate(
            model: model, promptIDs: [3, 17],
            options: GenerationOptions(maxNewTokens: 0, beams: BeamOptions(numBeams: 3)))
        #expect(result.ids.isEmpty && result.finishReason == .length && result.usage.completionTokens == 0)
    }
}
