/// Errors of the Models module: bad checkpoint files, configs, weights or inputs. Each names the file or tensor
/// and carries the expected and actual values.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    /// A file or directory could not be opened or mapped.
    case cannotOpen(path: String, reason: String)
    /// The checkpoint directory holds no `model.safetensors` (nor a sharded index).
    case noSafetensors(directory: String)
    /// An LLM-to-SLM bundle breaks a rule of docs/bundle.md: `field` of the manifest (or tensor of the projector) at
    /// `path` holds `actual` where `expected` is required.
    case invalidBundle(path: String, field: String, expected: String, actual: String)
    /// A prompt longer than the encoder accepts (a configurable limit, not a model constant).
    case promptTooLong(tokens: Int, limit: Int)
    /// Raw wire bytes whose count is not a multiple of the dtype's element size.
    case wireByteCount(dtype: String, byteCount: Int, elementSize: Int)
    /// A caller-supplied float (e.g. an encoding received over the wire) that is NaN or infinite.
    case nonFiniteInput(what: String, index: Int, value: Float)
    /// The file is shorter than the 8-byte header length.
    case truncatedFile(path: String, size: Int)
    /// The header length points past the end of the file.
    case headerLengthOutOfRange(path: String, headerLength: UInt64, fileSize: Int)
    /// The header is not the JSON object the format requires.
    case invalidHeader(path: String, reason: String)
    /// A tensor's data offsets leave the data section or run backwards.
    case offsetsOutOfRange(path: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors claim overlapping bytes.
    case overlappingTensors(path: String, first: String, second: String)
    /// A tensor's byte count does not match its shape and dtype.
    case byteCountMismatch(path: String, tensor: String, dtype: String, shape: [Int], expected: Int, actual: Int)
    /// A tensor's dtype is not F32, F16 or BF16.
    case unsupportedDtype(path: String, tensor: String, dtype: String)
    /// The same tensor name appears in two files of one checkpoint.
    case duplicateTensor(name: String, firstPath: String, secondPath: String)
    /// A tensor the model needs is missing.
    case missingTensor(name: String, directory: String)
    /// A tensor has the wrong shape.
    case shapeMismatch(name: String, expected: [Int], actual: [Int])
    /// The checkpoint holds tensors the model does not use and does not know to ignore.
    case unexpectedTensors(names: [String], directory: String)
    /// `config.json` lacks a key the model needs.
    case missingConfigKey(key: String, path: String)
    /// `config.json` has a key with an unusable value.
    case invalidConfigValue(key: String, value: String, path: String, expected: String)
    /// `config.json` is not valid JSON.
    case invalidConfig(path: String, reason: String)
    /// No implementation is registered for the config's `model_type`.
    case unknownModelType(String, path: String, known: [String])
    /// An activation name this code does not implement.
    case unknownActivation(String, key: String, path: String)
    /// A token id outside the vocabulary.
    case tokenOutOfRange(id: Int32, vocabularySize: Int)
    /// An input longer than the model supports.
    case sequenceTooLong(length: Int, maximum: Int)
    /// An empty input where at least one token is needed.
    case emptyInput(what: String)
    /// A batch step that cannot run (e.g. one sequence twice).
    case invalidBatch(reason: String)
    /// Caller-supplied embeddings or masks of the wrong shape.
    case inputShapeMismatch(what: String, expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open \(path): \(reason)"
        case .invalidBundle(let path, let field, let expected, let actual):
            return "\(path): \(field) is \(actual); expected \(expected)"
        case .promptTooLong(let tokens, let limit): return "prompt of \(tokens) tokens exceeds the limit of \(limit)"
        case .wireByteCount(let dtype, let count, let size):
            return "\(count) bytes of \(dtype) is not a multiple of the element size \(size)"
        case .nonFiniteInput(let what, let index, let value): return "\(what): element \(index) is \(value)"
        case .noSafetensors(let directory):
            return "no model.safetensors or model.safetensors.index.json in \(directory)"
        case .truncatedFile(let path, let size):
            return "\(path): file of \(size) bytes is too short for the 8-byte safetensors header length"
        case .headerLengthOutOfRange(let path, let length, let size):
            return "\(path): header length \(length) runs past the end of the file (\(size) bytes)"
        case .invalidHeader(let path, let reason): return "\(path): invalid safetensors header: \(reason)"
        case .offsetsOutOfRange(let path, let tensor, let begin, let end, let size):
            return "\(path): tensor \(tensor) has data offsets [\(begin), \(end)] outside the data section of "
                + "\(size) bytes"
        case .overlappingTensors(let path, let first, let second):
            return "\(path): tensors \(first) and \(second) overlap"
        case .byteCountMismatch(let path, let tensor, let dtype, let shape, let expected, let actual):
            return "\(path): tensor \(tensor) (\(dtype) \(shape)) needs \(expected) bytes, has \(actual)"
        case .unsupportedDtype(let path, let tensor, let dtype):
            return "\(path): tensor \(tensor) has dtype \(dtype); supported are F32, F16, BF16"
        case .duplicateTensor(let name, let first, let second):
            return "tensor \(name) appears in both \(first) and \(second)"
        case .missingTensor(let name, let directory): return "missing tensor \(name) in \(directory)"
        case .shapeMismatch(let name, let expected, let actual):
            return "expected shape \(expected), got \(actual) for \(name)"
        case .unexpectedTensors(let names, let directory):
            let shown = names.prefix(10).joined(separator: ", ")
            return "\(names.count) unexpected tensor(s) in \(directory): \(shown)\(names.count > 10 ? ", ..." : "")"
        case .missingConfigKey(let key, let path): return "\(path): missing key \"\(key)\""
        case .invalidConfigValue(let key, let value, let path, let expected):
            return "\(path): \"\(key)\" is \(value); expected \(expected)"
        case .invalidConfig(let path, let reason): return "\(path): not a valid config: \(reason)"
        case .unknownModelType(let type, let path, let known):
            return "\(path): model_type \"\(type)\" is not supported; known: \(known.joined(separator: ", "))"
        case .unknownActivation(let name, let key, let path):
            return "\(path): activation \"\(name)\" in \"\(key)\" is not supported"
        case .tokenOutOfRange(let id, let size): return "token id \(id) is outside the vocabulary of \(size)"
        case .sequenceTooLong(let length, let maximum):
            return "sequence of \(length) positions exceeds the model's maximum of \(maximum)"
        case .emptyInput(let what): return "\(what) is empty"
        case .invalidBatch(let reason): return "invalid batch: \(reason)"
        case .inputShapeMismatch(let what, let expected, let actual):
            return "\(what): expected shape \(expected), got \(actual)"
        }
    }
}
