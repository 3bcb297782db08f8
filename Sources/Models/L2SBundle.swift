import Foundation

// An LLM-to-SLM bundle directory, loaded and validated against every rule of docs/bundle.md ("Validation"):
// the manifest, the directories and files it names, the five fingerprints (recomputed), the two configs, and the
// projector's tensor names and shapes. Mirrors scripts/l2s_py/bundle.py `read_manifest` + `load_bundle`. Loading
// reads configs and headers only; the weights are loaded by `PromptEncoder` (LLM, and the projector when it runs on
// the encoder) and `ConditionedSLM` (SLM, and the projector when it runs on the decoder), so each service maps only
// what it runs.

/// A validated bundle: where its parts are, how they fit together, and their verified fingerprints.
public final class L2SBundle: Sendable {
    /// The bundle directory.
    public let directory: URL
    /// The parsed `l2s.json`.
    public let manifest: BundleManifest
    /// The LLM checkpoint directory (only its T5 encoder is used).
    public let llmDirectory: URL
    /// The SLM checkpoint directory.
    public let slmDirectory: URL
    /// `projector.safetensors`.
    public let projectorFile: URL
    /// The LLM's configuration.
    public let llmConfiguration: T5Configuration
    /// The SLM's `model_type`, one of `ModelRegistry.slmModelTypes`.
    public let slmModelType: String
    /// Rows of the SLM's input embedding (ids the SLM accepts).
    public let slmVocabularySize: Int
    /// The SLM's embedding width d_slm (= projector d_out).
    public let slmWidth: Int

    /// How Z enters the SLM.
    public var promptInput: PromptInput { manifest.promptInput }
    /// The dtype the encoding travels in; every path rounds the encoding to it once.
    public var wireDType: WireDType { manifest.wireDType }
    /// Where the projector runs, hence what the encoding is: Z (`.encoder`) or H (`.decoder`).
    public var projectorRunsOn: ProjectorPlacement { manifest.projector.runsOn }
    /// Width of each row of the encoding the encoder service ships: d_slm (Z) when the projector runs on the
    /// encoder, d_llm (H) when it runs on the decoder.
    public var encodingWidth: Int { projectorRunsOn == .encoder ? slmWidth : llmWidth }
    /// T5: the decoder start id; GPT-2: the separator after the prompt.
    public var decoderStartTokenID: Int32 { manifest.decoderStartTokenID }
    /// The id that ends an answer (not part of the answer text).
    public var eosTokenID: Int32 { manifest.eosTokenID }
    /// The SLM's architecture.
    public var slmKind: SLMKind { manifest.slmKind }
    /// The LLM's d_model (= projector d_in).
    public var llmWidth: Int { llmConfiguration.modelDimension }
    /// SHA-256 hex of the LLM weights (verified); part of the encoding-cache key.
    public var llmFingerprint: String { manifest.llm.fingerprint }
    /// SHA-256 hex of the projector file (verified); part of the encoding-cache key.
    public var projectorFingerprint: String { manifest.projector.fingerprint }
    /// SHA-256 hex of the SLM weights (verified).
    public var slmFingerprint: String { manifest.slm.fingerprint }
    /// SHA-256 hex of the LLM (prompt) tokenizer files (verified).
    public var llmTokenizerFingerprint: String { manifest.llm.tokenizerFingerprint }
    /// SHA-256 hex of the SLM (answer) tokenizer files (verified).
    public var slmTokenizerFingerprint: String { manifest.slm.tokenizerFingerprint }

    /// Loads and validates the bundle in `directory`; throws `ModelError.invalidBundle` naming the field, the
    /// path and the expected and actual values of the first rule broken.
    public static func load(directory: URL) throws -> L2SBundle {
        try L2SBundle(directory: directory)
    }

