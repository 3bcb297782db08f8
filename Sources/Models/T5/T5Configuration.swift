import Foundation
import Numerics

/// T5's `config.json` (transformers `T5Config`), as transformers 4.x and 5.x write it.
public struct T5Configuration: Decodable, Sendable, Equatable {
    /// Vocabulary size (rows of `shared.weight`).
    public var vocabularySize: Int
    /// Hidden size (`d_model`).
    public var modelDimension: Int
    /// Per-head key/value size (`d_kv`); not necessarily `d_model / num_heads`.
    public var headDimension: Int
    /// Feed-forward inner size (`d_ff`).
    public var feedForwardDimension: Int
    /// Encoder blocks (`num_layers`).
    public var encoderLayers: Int
    /// Decoder blocks (`num_decoder_layers`, default `num_layers`).
    public var decoderLayers: Int
    /// Attention heads (`num_heads`).
    public var heads: Int
    /// Relative position buckets (`relative_attention_num_buckets`).
    public var relativeAttentionBuckets: Int
    /// Largest distinguished distance (`relative_attention_max_distance`).
    public var relativeAttentionMaxDistance: Int
    /// RMSNorm epsilon (`layer_norm_epsilon`).
    public var layerNormEpsilon: Float
    /// Feed-forward activation (`dense_act_fn`, derived from `feed_forward_proj`).
    public var activation: Activation
    /// Gated feed-forward (`is_gated_act`; T5 v1.1 `gated-gelu`).
    public var isGatedActivation: Bool
    /// Whether the decoder output is multiplied by d_model^-0.5 before the head: `scale_decoder_outputs` when
    /// present (5.x), otherwise `tie_word_embeddings` (4.x, default true).
    public var scaleDecoderOutputs: Bool
    /// End-of-sequence ids (`eos_token_id`, an int or a list).
    public var eosTokenIDs: [Int32]
    /// Padding id (`pad_token_id`).
    public var padTokenID: Int32?
    /// First decoder input (`decoder_start_token_id`, default `pad_token_id`, else 0).
    public var decoderStartTokenID: Int32

    /// Reads config.json; missing required keys and unusable values throw `ModelError`s naming the key and file.
    public init(from decoder: any Decoder) throws {
        let reader = try ConfigReader(decoder)
        vocabularySize = try reader.positive("vocab_size")
        modelDimension = try reader.positive("d_model")
        headDimension = try reader.positive("d_kv")
        feedForwardDimension = try reader.positive("d_ff")
        encoderLayers = try reader.positive("num_layers")
        decoderLayers = reader.has("num_decoder_layers") ? try reader.positive("num_decoder_layers") : encoderLayers
        heads = try reader.positive("num_heads")
        relativeAttentionBuckets =
            reader.has("relative_attention_num_buckets") ? try reader.positive("relative_attention_num_buckets") : 32
        relativeAttentionMaxDistance =
            reader.has("relative_attention_max_distance") ? try reader.positive("relative_attention_max_distance") : 128
        // The bucket formula divides by log(max_distance / (buckets / 2)) for the causal decoder.
        guard relativeAttentionBuckets >= 4, relativeAttentionMaxDistance > relativeAttentionBuckets / 2 else {
            throw ModelError.invalidConfigValue(
                key: "relative_attention_num_buckets", value: "\(relativeAttentionBuckets)", path: reader.path,
                expected: ">= 4, with relative_attention_max_distance (\(relativeAttentionMaxDistance)) > buckets / 2")
        }
        layerNormEpsilon = try reader.optional("layer_norm_epsilon") ?? 1e-6
        // transformers: "gated-ACT" or "ACT"; gated-gelu means the tanh GELU ("gelu_new").
        let projection: String = try reader.optional("feed_forward_proj") ?? "relu"
        let parts = projection.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 1 || (parts.count == 2 && parts[0] == "gated") else {
            throw ModelError.invalidConfigValue(
                key: "feed_forward_proj", value: projection, path: reader.path, expected: "\"ACT\" or \"gated-ACT\"")
        }
        let derivedName = projection == "gated-gelu" ? "gelu_new" : parts[parts.count - 1]
        let activationName: String = try reader.optional("dense_act_fn") ?? derivedName
        activation = try reader.activation(
            named: activationName, key: reader.has("dense_act_fn") ? "dense_act_fn" : "feed_forward_proj")
        isGatedActivation = try reader.optional("is_gated_act") ?? (parts.count == 2)
        let tied: Bool = try reader.optional("tie_word_embeddings") ?? true
        scaleDecoderOutputs = try reader.optional("scale_decoder_outputs") ?? tied
        eosTokenIDs = try reader.tokenIDs("eos_token_id")
        padTokenID = try reader.optional("pad_token_id")
        decoderStartTokenID = try reader.optional("decoder_start_token_id") ?? padTokenID ?? 0
    }

    /// Width of the packed per-head projections (`num_heads * d_kv`).
    public var innerDimension: Int { heads * headDimension }
}
