import Foundation

// `l2s.json`, the manifest of an LLM-to-SLM bundle, version 1 (docs/bundle.md is the contract;
// scripts/l2s_py/bundle.py `read_manifest` is the Python reader this mirrors). Parsing checks presence, JSON type
// and allowed values of every field; what needs the files (fingerprints, configs, tensors) is `L2SBundle`'s job.

/// How the projection enters the SLM at prompt position i (`prompt_input`).
public enum PromptInput: String, Sendable, Equatable, CaseIterable {
    /// S_i = E_slm(x_i) + Z_i: one vocabulary shared by LLM and SLM.
    case add
    /// S_i = Z_i: the vocabularies differ, so E_slm of an LLM token id means nothing.
    case projectionOnly = "projection_only"
}

/// The architecture of the SLM (`slm.kind`).
public enum SLMKind: String, Sendable, Equatable, CaseIterable {
    /// T5: S feeds the SLM encoder.
    case encoderDecoder = "encoder_decoder"
    /// GPT-2: S sits at the prompt positions, then the separator, then the answer.
    case decoderOnly = "decoder_only"
}

/// Where the projector runs (`projector.runs_on`).
public enum ProjectorPlacement: String, Sendable, Equatable, CaseIterable {
    /// The encoder service projects and ships Z = wire(P) [m, d_slm].
    case encoder
    /// The encoder service ships Hw = wire(H) [m, d_llm]; the decoder computes Z = projector(Hw), unrounded.
    case decoder
}

/// The `llm` or `slm` entry of the manifest.
public struct BundleModelEntry: Sendable, Equatable {
    /// Directory relative to the bundle (may leave it, e.g. `../default/llm`).
    public var path: String
    /// SHA-256 hex of the directory's `*.safetensors` files.
    public var fingerprint: String
    /// Tokenizer files in the directory, in hashing order.
    public var tokenizerFiles: [String]
    /// SHA-256 hex of the tokenizer files concatenated.
    public var tokenizerFingerprint: String
}

/// The `projector` entry of the manifest.
public struct BundleProjectorEntry: Sendable, Equatable {
    /// `projector.safetensors` path relative to the bundle.
    public var path: String
    /// SHA-256 hex of the file.
    public var fingerprint: String
    /// Where it runs.
    public var runsOn: ProjectorPlacement
    /// Input width (the LLM's d_model).
    public var inputDimension: Int
    /// Output width (the SLM's embedding width).
    public var outputDimension: Int
}

/// A parsed, type-checked `l2s.json`.
public struct BundleManifest: Sendable, Equatable {
    /// The only `format` value.
    public static let format = "l2s-bundle"
    /// The only `format_version` this reader knows.
    public static let formatVersion = 1

    /// The frozen LLM (T5 encoder).
    public var llm: BundleModelEntry
    /// The SLM.
    public var slm: BundleModelEntry
    /// The SLM's architecture.
    public var slmKind: SLMKind
    /// The projector.
    public var projector: BundleProjectorEntry
    /// How Z enters the SLM.
    public var promptInput: PromptInput
    /// The dtype Z travels in.
    public var wireDType: WireDType
    /// T5: the decoder start id; GPT-2: the separator after the prompt.
    public var decoderStartTokenID: Int32
    /// The id that ends an answer.
    public var eosTokenID: Int32

