import Foundation
import Models
import Numerics
import TestSupport
import Testing

@Suite struct GPT2Tests {
    static let cases = ["gpt2_a", "gpt2_b", "gpt2_bf16"]

    @Test(arguments: cases, StepKernel.all)
    func promptAndStepLogitsAndGreedyIdsMatchTransformers(name: String, kernel: StepKernel) throws {
        let fixture = try ModelFixture(name)
        let model = try GPT2Model(directory: fixture.directory, rowKernel: kernel.rowKernel)
        let prompt = fixture.ids("prompt")
        let state = model.makeState()
        try kernel.run {
            let promptLogits = try #require(try model.forward(prompt, state: state, allLogits: true))
            #expect(Tolerance.maxAbsDifference(promptLogits.scalars, fixture.floats("prompt_logits")) <= 1e-4)
            let generated = try greedyDecode(state, against: fixture.rows("step_logits"))
            #expect(generated == fixture.ids("greedy_ids"))
        }
    }

    @Test(arguments: cases) func cachedDecodingEqualsFullRecompute(name: String) throws {
        let fixture = try ModelFixture(name)
        let model = try GPT2Model(directory: fixture.directory)
        let tokens = fixture.ids("prompt") + fixture.ids("greedy_ids")
        let all = try #require(try model.forward(tokens, state: model.makeState(), allLogits: true))
        let stepwise = model.makeState()
        for (position, token) in tokens.enumerated() {
            try model.forward([token], state: stepwise)
            #expect(Tolerance.maxAbsDifference(stepwise.logits, all.row(position)) <= 1e-4, "position \(position)")
        }
    }

    @Test(arguments: cases) func prefixEmbeddingsThenTokenIds(name: String) throws {
        let fixture = try ModelFixture(name)
        let model = try GPT2Model(directory: fixture.directory)
        let embedded = try model.embed(fixture.ids("prompt"))
        let z = fixture.floats("z")
        let input = try Tensor(shape: embedded.shape, scalars: zip(embedded.scalars, z).map { $0 + $1 })
        let state = model.makeState()
        let prefix = try #require(try model.forward(embeddings: input, state: state, allLogits: true))
        let expected = fixture.floats("z_logits")
        let vocabulary = model.vocabularySize
        #expect(Tolerance.maxAbsDifference(prefix.row(prefix.shape[0] - 1), Array(expected.prefix(vocabulary))) <= 1e-4)
        try state.append(fixture.int("z_next_token"))
        #expect(Tolerance.maxAbsDifference(state.logits, Array(expected.suffix(vocabulary))) <= 1e-4)
    }

    @Test func sequencesLongerThanThePositionTableAreRejected() throws {
        let model = try GPT2Model(directory: try ModelFixture("gpt2_b").directory)
        let state = model.makeState()
        try model.forward([Int32](repeating: 3, count: 24), state: state)
        #expect(throws: ModelError.sequenceTooLong(length: 25, maximum: 24)) { try state.append(3) }
    }

    @Test func registryLoadsByModelType() throws {
        let gpt2 = try ModelRegistry.load(directory: try ModelFixture("gpt2_a").directory)
        #expect(gpt2.modelType == "gpt2" && gpt2.vocabularySize == 80 && gpt2.eosTokenIDs == [0])
        let t5 = try ModelRegistry.load(directory: try ModelFixture("t5_v10").directory)
        #expect(t5.modelType == "t5" && t5.eosTokenIDs == [1])
    }
}