    private init(directory: URL) throws {
        self.directory = directory
        let manifestURL = directory.appendingPathComponent("l2s.json")
        let manifestPath = manifestURL.path
        guard let data = FileManager.default.contents(atPath: manifestPath) else {
            throw ModelError.invalidBundle(
                path: manifestPath, field: "l2s.json", expected: "a readable manifest file", actual: "missing")
        }
        let manifest = try BundleManifest(data: data, path: manifestPath)
        self.manifest = manifest
        func fail(_ field: String, expected: String, actual: String) -> ModelError {
            .invalidBundle(path: manifestPath, field: field, expected: expected, actual: actual)
        }

        // Directories, files and fingerprints.
        llmDirectory = try Self.checkModel(manifest.llm, name: "llm", bundle: directory, fail: fail)
        slmDirectory = try Self.checkModel(manifest.slm, name: "slm", bundle: directory, fail: fail)
        projectorFile = directory.appendingPathComponent(manifest.projector.path).standardizedFileURL
        guard Self.isFile(projectorFile) else {
            throw fail("projector.path", expected: "an existing file", actual: "'\(manifest.projector.path)': missing")
        }
        let projectorActual = try BundleFingerprint.sha256(files: [projectorFile.path])
        guard projectorActual == manifest.projector.fingerprint else {
            throw fail(
                "projector.fingerprint", expected: manifest.projector.fingerprint + " (manifest)",
                actual: projectorActual + " (SHA-256 of \(projectorFile.path))")
        }

        // Model types and kind.
        let llmType = try ModelRegistry.modelType(directory: llmDirectory)
        guard llmType == "t5" else {
            throw fail("llm.path", expected: "a T5 checkpoint (model_type \"t5\")", actual: "model_type \"\(llmType)\"")
        }
        slmModelType = try ModelRegistry.modelType(directory: slmDirectory)
        guard let slmFamily = ModelRegistry.slmFamily(slmModelType) else {
            throw fail(
                "slm.path",
                expected: "a checkpoint of an SLM family (\(ModelRegistry.slmModelTypes.joined(separator: ", ")))",
                actual: "model_type \"\(slmModelType)\"")
        }
        guard slmFamily.slmKind == manifest.slmKind else {
            throw fail(
                "slm.kind", expected: "\"\(slmFamily.slmKind.rawValue)\" (the checkpoint is \(slmModelType))",
                actual: "\"\(manifest.slmKind.rawValue)\"")
        }
        if manifest.promptInput == .add, manifest.llm.tokenizerFingerprint != manifest.slm.tokenizerFingerprint {
            throw fail(
                "prompt_input",
                expected: "\"projection_only\" when llm and slm tokenizer fingerprints differ (no shared vocabulary)",
                actual: "\"add\"")
        }

        // Widths and vocabulary.
        llmConfiguration = try loadConfig(
            T5Configuration.self, from: llmDirectory.appendingPathComponent("config.json"))
        (slmWidth, slmVocabularySize) = try slmFamily.conditioningShape(
            configFile: slmDirectory.appendingPathComponent("config.json"))
        guard manifest.projector.inputDimension == llmConfiguration.modelDimension else {
            throw fail(
                "projector.d_in", expected: "\(llmConfiguration.modelDimension) (the LLM's d_model)",
                actual: "\(manifest.projector.inputDimension)")
        }
        guard manifest.projector.outputDimension == slmWidth else {
            throw fail(
                "projector.d_out", expected: "\(slmWidth) (the SLM's embedding width)",
                actual: "\(manifest.projector.outputDimension)")
        }
        for (field, id) in [
            ("decoder_start_token_id", manifest.decoderStartTokenID), ("eos_token_id", manifest.eosTokenID),
        ]
        where Int(id) >= slmVocabularySize {
            throw fail(field, expected: "an id in 0..<\(slmVocabularySize) (the SLM vocabulary)", actual: "\(id)")
        }

        // Projector tensors: names and shapes from the header (the weights are read by whoever runs it).
        try Projector.validate(
            SafetensorsFile(path: projectorFile.path), inputDimension: manifest.projector.inputDimension,
            outputDimension: manifest.projector.outputDimension)
    }

    /// Checks one model entry: a directory with config.json, its weights and tokenizer files, both fingerprints.
    private static func checkModel(
        _ entry: BundleModelEntry, name: String, bundle: URL, fail: (String, String, String) -> ModelError
    ) throws -> URL {
        let directory = bundle.appendingPathComponent(entry.path).standardizedFileURL
        guard isFile(directory.appendingPathComponent("config.json")) else {
            throw fail("\(name).path", "a checkpoint directory with config.json", "'\(entry.path)': no config.json")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        // Byte-wise name order (docs/bundle.md), not the locale's.
        let weights = names.filter { $0.hasSuffix(".safetensors") }.sorted {
            Array($0.utf8).lexicographicallyPrecedes($1.utf8)
        }
        guard !weights.isEmpty else {
            throw fail("\(name).path", "a directory with *.safetensors weights", "'\(entry.path)': none")
        }
        let weightsActual = try BundleFingerprint.sha256(
            files: weights.map { directory.appendingPathComponent($0).path })
        guard weightsActual == entry.fingerprint else {
            throw fail(
                "\(name).fingerprint", entry.fingerprint + " (manifest)",
                weightsActual + " (SHA-256 of \(weights.joined(separator: " + ")) in \(directory.path))")
        }
        let tokenizerFiles = entry.tokenizerFiles.map { directory.appendingPathComponent($0) }
        if let missing = tokenizerFiles.first(where: { !isFile($0) }) {
            throw fail(
                "\(name).tokenizer_files", "existing files in \(directory.path)", "\(missing.lastPathComponent) missing"
            )
        }
        let tokenizerActual = try BundleFingerprint.sha256(files: tokenizerFiles.map(\.path))
        guard tokenizerActual == entry.tokenizerFingerprint else {
            throw fail(
                "\(name).tokenizer_fingerprint", entry.tokenizerFingerprint + " (manifest)",
                tokenizerActual + " (SHA-256 of \(entry.tokenizerFiles.joined(separator: " + ")))")
        }
        return directory
    }

    private static func isFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}