    /// Parses the manifest bytes read from `path` (used in error messages).
    public init(data: Data, path: String) throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ModelError.invalidBundle(
                path: path, field: "l2s.json", expected: "JSON", actual: "invalid JSON (\(error.localizedDescription))")
        }
        let root = ManifestObject(object as? [String: Any], path: path, prefix: "")
        guard root.values != nil else {
            throw ModelError.invalidBundle(
                path: path, field: "l2s.json", expected: "a JSON object", actual: "\(object)")
        }
        let format = try root.string("format")
        guard format == Self.format else {
            throw ModelError.invalidBundle(
                path: path, field: "format", expected: "\"\(Self.format)\"", actual: "\"\(format)\"")
        }
        let version = try root.integer("format_version")
        guard version == Self.formatVersion else {
            throw ModelError.invalidBundle(
                path: path, field: "format_version", expected: "\(Self.formatVersion)", actual: "\(version)")
        }
        llm = try Self.modelEntry(try root.object("llm"))
        let slmObject = try root.object("slm")
        slm = try Self.modelEntry(slmObject)
        slmKind = try slmObject.choice("kind", SLMKind.self)
        let projectorObject = try root.object("projector")
        projector = BundleProjectorEntry(
            path: try projectorObject.string("path"), fingerprint: try projectorObject.fingerprint("fingerprint"),
            runsOn: try projectorObject.choice("runs_on", ProjectorPlacement.self),
            inputDimension: try projectorObject.integer("d_in", minimum: 1),
            outputDimension: try projectorObject.integer("d_out", minimum: 1))
        let activation = try projectorObject.string("activation")
        guard activation == "relu" else {
            throw ModelError.invalidBundle(
                path: path, field: "projector.activation", expected: "\"relu\"", actual: "\"\(activation)\"")
        }
        promptInput = try root.choice("prompt_input", PromptInput.self)
        wireDType = try root.choice("wire_dtype", WireDType.self)
        decoderStartTokenID = Int32(try root.integer("decoder_start_token_id", minimum: 0, maximum: Int(Int32.max)))
        eosTokenID = Int32(try root.integer("eos_token_id", minimum: 0, maximum: Int(Int32.max)))
    }

    private static func modelEntry(_ object: ManifestObject) throws -> BundleModelEntry {
        let files = try object.strings("tokenizer_files")
        guard !files.isEmpty else {
            throw ModelError.invalidBundle(
                path: object.path, field: object.prefix + "tokenizer_files", expected: "at least one file name",
                actual: "[]")
        }
        return BundleModelEntry(
            path: try object.string("path"), fingerprint: try object.fingerprint("fingerprint"),
            tokenizerFiles: files, tokenizerFingerprint: try object.fingerprint("tokenizer_fingerprint"))
    }
}

/// One JSON object of the manifest with the dotted prefix of its fields, so errors name `projector.d_in`.
private struct ManifestObject {
    let values: [String: Any]?
    let path: String
    let prefix: String

    init(_ values: [String: Any]?, path: String, prefix: String) {
        self.values = values
        self.path = path
        self.prefix = prefix
    }

    private func value(_ key: String, expected: String) throws -> Any {
        guard let value = values?[key] else {
            throw ModelError.invalidBundle(path: path, field: prefix + key, expected: expected, actual: "missing")
        }
        return value
    }

    private func wrongType(_ key: String, _ value: Any, expected: String) -> ModelError {
        ModelError.invalidBundle(path: path, field: prefix + key, expected: expected, actual: "\(value)")
    }

    func string(_ key: String) throws -> String {
        let value = try value(key, expected: "a string")
        guard let string = value as? String else { throw wrongType(key, value, expected: "a string") }
        return string
    }

    func strings(_ key: String) throws -> [String] {
        let value = try value(key, expected: "a list of strings")
        guard let list = value as? [Any], let strings = list as? [String] else {
            throw wrongType(key, value, expected: "a list of strings")
        }
        return strings
    }

    /// A JSON integer (not a boolean, not a number with a fraction or exponent) within the bounds.
    func integer(_ key: String, minimum: Int = .min, maximum: Int = .max) throws -> Int {
        let value = try value(key, expected: "an integer")
        // JSONSerialization gives NSNumber for booleans and doubles too; only integer encodings are integers.
        guard let number = value as? NSNumber,
            ["i", "q", "l", "s", "I", "Q", "L", "S"].contains(
                String(cString: number.objCType))
        else { throw wrongType(key, value, expected: "an integer") }
        let integer = number.intValue
        guard integer >= minimum, integer <= maximum else {
            let bounds = maximum == .max ? ">= \(minimum)" : "in \(minimum)...\(maximum)"
            throw ModelError.invalidBundle(path: path, field: prefix + key, expected: bounds, actual: "\(integer)")
        }
        return integer
    }

    /// 64 lowercase hexadecimal digits.
    func fingerprint(_ key: String) throws -> String {
        let hex = try string(key)
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw ModelError.invalidBundle(
                path: path, field: prefix + key, expected: "64 lowercase hex digits (SHA-256)", actual: "\"\(hex)\"")
        }
        return hex
    }

    func object(_ key: String) throws -> ManifestObject {
        let value = try value(key, expected: "a JSON object")
        guard let object = value as? [String: Any] else { throw wrongType(key, value, expected: "a JSON object") }
        return ManifestObject(object, path: path, prefix: prefix + key + ".")
    }

    /// A string that must be the raw value of one of `Choice`'s cases.
    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, _ type: Choice.Type) throws -> Choice
    where Choice.RawValue == String {
        let raw = try string(key)
        guard let choice = Choice(rawValue: raw) else {
            throw ModelError.invalidBundle(
                path: path, field: prefix + key,
                expected: "one of " + Choice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "),
                actual: "\"\(raw)\"")
        }
        return choice
    }
}
