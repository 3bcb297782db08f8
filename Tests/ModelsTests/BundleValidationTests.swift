import Foundation
import Models
import Numerics
import TestSupport
import Testing

/// Bad bundles (docs/bundle.md "Validation") and bad inputs to the LLM-to-SLM entry points: each must fail with an
/// error naming the field and carrying the expected and actual values.
@Suite struct BundleValidationTests {
    struct BadCase: CustomStringConvertible, Sendable {
        let bundle: String
        let field: String
        var description: String { bundle }
    }

    static let badCases: [BadCase] = {
        guard let data = try? Data(contentsOf: TestPaths.fixture("bundles/bad/cases.json")),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        return list.compactMap { entry in
            guard let bundle = entry["bundle"] as? String, let field = entry["field"] as? String else { return nil }
            return BadCase(bundle: bundle, field: field)
        }
    }()

    @Test func everyValidationRuleHasABadBundle() {
        #expect(Self.badCases.count >= 12)
    }

    @Test(arguments: badCases) func badBundleIsRejectedNamingTheField(badCase: BadCase) throws {
        let directory = TestPaths.fixture("bundles/bad/\(badCase.bundle)")
        do {
            _ = try L2SBundle.load(directory: directory)
            Issue.record("\(badCase.bundle) loaded without error")
        } catch ModelError.invalidBundle(let path, let field, let expected, let actual) {
            #expect(field == badCase.field, "\(path): \(field): expected \(expected), actual \(actual)")
            #expect(!expected.isEmpty && !actual.isEmpty)
            #expect(path.hasPrefix(directory.path) || path.contains("bundles/"))
        }
    }

