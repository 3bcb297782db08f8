import Foundation
import Generation
import Models
import TestSupport
import Testing

/// `--logprobs N` against transformers (Tests/Fixtures/logprobs, written by scripts/fixtures/logprobs.py): the
/// log-softmax of `generate`'s `output_scores` (the logits after its processors) at each greedy step, the chosen id's
/// value and the top 5, within 1e-4; and the option's limits and JSON shape.
@Suite struct LogprobsTests {
    struct Case {
        let options: [String: Double]
        let ids: [Int32]
        let logprobs: [[String: Any]]
    }

    static func cases(_ model: String) throws -> (prompt: [Int32], top: Int, cases: [Case]) {
        let data = try Data(contentsOf: TestPaths.fixture("logprobs/\(model).json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let prompt = (object["prompt"] as? [NSNumber] ?? []).map { Int32($0.intValue) }
        let cases = (object["cases"] as? [[String: Any]] ?? []).map { entry in
            Case(
                options: (entry["options"] as? [String: NSNumber] ?? [:]).mapValues(\.doubleValue),
                ids: (entry["ids"] as? [NSNumber] ?? []).map { Int32($0.intValue) },
                logprobs: entry["logprobs"] as? [[String: Any]] ?? [])
        }
        return (prompt, (object["top"] as? NSNumber)?.intValue ?? 0, cases)
    }

    @Test(arguments: ["t5_v10", "t5_v11", "gpt2_a", "gpt2_b"])
    func greedyLogprobsAreTransformers(model name: String) throws {
        let model = try ModelRegistry.load(directory: TestPaths.fixture("models/\(name)"))
        let (prompt, top, cases) = try Self.cases(name)
        #expect(cases.count >= 2 && top == 5)
        for entry in cases {
            let options = GenerationOptions(
                maxNewTokens: entry.ids.count, minNewTokens: Int(entry.options["min_new_tokens"] ?? 0),
                sampling: SamplingParameters(repetitionPenalty: Float(entry.options["repetition_penalty"] ?? 1)),
                logprobs: top)
            let result = try Generator.generate(model: model, promptIDs: prompt, options: options)
            #expect(result.ids == entry.ids, "\(name) \(entry.options)")
            let logprobs = try #require(result.logprobs)
            #expect(logprobs.count == entry.logprobs.count)
            for (step, (actual, expected)) in zip(logprobs, entry.logprobs).enumerated() {
                let label = "\(name) \(entry.options) step \(step)"
                #expect(actual.id == Int32((expected["id"] as? NSNumber)?.intValue ?? -1), "\(label)")
                let value = (expected["logprob"] as? NSNumber)?.floatValue ?? .nan
                #expect(abs(actual.logprob - value) <= 1e-4, "\(label): \(actual.logprob) vs \(value)")
                let pairs = (expected["top"] as? [[NSNumber]] ?? []).map { (Int32($0[0].intValue), $0[1].floatValue) }
                #expect(actual.top.map(\.id) == pairs.map(\.0), "\(label)")
                let worst = zip(actual.top, pairs).map { abs($0.logprob - $1.1) }.max() ?? .infinity
                #expect(worst <= 1e-4, "\(label): top off by \(worst)")
            }
        }
    }

    @Test func topTiesGoToTheLowerIDAndBannedIDsRankLast() throws {
        let entry = TokenLogprob.make(processed: [1, 3, 2, 3, -.infinity], chosen: 3, top: 3)
        #expect(entry.top.map(\.id) == [1, 3, 2])
        #expect(try #require(entry.top.first).logprob == entry.logprob)
        #expect(TokenLogprob.make(processed: [0, 0], chosen: 1, top: 0).top.isEmpty)
        let all = TokenLogprob.make(processed: [0, 1, -.infinity], chosen: 0, top: 20)
        #expect(all.top.map(\.id) == [1, 0, 2])
        #expect(all.top.last?.logprob == -.infinity)
    }

    @Test(arguments: [-1, 21, 1000])
    func outOfRangeIsNamed(value: Int) {
        let error = #expect(throws: GenerationOptionError.self) { try GenerationOptions(logprobs: value).validate() }
        #expect(error?.description == "logprobs must be 0-20, got \(value)")
    }

    @Test func beamSearchRefusesLogprobs() {
        let options = GenerationOptions(beams: BeamOptions(numBeams: 2), logprobs: 0)
        let error = #expect(throws: GenerationOptionError.self) { try options.validate() }
        #expect(error?.description == "logprobs must be off with num_beams > 1, got 0")
    }

    @Test func resultsPrintLogprobsOnlyWhenAsked() {
        var result = GenerationResult(
            ids: [4], finishReason: .length, usage: Usage(promptTokens: 1, completionTokens: 1))
        #expect(!result.jsonLine.contains("logprobs"))
        #expect(!GenerationResult.deltaLine("a", ids: [4]).contains("logprobs"))
        result.logprobs = [TokenLogprob(id: 4, logprob: -0.5, top: [TopLogprob(id: 4, logprob: -0.5)])]
        #expect(result.jsonLine.hasSuffix(#","logprobs":[{"id":4,"logprob":-0.5,"top":[[4,-0.5]]}]}"#))
        #expect(
            GenerationResult.deltaLine("a", ids: [4], logprobs: result.logprobs)
                == #"{"delta":"a","ids":[4],"logprobs":[{"id":4,"logprob":-0.5,"top":[[4,-0.5]]}]}"#)
        #expect(TokenLogprob(id: 1, logprob: -.infinity).json == #"{"id":1,"logprob":null,"top":[]}"#)
    }
}
