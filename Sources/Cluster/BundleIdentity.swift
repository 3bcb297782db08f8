import Foundation
import Models
import Wire

/// What one cluster serves: the bundle's four fingerprints and the shape of its encodings. Workers announce it in
/// their hello (from the bundle they loaded); the router pins it from `l2s router --bundle DIR` (reading only
/// `l2s.json`) or, when told to, from the first worker, and refuses every worker that announces anything else.
public struct BundleIdentity: Sendable, Equatable {
    /// LLM, projector, SLM and LLM-tokenizer fingerprints (hex SHA-256, all four set).
    public var fingerprints: Fingerprints
    /// The encodings encoders ship and decoders accept.
    public var encoding: EncodingSpec

    /// An identity from its parts; `problems` says what is missing or malformed.
    public init(fingerprints: Fingerprints, encoding: EncodingSpec) {
        self.fingerprints = fingerprints
        self.encoding = encoding
    }

    /// The identity a manifest describes: what a worker loading this bundle announces.
    public init(manifest: BundleManifest) {
        fingerprints = Fingerprints(
            llm: manifest.llm.fingerprint, projector: manifest.projector.fingerprint,
            slm: manifest.slm.fingerprint, tokenizer: manifest.llm.tokenizerFingerprint)
        let projected = manifest.projector.runsOn == .encoder
        let width = projected ? manifest.projector.outputDimension : manifest.projector.inputDimension
        encoding = EncodingSpec(dtype: DType(manifest.wireDType), width: UInt32(clamping: width), projected: projected)
    }

    /// The identity of the bundle in `directory`, from its `l2s.json` alone (no weights are read or hashed).
    public static func manifest(in directory: URL) throws -> BundleIdentity {
        let file = directory.appendingPathComponent("l2s.json")
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ClusterError.unreadableBundle(path: file.path)
        }
        return BundleIdentity(manifest: try BundleManifest(data: data, path: file.path))
    }

    /// The identity a hello announces, or a description of the first field that is missing or malformed.
    static func announced(by hello: Hello) -> Result<BundleIdentity, AnnouncementProblem> {
        let prints = hello.fingerprints
        for (name, value) in [
            ("llm", prints.llm), ("projector", prints.projector), ("slm", prints.slm),
            ("tokenizer", prints.tokenizer),
        ] {
            guard value.utf8.count == 64, value.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
            else {
                let shown = value.isEmpty ? "empty" : "'\(value.prefix(70))' (\(value.utf8.count) bytes)"
                return .failure(
                    AnnouncementProblem(
                        "hello.fingerprints.\(name) is \(shown); a worker must announce all four fingerprints of its "
                            + "bundle as 64 lowercase hex digits"))
            }
        }
        guard let spec = hello.encoding, spec.dtype != nil, (1...1 << 20).contains(spec.width) else {
            return .failure(
                AnnouncementProblem(
                    "hello.encoding is \(hello.encoding.map { "\($0)" } ?? "missing"); a worker must announce its "
                        + "bundle's wire dtype and an encoding width in 1...\(1 << 20)"))
        }
        return .success(BundleIdentity(fingerprints: prints, encoding: spec))
    }

    /// A description of the first difference from `other`, or nil when they are the same bundle.
    func difference(from other: BundleIdentity) -> String? {
        let fields = [
            ("llm", fingerprints.llm, other.fingerprints.llm),
            ("projector", fingerprints.projector, other.fingerprints.projector),
            ("slm", fingerprints.slm, other.fingerprints.slm),
            ("tokenizer", fingerprints.tokenizer, other.fingerprints.tokenizer),
        ]
        for (name, mine, theirs) in fields where mine != theirs {
            return "\(name) fingerprint \(theirs.prefix(16))… differs from the cluster's \(mine.prefix(16))…"
        }
        if encoding != other.encoding { return "encoding \(other.encoding) differs from the cluster's \(encoding)" }
        return nil
    }
}

/// Why a hello cannot be accepted.
struct AnnouncementProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
