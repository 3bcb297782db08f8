/// Everything that can go wrong loading or using a tokenizer; each case says what and where.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingFiles(directory: String, expected: String)
    case corruptFile(path: String, reason: String)
    case idOutOfRange(id: Int, position: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case .missingFiles(let directory, let expected):
            return "no tokenizer in \(directory): expected \(expected)"
        case .corruptFile(let path, let reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case .idOutOfRange(let id, let position, let vocabularySize):
            return "token id \(id) at position \(position) is outside the vocabulary (size \(vocabularySize))"
        }
    }
}
