import Foundation
import Models
import Numerics
import TestSupport
import Testing

/// A batched decoding step (the continuous-batching entry point) must give each sequence the logits it gets alone.
@Suite struct BatchStepTests {
    @Test func gpt2BatchStepMatchesSingleSequenceSteps() throws {
        let model = try GPT2Model(directory: TestPaths.fixture("models/gpt2_a"), rowKernel: .blas)
        let prompts: [[Int32]] = [[3, 17, 42], [5], [9, 9, 9, 9, 9, 2, 11]]
        let alone = prompts.map { _ in model.makeState() }
        let batched = prompts.map { _ in model.makeState() }
        for (index, prompt) in prompts.enumerated() {
            try model.forward(prompt, state: alone[index])
            try model.forward(prompt, state: batched[index])
        }
        for step in 0..<6 {
            let tokens = alone.map { argmax($0.logits) }
            for (state, token) in zip(alone, tokens) { try state.append(token) }
            try model.step(tokens, states: batched)
            for index in prompts.indices {
                #expect(batched[index].position == alone[index].position)
                #expect(Tolerance.maxAbsDifference(batched[index].logits, alone[index].logits) <= 1e-4, "step \(step)")
            }
        }
        #expect(throws: ModelError.invalidBatch(reason: "the same sequence appears twice in one step")) {
            try model.step([1, 2], states: [batched[0], batched[0]])
        }
        let other = try GPT2Model(directory: TestPaths.fixture("models/gpt2_a"))
        #expect(throws: ModelError.invalidBatch(reason: "a sequence in the batch was not started by this GPT-2 model"))
        {
            try other.step([1], sequences: [batched[0]])
        }
    }

    @Test(arguments: StepKernel.invariantVariants)
    func batchInvariantKernelsMakeBatchedStepsBitIdentical(kernel: StepKernel) throws {
        let gpt2 = try GPT2Model(directory: TestPaths.fixture("models/gpt2_b"), rowKernel: .batchInvariant)
        let t5 = try T5Model(directory: TestPaths.fixture("models/t5_v10"), rowKernel: .batchInvariant)
        try kernel.run { try expectBatchedStepsEqualSingleSteps([gpt2, t5]) }
        let encoded = try t5.encoder.encode(batch: [[4], [5, 17, 33, 2]].map { try t5.encoder.embed($0) })
        #expect(encoded[0] == (try t5.encoder.encode([4])))
        #expect(encoded[1] == (try t5.encoder.encode([5, 17, 33, 2])))
    }

    /// Each model steps three sequences alone and the same three batched, expecting identical logits.
    private func expectBatchedStepsEqualSingleSteps(_ models: [any LanguageModel]) throws {
        for model in models {
            let prompts: [[Int32]] = [[3, 17, 42], [5], [9, 9, 9, 9, 9, 2, 11]]
            let alone = try prompts.map { try model.startSequence(promptIDs: $0) }
            let batched = try prompts.map { try model.startSequence(promptIDs: $0) }
            for _ in 0..<5 {
                let tokens = alone.map { argmax($0.logits) }
                for (sequence, token) in zip(alone, tokens) { try sequence.append(token) }
                try model.step(tokens, sequences: batched)
                for index in prompts.indices {
                    #expect(batched[index].logits == alone[index].logits, "\(model.modelType) sequence \(index)")
                }
            }
        }
    }

    @Test(arguments: StepKernel.invariantVariants)
    func batchesLargerThanTheInvariantKernelLimitStayBitIdentical(kernel: StepKernel) throws {
        let model = try GPT2Model(directory: TestPaths.fixture("models/gpt2_b"), rowKernel: .batchInvariant)
        let count = RowKernel.invariantRows + 6
        let prompts = (0..<count).map { [Int32($0 % 70), Int32(($0 * 7) % 70)] }
        let (alone, batched, tokens) = try kernel.run {
            let alone = try prompts.map { try model.startSequence(promptIDs: $0) }
            let batched = try prompts.map { try model.startSequence(promptIDs: $0) }
            let tokens = alone.map { argmax($0.logits) }
            for (sequence, token) in zip(alone, tokens) { try sequence.append(token) }
            try model.step(tokens, sequences: batched)
            return (alone, batched, tokens)
        }
        #expect(zip(batched, alone).allSatisfy { $0.logits == $1.logits })
        #expect(throws: ModelError.tokenOutOfRange(id: 99, vocabularySize: 72)) {
            try model.step(tokens.dropLast() + [99], sequences: batched)
        }
        #expect(batched.allSatisfy { $0.position == 3 })
    }

    @Test func t5EncoderBatchMatchesSinglePrompts() throws {
        let model = try T5Model(directory: TestPaths.fixture("models/t5_v10"))
        let prompts: [[Int32]] = [
            [5, 17, 33, 2, 90, 41, 41, 7, 64, 12, 3, 29, 77, 50, 8, 1], [4, 1], [30, 31, 32, 1],
        ]
        let batch = try model.encoder.encode(batch: prompts.map { try model.encoder.embed($0) })
        #expect(batch.count == prompts.count)
        for (prompt, encoded) in zip(prompts, batch) {
            let alone = try model.encoder.encode(prompt)
            #expect(encoded.shape == alone.shape)
            #expect(Tolerance.maxAbsDifference(encoded.scalars, alone.scalars) <= 1e-4)
        }
        let expected = try ModelFixture("t5_v10").floats("encoder_hidden")
        #expect(Tolerance.maxAbsDifference(batch[0].scalars, expected) <= 1e-4)
    }

    @Test func t5BatchStepMatchesSingleSequenceSteps() throws {
        let model = try T5Model(directory: TestPaths.fixture("models/t5_v11"), rowKernel: .blas)
        let prompts: [[Int32]] = [[9, 4, 71, 22, 3, 58, 13, 1], [5, 6], [30, 31, 32, 33, 1]]
        let alone = try prompts.map { try model.startSequence(encoderOutput: try model.encoder.encode($0)) }
        let batched = try prompts.map { try model.startSequence(encoderOutput: try model.encoder.encode($0)) }
        // Let the sequences drift apart in length before batching them.
        try alone[1].append(7)
        try batched[1].append(7)
        for step in 0..<6 {
            let tokens = alone.map { argmax($0.logits) }
            for (sequence, token) in zip(alone, tokens) { try sequence.append(token) }
            try model.step(tokens, sequences: batched)
            for index in prompts.indices {
                #expect(batched[index].position == alone[index].position)
                #expect(Tolerance.maxAbsDifference(batched[index].logits, alone[index].logits) <= 1e-4, "step \(step)")
            }
        }
    }

    /// Beam search forks a sequence: the fork continues exactly as the original would, and stepping either one
    /// leaves the other as it was (own KV cache, shared read-only cross-attention K/V).
    @Test func forkedSequencesContinueIndependently() throws {
        let models: [any LanguageModel] = [
            try T5Model(directory: TestPaths.fixture("models/t5_v11")),
            try GPT2Model(directory: TestPaths.fixture("models/gpt2_b")),
        ]
        for model in models {
            let original = try model.startSequence(promptIDs: [9, 4, 71, 22, 3])
            try original.append(7)
            let fork = original.fork()
            #expect(fork.position == original.position && fork.logits == original.logits, "\(model.modelType)")
            try fork.append(11)
            let reference = try model.startSequence(promptIDs: [9, 4, 71, 22, 3])
            for token: Int32 in [7, 11] { try reference.append(token) }
            #expect(fork.logits == reference.logits, "\(model.modelType): fork after [7, 11]")
            try model.step([12, 13], sequences: [original, fork])
            let other = try model.startSequence(promptIDs: [9, 4, 71, 22, 3])
            for token: Int32 in [7, 12] { try other.append(token) }
            try reference.append(13)
            #expect(original.logits == other.logits, "\(model.modelType): original after [7, 12]")
            #expect(fork.logits == reference.logits, "\(model.modelType): fork after [7, 11, 13]")
        }
    }
}
