import Foundation
import Numerics

/// GPT-2's `config.json` (transformers `GPT2Config`), as transformers 4.x and 5.x write it.
public struct GPT2Configuration: Decodable, Sendable, Equatable {
    /// Vocabulary size (rows of `wte`).
    public var vocabularySize: Int
    /// Learned positions (`n_positions`, default 1024): the longest sequence.
    public var maxPositions: Int
    /// Hidden size (`n_embd`).
    public var embeddingDimension: Int
    /// Blocks (`n_layer`).
    public var layers: Int
    /// Attention heads (`n_head`); must divide `n_embd`.
    public var heads: Int
    /// MLP inner size (`n_inner`, default 4 * n_embd).
    public var innerDimension: Int
    /// MLP activation (`activation_function`, default "gelu_new").
    public var activation: Activation
    /// LayerNorm epsilon (`layer_norm_epsilon`, default 1e-5).
    public var layerNormEpsilon: Float
    /// Scale scores by head_dim^-0.5 (`scale_attn_weights`, default true).
    public var scaleAttentionWeights: Bool
    /// Also divide scores by layer index + 1 (`scale_attn_by_inverse_layer_idx`, default false).
    public var scaleAttentionByInverseLayerIndex: Bool
    /// End-of-sequence ids (`eos_token_id`).
    public var eosTokenIDs: [Int32]

    /// Reads config.json; missing required keys and unusable values throw `ModelError`s naming the key and file.
    public init(from decoder: any Decoder) throws {
        let reader = try ConfigReader(decoder)
        vocabularySize = try reader.positive("vocab_size")
        maxPositions = reader.has("n_positions") ? try reader.positive("n_positions") : 1024
        embeddingDimension = try reader.positive("n_embd")
        layers = try reader.positive("n_layer")
        heads = try reader.positive("n_head")
        guard embeddingDimension % heads == 0 else {
            throw ModelError.invalidConfigValue(
                key: "n_head", value: "\(heads)", path: reader.path,
                expected: "a divisor of n_embd \(embeddingDimension)")
        }
        innerDimension = reader.has("n_inner") ? try reader.positive("n_inner") : 4 * embeddingDimension
        activation = try reader.activation(
            named: try reader.optional("activation_function") ?? "gelu_new", key: "activation_function")
        layerNormEpsilon = try reader.optional("layer_norm_epsilon") ?? 1e-5
        scaleAttentionWeights = try reader.optional("scale_attn_weights") ?? true
        scaleAttentionByInverseLayerIndex = try reader.optional("scale_attn_by_inverse_layer_idx") ?? false
        eosTokenIDs = try reader.tokenIDs("eos_token_id")
    }

    /// Per-head size.
    public var headDimension: Int { embeddingDimension / heads }
}
