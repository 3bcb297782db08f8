import Foundation
import Models
import Numerics
import TestSupport
import Testing

/// The Python reference's outputs on one fixture bundle (scripts/fixtures/bundles.py): prompts with ids and greedy
/// ids in `expected/<name>.json`, tensors in `expected/<name>.safetensors`.
struct BundleFixture {
    let directory: URL
    let prompts: [ExpectedPrompt]
    let steps: Int
    let tensors: [String: (shape: [Int], scalars: [Float])]

    init(_ name: String) throws {
        directory = TestPaths.fixture("bundles/\(name)")
        let expected = TestPaths.fixture("bundles/expected")
        let data = try Data(contentsOf: expected.appendingPathComponent("\(name).json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        steps = try #require(object["steps"] as? Int)
        prompts = try ExpectedPrompt.load(bundle: name)
        tensors = try Self.readSafetensors(expected.appendingPathComponent("\(name).safetensors"))
    }

    /// Greedy-decodes `sequence` for `steps` steps, expecting each step's logits within `tolerance` of the
    /// reference's `p<k>.step_logits`; returns the generated ids.
    func decodeAgainstReference(_ sequence: any DecodingSequence, prompt k: Int, tolerance: Float) throws -> [Int32] {
        let expected = try tensor("p\(k).step_logits")
        let vocabulary = expected.count / steps
        let rows = (0..<steps).map { Array(expected[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
        return try greedyDecode(sequence, against: rows, tolerance: tolerance, label: "prompt \(k) ")
    }

    /// Scalars of tensor `name` (F32 as is, F16 widened).
    func tensor(_ name: String) throws -> [Float] {
        try #require(tensors[name]?.scalars, "no tensor \(name)")
    }

    /// A minimal safetensors reader for the golden files (F32 and F16 only), independent of the code under test's
    /// loader.
    static func readSafetensors(_ url: URL) throws -> [String: (shape: [Int], scalars: [Float])] {
        let bytes = [UInt8](try Data(contentsOf: url))
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let header = try #require(
            try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any])
        var result: [String: (shape: [Int], scalars: [Float])] = [:]
        for (name, value) in header where name != "__metadata__" {
            let entry = try #require(value as? [String: Any])
            let offsets = try #require(entry["data_offsets"] as? [Int])
            let raw = Array(bytes[(8 + length + offsets[0])..<(8 + length + offsets[1])])
            let dtype: WireDType = try #require(["F32": .float32, "F16": .float16][entry["dtype"] as? String ?? ""])
            result[name] = (try #require(entry["shape"] as? [Int]), try WireRounding.widen(bytes: raw, dtype: dtype))
        }
        return result
    }
}

/// Swift vs the PyTorch reference forward (docs/bundle.md) on the four tiny random bundles: both SLM kinds, both
/// prompt_input modes; the tests that hold for either projector placement also run on `t5-add-decoder`
/// (DecoderPlacementTests has its stage-by-stage comparison).
@Suite struct BundleReferenceTests {
    /// The bundles whose projector runs on the encoder (Z on the wire).
    static let bundles = ["t5-add", "t5-projection_only", "gpt2-add", "gpt2-projection_only"]
    /// Every fixture bundle, both projector placements.
    static let allBundles = bundles + ["t5-add-decoder"]

    /// The fixtures' random T5s are well conditioned (initializer_factor 1, docs/bundle-swift.md), so H, P and every
    /// step's logits must match the reference within an absolute 1e-4, and greedy ids must be identical.
    static let tolerance: Float = 1e-4

    @Test(arguments: bundles) func tokenizationHiddenStatesAndProjectionMatchTheReference(name: String) throws {
        let fixture = try BundleFixture(name)
        let encoder = try PromptEncoder(bundle: try L2SBundle.load(directory: fixture.directory))
        for (k, prompt) in fixture.prompts.enumerated() {
            #expect(try encoder.tokenize(prompt.text) == prompt.inputIDs, "prompt \(k)")
            let hidden = try encoder.hiddenStates(prompt.inputIDs)
            let expectedHidden = try fixture.tensor("p\(k).hidden")
            #expect(Tolerance.maxAbsDifference(hidden, expectedHidden) <= Self.tolerance, "prompt \(k)")
            // The projector alone, on the reference's H: two linear layers, well within 1e-4.
            let expected = try fixture.tensor("p\(k).projection_float32")
            let projector = try #require(encoder.projector)
            let projected = try projector.project(expectedHidden, rows: prompt.inputIDs.count)
            #expect(Tolerance.maxAbsDifference(projected, expected) <= 1e-5, "prompt \(k)")
            // Rounding the reference's own P gives torch's wire values bit for bit.
            let wire = try fixture.tensor("p\(k).projection_wire")
            #expect(WireRounding.round(expected, to: .float16).map(\.bitPattern) == wire.map(\.bitPattern))
            // End to end: P within tolerance; Z equal except where P lies within float noise of a float16 rounding
            // boundary, where it may land one float16 step away.
            let projection = try #require(try encoder.encode([prompt.inputIDs]).first)
            #expect(Tolerance.maxAbsDifference(projection, expected) <= Self.tolerance, "prompt \(k)")
            let rounded = try #require(try encoder.encodeRounded([prompt.inputIDs]).first)
            #expect(rounded == WireRounding.round(projection, to: .float16))
            for index in rounded.indices where rounded[index] != wire[index] {
                let step = Float(Float16(wire[index]).ulp)
                let bound = abs(projection[index] - expected[index]) + step
                #expect(abs(rounded[index] - wire[index]) <= bound, "prompt \(k) element \(index)")
            }
        }
    }

    @Test(arguments: bundles) func everyStepsLogitsAndGreedyIdsMatchTheReference(name: String) throws {
        let fixture = try BundleFixture(name)
        let bundle = try L2SBundle.load(directory: fixture.directory)
        let slm = try ConditionedSLM(bundle: bundle)
        for (k, prompt) in fixture.prompts.enumerated() {
            // The SLM on the reference's Z (as the wire delivers it).
            let z = try fixture.tensor("p\(k).projection_wire")
            let inputs = try slm.promptInputs(promptIDs: prompt.inputIDs, projection: z)
            #expect(inputs.shape == [prompt.inputIDs.count, slm.width])
            #expect(
                Tolerance.maxAbsDifference(inputs.scalars, try fixture.tensor("p\(k).slm_prompt_inputs")) <= 1e-5,
                "prompt \(k)")
            let sequence = try slm.startSequence(promptIDs: prompt.inputIDs, encoding: z)
            let generated = try fixture.decodeAgainstReference(sequence, prompt: k, tolerance: Self.tolerance)
            #expect(generated == prompt.greedyIDs, "prompt \(k)")
        }
    }

    @Test(arguments: allBundles) func endToEndFromTextGivesTheReferenceGreedyIds(name: String) throws {
        let fixture = try BundleFixture(name)
        let bundle = try L2SBundle.load(directory: fixture.directory)
        let encoder = try PromptEncoder(bundle: bundle)
        let slm = try ConditionedSLM(bundle: bundle)
        for (k, prompt) in fixture.prompts.enumerated() {
            let ids = try encoder.tokenize(prompt.text)
            let encoding = try #require(try encoder.encodeRounded([ids]).first)
            let sequence = try slm.startSequence(promptIDs: ids, encoding: encoding)
            var generated: [Int32] = []
            for _ in 0..<fixture.steps {
                let next = argmax(sequence.logits)
                generated.append(next)
                try sequence.append(next)
            }
            #expect(generated == prompt.greedyIDs, "prompt \(k)")
        }
    }

    @Test(arguments: allBundles) func sequencesFromTheWireBytesEqualInProcessOnes(name: String) throws {
        let fixture = try BundleFixture(name)
        let bundle = try L2SBundle.load(directory: fixture.directory)
        let encoder = try PromptEncoder(bundle: bundle)
        let slm = try ConditionedSLM(bundle: bundle)
        let prompts = fixture.prompts.map(\.inputIDs)
        let batched = try encoder.encode(prompts)
        for (k, ids) in prompts.enumerated() {
            #expect(try encoder.encode([ids]) == [batched[k]], "prompt \(k) alone vs in a batch")
            let bytes = WireRounding.narrow(batched[k], to: bundle.wireDType)
            #expect(bytes.count == ids.count * slm.encodingWidth * bundle.wireDType.elementSize)
            #expect(encoder.encodingWidth == slm.encodingWidth)
            let received = try WireRounding.widen(bytes: bytes, dtype: bundle.wireDType)
            #expect(received == WireRounding.round(batched[k], to: bundle.wireDType))
            let a = try slm.startSequence(promptIDs: ids, encoding: received)
            let b = try slm.startSequence(promptIDs: ids, encoding: try encoder.encodeRounded([ids])[0])
            #expect(a.logits == b.logits)
        }
    }

    /// What a decoder worker does: conditioned sequences of several jobs stepped together by `model.step`, each
    /// bit-identical to the same sequence stepped alone (batch-invariant kernels), so the ids equal `l2s run`'s.
    @Test(arguments: allBundles) func batchedStepsOfConditionedSequencesEqualSingleSteps(name: String) throws {
        let fixture = try BundleFixture(name)
        let bundle = try L2SBundle.load(directory: fixture.directory)
        let encoder = try PromptEncoder(bundle: bundle)
        let slm = try ConditionedSLM(bundle: bundle)
        let prompts = fixture.prompts.map(\.inputIDs)
        let encodings = try encoder.encodeRounded(prompts)
        let batched = try zip(prompts, encodings).map { try slm.startSequence(promptIDs: $0, encoding: $1) }
        let single = try zip(prompts, encodings).map { try slm.startSequence(promptIDs: $0, encoding: $1) }
        var generated = [[Int32]](repeating: [], count: prompts.count)
        for _ in 0..<fixture.steps {
            let tokens = batched.map { argmax($0.logits) }
            for (index, token) in tokens.enumerated() {
                #expect(batched[index].logits == single[index].logits)
                generated[index].append(token)
                try single[index].append(token)
            }
            try slm.model.step(tokens, sequences: batched)
        }
        #expect(generated == fixture.prompts.map(\.greedyIDs))
    }

    @Test func stackedBlasBatchAgreesWithPromptByPrompt() throws {
        let fixture = try BundleFixture("t5-add")
        let bundle = try L2SBundle.load(directory: fixture.directory)
        let stacked = try PromptEncoder(bundle: bundle, rowKernel: .blas)
        let invariant = try PromptEncoder(bundle: bundle)
        let prompts = fixture.prompts.map(\.inputIDs) + [[3, 1]]
        let together = try stacked.encode(prompts)
        let alone = try invariant.encode(prompts)
        #expect(together.map(\.count) == prompts.map { $0.count * 24 })
        // Float32 noise only (a different summation order).
        for (a, b) in zip(together, alone) { #expect(Tolerance.maxAbsDifference(a, b) <= 1e-4) }
        #expect(try stacked.encode([]) == [])
    }

    @Test func bundleExposesWhatTheServicesNeed() throws {
        let bundle = try L2SBundle.load(directory: TestPaths.fixture("bundles/gpt2-projection_only"))
        #expect(bundle.promptInput == .projectionOnly)
        #expect(bundle.wireDType == .float16)
        #expect(bundle.projectorRunsOn == .encoder)
        #expect(bundle.slmKind == .decoderOnly)
        #expect(bundle.decoderStartTokenID == 0 && bundle.eosTokenID == 0)
        #expect(bundle.llmFingerprint == "36ea8f953e0dafb24c7911754d265a8847f3a62aeff12133f1280a31d6e00354")
        #expect(bundle.projectorFingerprint == "a4e89ee324613b745d408f4fd6053cc377febf6dc9439d0df09cdf6f93a2c99e")
        #expect(bundle.llmTokenizerFingerprint != bundle.slmTokenizerFingerprint)
        #expect(bundle.llmDirectory.standardizedFileURL == TestPaths.fixture("bundles/t5-add/llm").standardizedFileURL)
        #expect((bundle.llmWidth, bundle.slmWidth) == (32, 24))
        #expect(bundle.encodingWidth == 24, "Z travels")
        let slm = try ConditionedSLM(bundle: bundle)
        #expect(slm.eosTokenIDs == [0])
        #expect(slm.model.modelType == "gpt2")
    }
}
