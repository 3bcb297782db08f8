import Foundation
import Numerics

/// One sequence being decoded: its KV caches and activation buffers (llama2.c's RunState), apart from the
/// read-only weights. Not Sendable: a sequence is stepped by one thread at a time.
public protocol DecodingSequence: AnyObject {
    /// Logits for the next token [vocabularySize], raw (before any sampling processor). Valid after the sequence
    /// is started and after every `append`.
    var logits: [Float] { get }
    /// Tokens the decoder has consumed so far (for decoder-only models the prompt counts).
    var position: Int { get }
    /// Feeds one token (normally the one just generated) and computes the next logits.
    func append(_ token: Int32) throws
    /// An independent copy (its own KV cache, logits and buffers; read-only parts such as cross-attention K/V shared)
    /// that continues exactly as this one would: beam search forks a beam that several candidates extend.
    func fork() -> any DecodingSequence
    /// Bytes of model state the sequence holds (KV caches, cross-attention K/V it may share with its forks, logits;
    /// not its scratch buffers): what keeping a started sequence around costs.
    var stateBytes: Int { get }
}

/// A loaded generative model, read-only and shared by every sequence. A family implements it (and, to serve as the
/// SLM of a bundle, `ConditionableSLM`) in its own files and registers in `ModelRegistry.families`.
public protocol LanguageModel: AnyObject, Sendable {
    /// Loads `config.json` and the safetensors weights of `directory`, strictly; `rowKernel` chooses how one-row
    /// products run, `weights` how the dense layers are kept.
    init(directory: URL, rowKernel: RowKernel, weights: WeightStorage) throws
    /// The config's `model_type` (`t5`, `gpt2`).
    var modelType: String { get }
    /// Rows of the output head.
    var vocabularySize: Int { get }
    /// The config's end-of-sequence ids.
    var eosTokenIDs: [Int32] { get }
    /// Checkpoint tensors deliberately not loaded (aliases of tied weights, old buffers), for logging.
    var ignoredTensors: [String] { get }
    /// Starts a sequence from prompt token ids: runs the encoder or the prefill, leaving the first logits ready.
    func startSequence(promptIDs: [Int32]) throws -> any DecodingSequence
    /// One decoding step for a batch: `tokens[i]` is appended to `sequences[i]` (all started by this model), with
    /// the dense layers batched. Logits are bit-identical to one-sequence steps under `.batchInvariant` (the default)
    /// and agree to ~1e-6 under `.blas`.
    func step(_ tokens: [Int32], sequences: [any DecodingSequence]) throws
    /// The ids transformers' logits processors (repetition penalty, no-repeat n-grams) see before the first new id of
    /// a job on `promptIDs`: its `input_ids` at the first step (T5: the decoder start token; GPT-2: the prompt).
    func penaltyContext(promptIDs: [Int32]) -> [Int32]
}

/// From a checkpoint's `model_type` to the family that loads it; a new family adds one entry.
public enum ModelRegistry {
    /// Every family, by `model_type`.
    public static let families: [String: any LanguageModel.Type] = [
        "t5": T5Model.self,
        "gpt2": GPT2Model.self,
    ]

    /// The family registered for `modelType` when LLM-to-SLM can condition it (it is a `ConditionableSLM`).
    public static func slmFamily(_ modelType: String) -> (any ConditionableSLM.Type)? {
        families[modelType] as? any ConditionableSLM.Type
    }

    /// The registered `model_type`s whose family can be the SLM of a bundle, sorted.
    public static var slmModelTypes: [String] { families.keys.filter { slmFamily($0) != nil }.sorted() }

    /// The `model_type` written in `directory/config.json`.
    public static func modelType(directory: URL) throws -> String {
        struct TypeOnly: Decodable {
            let modelType: String
            init(from decoder: any Decoder) throws { modelType = try ConfigReader(decoder).required("model_type") }
        }
        return try loadConfig(TypeOnly.self, from: directory.appendingPathComponent("config.json")).modelType
    }

    /// Loads the checkpoint in `directory` with the implementation registered for its `model_type`.
    public static func load(
        directory: URL, rowKernel: RowKernel = .batchInvariant, weights: WeightStorage = .asStored
    ) throws -> any LanguageModel {
        let type = try modelType(directory: directory)
        guard let family = families[type] else {
            throw ModelError.unknownModelType(
                type, path: directory.appendingPathComponent("config.json").path, known: families.keys.sorted())
        }
        return try family.init(directory: directory, rowKernel: rowKernel, weights: weights)
    }
}

/// Checks token ids against a vocabulary before they index any table.
func validate(_ ids: [Int32], vocabularySize: Int) throws {
    if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
        throw ModelError.tokenOutOfRange(id: bad, vocabularySize: vocabularySize)
    }
}