    @Test func fingerprintMismatchReportsBothValues() throws {
        let error = #expect(throws: ModelError.self) {
            try L2SBundle.load(directory: TestPaths.fixture("bundles/bad/projector-fingerprint-mismatch"))
        }
        let text = "\(try #require(error))"
        #expect(text.contains("projector.fingerprint"))
        #expect(text.contains("070d546398524e3f5d0b09dc8c1d9c829daf911393a36391244d3afa87c687d4"))
        #expect(text.contains("270d546398524e3f5d0b09dc8c1d9c829daf911393a36391244d3afa87c687d4"))
    }

    /// Copies a good bundle's manifest next to its parts with one change and loads it.
    func loadEdited(_ edit: (inout [String: Any]) -> Void) throws -> L2SBundle {
        let source = TestPaths.fixture("bundles/t5-add")
        var manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("l2s.json")))
                as? [String: Any])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-bundle-\(UUID().uuidString)")
        // Manifest paths are relative to the bundle: climb from the temporary directory to / and down to the source.
        let up = String(repeating: "../", count: directory.standardizedFileURL.pathComponents.count - 1)
        for key in ["llm", "slm", "projector"] {
            var entry = try #require(manifest[key] as? [String: Any])
            entry["path"] = up + source.appendingPathComponent(try #require(entry["path"] as? String)).path.dropFirst()
            manifest[key] = entry
        }
        edit(&manifest)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try JSONSerialization.data(withJSONObject: manifest).write(to: directory.appendingPathComponent("l2s.json"))
        return try L2SBundle.load(directory: directory)
    }

    func field(of body: () throws -> Void) -> String? {
        do {
            try body()
        } catch ModelError.invalidBundle(_, let field, _, _) {
            return field
        } catch {
            return "other error: \(error)"
        }
        return nil
    }

    @Test func manifestFieldsOfTheWrongTypeOrRangeAreNamed() throws {
        #expect(try loadEdited { _ in }.eosTokenID == 1)
        #expect(field { _ = try loadEdited { $0["eos_token_id"] = 120 } } == "eos_token_id")
        #expect(field { _ = try loadEdited { $0["decoder_start_token_id"] = 500 } } == "decoder_start_token_id")
        #expect(field { _ = try loadEdited { $0["eos_token_id"] = true } } == "eos_token_id")
        #expect(field { _ = try loadEdited { $0["format_version"] = 1.5 } } == "format_version")
        #expect(field { _ = try loadEdited { $0.removeValue(forKey: "wire_dtype") } } == "wire_dtype")
        #expect(field { _ = try loadEdited { $0["llm"] = "llm" } } == "llm")
        #expect(
            field {
                _ = try loadEdited {
                    var projector = $0["projector"] as? [String: Any] ?? [:]
                    projector["runs_on"] = "gpu"
                    $0["projector"] = projector
                }
            } == "projector.runs_on")
        #expect(
            field {
                _ = try loadEdited {
                    var projector = $0["projector"] as? [String: Any] ?? [:]
                    projector["activation"] = "gelu"
                    $0["projector"] = projector
                }
            } == "projector.activation")
        #expect(
            field {
                _ = try loadEdited {
                    var projector = $0["projector"] as? [String: Any] ?? [:]
                    projector["d_out"] = 25
                    $0["projector"] = projector
                }
            } == "projector.d_out")
        #expect(
            field {
                _ = try loadEdited {
                    var llm = $0["llm"] as? [String: Any] ?? [:]
                    llm["tokenizer_files"] = ["spiece.model", "vocab.json"]
                    $0["llm"] = llm
                }
            } == "llm.tokenizer_files")
        #expect(
            field {
                _ = try loadEdited {
                    var slm = $0["slm"] as? [String: Any] ?? [:]
                    slm["fingerprint"] = "ABC"
                    $0["slm"] = slm
                }
            } == "slm.fingerprint")
        #expect(field { _ = try L2SBundle.load(directory: TestPaths.fixture("bundles/bad")) } == "l2s.json")
    }

    @Test func badInputsToTheEncoderAndTheSLMAreTypedErrors() throws {
        let bundle = try L2SBundle.load(directory: TestPaths.fixture("bundles/gpt2-add"))
        let encoder = try PromptEncoder(bundle: bundle, maxPromptTokens: 8)
        let reference = try ExpectedPrompt.load(bundle: "gpt2-add")[0]
        #expect(throws: ModelError.promptTooLong(tokens: reference.inputIDs.count, limit: 8)) {
            try encoder.tokenize(reference.text)
        }
        #expect(throws: ModelError.promptTooLong(tokens: 9, limit: 8)) {
            try encoder.encode([[3], Array(repeating: 3, count: 9)])
        }
        #expect(throws: ModelError.emptyInput(what: "prompt")) { try encoder.encode([[]]) }
        #expect(throws: ModelError.tokenOutOfRange(id: 120, vocabularySize: 120)) { try encoder.encode([[3, 120]]) }

        let slm = try ConditionedSLM(bundle: bundle)
        let z = [Float](repeating: 0.5, count: 2 * slm.width)
        #expect(
            throws: ModelError.inputShapeMismatch(
                what: "projection Z (floats of 3 prompt positions x d_slm 24)", expected: [72], actual: [48])
        ) {
            try slm.startSequence(promptIDs: [3, 4, 1], encoding: z)
        }
        var poisoned = [Float](repeating: 0.5, count: 3 * slm.width)
        poisoned[30] = .nan
        #expect(throws: ModelError.self) { try slm.startSequence(promptIDs: [3, 4, 1], encoding: poisoned) }
        poisoned[30] = -.infinity
        #expect(throws: ModelError.nonFiniteInput(what: "projection Z", index: 30, value: -.infinity)) {
            try slm.startSequence(promptIDs: [3, 4, 1], encoding: poisoned)
        }
        #expect(throws: ModelError.tokenOutOfRange(id: 999, vocabularySize: 120)) {
            try slm.startSequence(promptIDs: [3, 999], encoding: z)
        }
        // n_positions 64: 63 prompt positions + the separator fit, 64 do not.
        #expect(slm.maxPromptTokens(newTokens: 0) == 63)
        let long = [Int32](repeating: 3, count: 64)
        #expect(throws: ModelError.sequenceTooLong(length: 65, maximum: 64)) {
            try slm.startSequence(promptIDs: long, encoding: [Float](repeating: 0, count: 64 * slm.width))
        }
        let fits = try slm.startSequence(
            promptIDs: Array(long.dropLast()), encoding: [Float](repeating: 0, count: 63 * slm.width))
        #expect(fits.position == 64)
        #expect(throws: ModelError.sequenceTooLong(length: 65, maximum: 64)) { try fits.append(3) }
    }

    @Test func projectorRejectsInputOfTheWrongSize() throws {
        let bundle = try L2SBundle.load(directory: TestPaths.fixture("bundles/t5-add"))
        let projector = try Projector(file: bundle.projectorFile, inputDimension: 32, outputDimension: 24)
        #expect(try projector.project([Float](repeating: 1, count: 64), rows: 2).count == 48)
        #expect(throws: ModelError.self) { try projector.project([Float](repeating: 1, count: 63), rows: 2) }
        #expect(
            throws: ModelError.invalidBundle(
                path: bundle.projectorFile.path, field: "in_proj.weight", expected: "shape [24, 31]",
                actual: "shape [24, 32]")
        ) {
            try Projector(file: bundle.projectorFile, inputDimension: 31, outputDimension: 24)
        }
    }
}
