import Digest

/// Everything that can go wrong loading or using a tokenizer; each case says what and where.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The directory lacks the files a tokenizer needs (`expected` lists the accepted layouts).
    case missingFiles(directory: String, expected: String)
    /// A tokenizer file exists but cannot be parsed or is inconsistent.
    case corruptFile(path: String, reason: String)
    /// A tokenizer file asks for a feature this implementation does not have.
    case unsupported(path: String, feature: String)
    /// A token id outside `0..<vocabularySize` (position is the index in the ids given).
    case idOutOfRange(id: Int, position: Int, vocabularySize: Int)
    /// The tokenizer library refused to encode a text.
    case encodingFailed(reason: String)
    /// libcrypto failed while hashing the tokenizer files of `directory`.
    case fingerprintFailed(directory: String, cause: DigestError)

    public var description: String {
        switch self {
        case .missingFiles(let directory, let expected):
            return "no tokenizer in \(directory): expected \(expected)"
        case .corruptFile(let path, let reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case .unsupported(let path, let feature):
            return "unsupported tokenizer in \(path): \(feature)"
        case .idOutOfRange(let id, let position, let vocabularySize):
            return "token id \(id) at position \(position) is outside the vocabulary (valid ids 0..<\(vocabularySize))"
        case .encodingFailed(let reason):
            return "cannot encode text: \(reason)"
        case .fingerprintFailed(let directory, let cause):
            return "cannot fingerprint the tokenizer files in \(directory): \(cause)"
        }
    }
}
