import Foundation
import Models
import Numerics
import TestSupport
import Testing

@Suite struct T5Tests {
    static let cases = ["t5_v10", "t5_v11", "t5_v10_legacy", "t5_v10_f16"]

    @Test(arguments: cases, [RowKernel.batchInvariant, .blas])
    func encoderHiddenStatesMatchTransformers(name: String, kernel: RowKernel) throws {
        let fixture = try ModelFixture(name)
        let model = try T5Model(directory: fixture.directory, rowKernel: kernel)
        let hidden = try model.encoder.encode(fixture.ids("prompt"))
        #expect(hidden.shape == [fixture.ids("prompt").count, model.configuration.modelDimension])
        #expect(Tolerance.maxAbsDifference(hidden.scalars, fixture.floats("encoder_hidden")) <= 1e-4)
    }

    @Test(arguments: cases, StepKernel.all)
    func everyStepsLogitsAndGreedyIdsMatchTransformers(name: String, kernel: StepKernel) throws {
        let fixture = try ModelFixture(name)
        let model = try T5Model(directory: fixture.directory, rowKernel: kernel.rowKernel)
        let expected = fixture.rows("step_logits")
        try kernel.run {
            let sequence = try model.startSequence(promptIDs: fixture.ids("prompt"))
            let generated = try greedyDecode(sequence, against: expected)
            #expect(generated == fixture.ids("greedy_ids"))
        }
    }

    @Test(arguments: cases) func cachedDecodingEqualsFullRecompute(name: String) throws {
        let fixture = try ModelFixture(name)
        let model = try T5Model(directory: fixture.directory)
        let encoded = try model.encoder.encode(fixture.ids("prompt"))
        let tokens = [model.configuration.decoderStartTokenID] + fixture.ids("greedy_ids").dropLast()
        let full = try model.decoder.makeState(encoderOutput: encoded)
        let all = try #require(try model.decoder.forward(tokens, state: full, allLogits: true))
        let stepwise = try model.decoder.makeState(encoderOutput: encoded)
        for (position, token) in tokens.enumerated() {
            try model.decoder.forward([token], state: stepwise)
            #expect(Tolerance.maxAbsDifference(stepwise.logits, all.row(position)) <= 1e-4, "position \(position)")
        }
        #expect(Tolerance.maxAbsDifference(full.logits, stepwise.logits) <= 1e-4)
    }

    @Test(arguments: cases) func encoderAcceptsInputEmbeddings(name: String) throws {
        let fixture = try ModelFixture(name)
        let model = try T5Model(directory: fixture.directory)
        let prompt = fixture.ids("prompt")
        var embeddings = try model.encoder.embed(prompt)
        let z = try Tensor(shape: embeddings.shape, scalars: fixture.floats("z"))
        embeddings = try Tensor(shape: embeddings.shape, scalars: zip(embeddings.scalars, z.scalars).map { $0 + $1 })
        let hidden = try model.encoder.encode(embeddings: embeddings)
        #expect(Tolerance.maxAbsDifference(hidden.scalars, fixture.floats("z_encoder_hidden")) <= 1e-4)
        let sequence = try model.startSequence(encoderOutput: hidden)
        #expect(Tolerance.maxAbsDifference(sequence.logits, fixture.floats("z_first_logits")) <= 1e-4)
    }

    @Test func encoderOnlyLoadIgnoresDecoderAndHeadExplicitly() throws {
        let fixture = try ModelFixture("t5_v11")
        let encoder = try T5Encoder(directory: fixture.directory)
        #expect(encoder.ignoredTensors.contains("lm_head.weight"))
        #expect(encoder.ignoredTensors.contains("decoder.final_layer_norm.weight"))
        #expect(encoder.ignoredTensors.allSatisfy { $0.hasPrefix("decoder.") || $0 == "lm_head.weight" })
        let hidden = try encoder.encode(fixture.ids("prompt"))
        #expect(Tolerance.maxAbsDifference(hidden.scalars, fixture.floats("encoder_hidden")) <= 1e-4)
    }

    @Test func configReadsBothTransformersGenerations() throws {
        let modern = try T5Model(directory: try ModelFixture("t5_v10").directory).configuration
        #expect(modern.scaleDecoderOutputs && modern.activation == .relu && !modern.isGatedActivation)
        #expect(modern.headDimension * modern.heads != modern.modelDimension)
        let legacy = try T5Model(directory: try ModelFixture("t5_v11").directory).configuration
        #expect(!legacy.scaleDecoderOutputs && legacy.activation == .geluNew && legacy.isGatedActivation)
        #expect(legacy.decoderLayers == 3 && legacy.encoderLayers == 2)
        #expect(legacy.eosTokenIDs == [1] && legacy.decoderStartTokenID == 0)
    }

    @Test func paddedEncoderKeysAreNotAttended() throws {
        let model = try T5Model(directory: try ModelFixture("t5_v10").directory)
        let prompt: [Int32] = [5, 17, 33, 2]
        let alone = try model.encoder.encode(prompt)
        let padded = try model.encoder.encode(
            embeddings: try model.encoder.embed(prompt + [0, 0]),
            keyMask: [true, true, true, true, false, false])
        #expect(Tolerance.maxAbsDifference(alone.scalars, Array(padded.scalars.prefix(alone.count))) <= 1e-5)
    }

    @Test func outOfVocabularyPromptIsRejected() throws {
        let model = try T5Model(directory: try ModelFixture("t5_v10").directory)
        #expect(throws: ModelError.tokenOutOfRange(id: 96, vocabularySize: 96)) {
            try model.startSequence(promptIDs: [3, 96])
        }
        #expect(throws: ModelError.emptyInput(what: "prompt")) { try model.startSequence(promptIDs: []) }
    }
}
