import Foundation
import Models
import Numerics
import TestSupport
import Testing

/// `projector.runs_on: decoder` (docs/bundle.md step 4) on the `t5-add-decoder` fixture against the PyTorch reference:
/// the encoder ships Hw = wire(H) [m, d_llm]; the decoder computes Z = projector(Hw) in float32 and uses it unrounded.
@Suite struct DecoderPlacementTests {
    static let name = "t5-add-decoder"

    @Test func theEncoderShipsTheHiddenStatesRoundedToTheWireDType() throws {
        let fixture = try BundleFixture(Self.name)
        let bundle = try L2SBundle.load(directory: fixture.directory)
        #expect(bundle.projectorRunsOn == .decoder)
        let encoder = try PromptEncoder(bundle: bundle)
        #expect(encoder.projector == nil, "the encoder side loads no projector")
        #expect(encoder.encodingWidth == bundle.llmWidth && bundle.encodingWidth == 32)
        for (k, prompt) in fixture.prompts.enumerated() {
            #expect(try encoder.tokenize(prompt.text) == prompt.inputIDs, "prompt \(k)")
            let expectedHidden = try fixture.tensor("p\(k).hidden")
            let hidden = try encoder.hiddenStates(prompt.inputIDs)
            #expect(Tolerance.maxAbsDifference(hidden, expectedHidden) <= 1e-4, "prompt \(k)")
            // Rounding the reference's own H gives torch's wire bytes bit for bit.
            let wire = try fixture.tensor("p\(k).hidden_wire")
            #expect(WireRounding.round(expectedHidden, to: .float16).map(\.bitPattern) == wire.map(\.bitPattern))
            // The encoding is H itself. Swift's Hw equals torch's except where H lies within float32 noise of a float16
            // rounding midpoint, where it lands one float16 step away (as Z does for runs_on encoder).
            #expect(try encoder.encode([prompt.inputIDs]) == [hidden])
            let rounded = try #require(try encoder.encodeRounded([prompt.inputIDs]).first)
            #expect(rounded == WireRounding.round(hidden, to: .float16))
            var differing = 0
            for index in rounded.indices where rounded[index] != wire[index] {
                differing += 1
                let step = Float(Float16(wire[index]).ulp)
                #expect(abs(rounded[index] - wire[index]) <= step, "prompt \(k) element \(index)")
                #expect(abs(hidden[index] - expectedHidden[index]) <= 1e-4, "prompt \(k) element \(index)")
            }
            #expect(
                differing * 100 <= rounded.count, "prompt \(k): \(differing) of \(rounded.count) Hw elements differ")
        }
    }

    @Test func theDecoderProjectsTheReceivedHiddenStatesAndMatchesEveryStep() throws {
        let fixture = try BundleFixture(Self.name)
        let slm = try ConditionedSLM(bundle: try L2SBundle.load(directory: fixture.directory))
        #expect(slm.encodingWidth == 32 && slm.width == 24)
        #expect(slm.encodingProjector.projector != nil, "the decoder side loads the projector")
        for (k, prompt) in fixture.prompts.enumerated() {
            let hw = try fixture.tensor("p\(k).hidden_wire")
            let z = try slm.encodingProjector.projection(of: hw, rows: prompt.inputIDs.count)
            #expect(
                Tolerance.maxAbsDifference(z, try fixture.tensor("p\(k).projection_float32")) <= 1e-5, "prompt \(k)")
            // Z is used as projected: no second rounding (torch's Z is not a float16 grid, and neither is ours).
            #expect(WireRounding.round(z, to: .float16) != z)
            let inputs = try slm.promptInputs(promptIDs: prompt.inputIDs, projection: z)
            #expect(
                Tolerance.maxAbsDifference(inputs.scalars, try fixture.tensor("p\(k).slm_prompt_inputs")) <= 1e-5,
                "prompt \(k)")
            let sequence = try slm.startSequence(promptIDs: prompt.inputIDs, encoding: hw)
            let generated = try fixture.decodeAgainstReference(sequence, prompt: k, tolerance: 1e-4)
            #expect(generated == prompt.greedyIDs, "prompt \(k)")
        }
    }

    @Test func aDecoderRefusesAnEncodingOfAnotherWidthOrWithNonFiniteValues() throws {
        let slm = try ConditionedSLM(bundle: try L2SBundle.load(directory: TestPaths.fixture("bundles/\(Self.name)")))
        let ids: [Int32] = [3, 4, 1]
        // Z-shaped (d_slm 24) where Hw (d_llm 32) is due: an encoder of a `runs_on: encoder` bundle, say.
        #expect(
            throws: ModelError.inputShapeMismatch(
                what: "encoding Hw (floats of 3 prompt positions x d_llm 32; projector.runs_on decoder)",
                expected: [96], actual: [72])
        ) {
            try slm.startSequence(promptIDs: ids, encoding: [Float](repeating: 0.5, count: 3 * 24))
        }
        var poisoned = [Float](repeating: 0.5, count: 3 * 32)
        poisoned[40] = .infinity
        #expect(throws: ModelError.nonFiniteInput(what: "encoding Hw", index: 40, value: .infinity)) {
            try slm.startSequence(promptIDs: ids, encoding: poisoned)
        }
        #expect(throws: ModelError.emptyInput(what: "prompt")) {
            try slm.encodingProjector.projection(of: [], rows: 0)
        }
        #expect(slm.encodingProjector.expectedEncoding.contains("d_llm"))
    }
}
