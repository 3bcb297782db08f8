/// Sampling settings as they travel (`l2s.SamplingParams`); the Generation module validates and applies them.
public struct SamplingParams: Sendable, Equatable {
    /// Always take the most likely token; temperature, top-k, top-p and seed are ignored (the penalties are not).
    public var greedy: Bool
    /// Logit divisor, > 0 when sampling.
    public var temperature: Float
    /// Keep the K most likely tokens; 0 = off.
    public var topK: UInt32
    /// Nucleus threshold in (0, 1]; 0 = off.
    public var topP: Float
    /// Seed of the deterministic random generator.
    public var seed: UInt64
    /// Repetition penalty; 0 or 1 = off.
    public var repetitionPenalty: Float
    /// No-repeat n-gram size; 0 = off.
    public var noRepeatNGramSize: UInt32
    /// OpenAI presence penalty; 0 = off.
    public var presencePenalty: Float
    /// OpenAI frequency penalty; 0 = off.
    public var frequencyPenalty: Float

    /// Sampling settings from their fields; the defaults are greedy decoding without penalties.
    public init(
        greedy: Bool = true, temperature: Float = 1, topK: UInt32 = 0, topP: Float = 0, seed: UInt64 = 0,
        repetitionPenalty: Float = 0, noRepeatNGramSize: UInt32 = 0, presencePenalty: Float = 0,
        frequencyPenalty: Float = 0
    ) {
        self.greedy = greedy
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.repetitionPenalty = repetitionPenalty
        self.noRepeatNGramSize = noRepeatNGramSize
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
    }
}

/// Beam search settings as they travel (`l2s.BeamParams`); the Generation module validates and applies them.
public struct BeamParams: Sendable, Equatable {
    /// transformers' `early_stopping` (`l2s.EarlyStopping`).
    public enum EarlyStopping: Int32, Sendable, CaseIterable {
        /// `False`: stop when no running beam can beat the worst finished one.
        case heuristic = 0
        /// `True`: stop once `numBeams` sequences are finished.
        case always = 1
        /// `"never"`: the canonical rule.
        case never = 2
    }

    /// Beams; 0 or 1 = no beam search.
    public var numBeams: UInt32
    /// Exponent of the length finished scores are divided by (read as sent: 0 is a value).
    public var lengthPenalty: Float
    /// When the search may end early.
    public var earlyStopping: EarlyStopping
    /// Sequences returned; 0 = 1.
    public var numReturnSequences: UInt32

    /// Settings from their fields; the defaults are transformers'.
    public init(
        numBeams: UInt32, lengthPenalty: Float = 1, earlyStopping: EarlyStopping = .heuristic,
        numReturnSequences: UInt32 = 1
    ) {
        self.numBeams = numBeams
        self.lengthPenalty = lengthPenalty
        self.earlyStopping = earlyStopping
        self.numReturnSequences = numReturnSequences
    }
}

/// A prompt: text for the encoder's tokenizer, or LLM token ids used as they are.
public enum Prompt: Sendable, Equatable {
    /// UTF-8 text.
    case text(String)
    /// LLM token ids.
    case tokenIDs([Int32])
}

/// A client job (`l2s.GenerateRequest`).
public struct GenerateRequest: Sendable, Equatable {
    /// Client-chosen id, echoed in every chunk and error.
    public var requestID: String
    /// The prompt.
    public var prompt: Prompt
    /// Upper bound on generated tokens.
    public var maxNewTokens: UInt32
    /// EOS is suppressed until this many tokens exist.
    public var minNewTokens: UInt32
    /// Sampling settings; nil when the client sent none (the service default applies).
    public var sampling: SamplingParams?
    /// Stop sequences (text).
    public var stop: [String]
    /// Absolute deadline in Unix milliseconds; 0 = none.
    public var deadlineUnixMs: UInt64
    /// Mixed into the cache key so tenants never share encodings; empty = none.
    public var tenantSalt: [UInt8]
    /// Stream chunks as they come rather than only the final one.
    public var stream: Bool
    /// The outside request the job belongs to (an HTTP x-request-id), for logs only; empty = none.
    public var traceID: String
    /// Beam search settings; nil = none.
    public var beams: BeamParams?
    /// Alternatives per token with its log-probability (`l2s.LogprobsParams.top`); nil = no log-probabilities.
    public var logprobs: UInt32?

    /// A request from its fields.
    public init(
        requestID: String, prompt: Prompt, maxNewTokens: UInt32, minNewTokens: UInt32 = 0,
        sampling: SamplingParams? = nil, stop: [String] = [], deadlineUnixMs: UInt64 = 0, tenantSalt: [UInt8] = [],
        stream: Bool = false, traceID: String = "", beams: BeamParams? = nil, logprobs: UInt32? = nil
    ) {
        self.logprobs = logprobs
        self.traceID = traceID
        self.beams = beams
        self.requestID = requestID
        self.prompt = prompt
        self.maxNewTokens = maxNewTokens
        self.minNewTokens = minNewTokens
        self.sampling = sampling
        self.stop = stop
        self.deadlineUnixMs = deadlineUnixMs
        self.tenantSalt = tenantSalt
        self.stream = stream
    }
}

/// The rule for `trace_id` (proto/l2s.proto): at most 128 printable ASCII characters, so that it goes into any log
/// line and HTTP header as it is.
public enum TraceID {
    /// Longest trace id, in bytes.
    public static let maxBytes = 128

    /// Whether `value` may be a trace id (the empty string, meaning none, may).
    public static func isValid(_ value: String) -> Bool {
        value.utf8.count <= maxBytes && value.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }
}

/// Router to encoder: encode this prompt (`l2s.EncodeRequest`).
public struct EncodeRequest: Sendable, Equatable {
    /// The job (or coalesced group leader) this encoding is for.
    public var requestID: String
    /// The cache key of the prompt.
    public var promptHash: [UInt8]
    /// The prompt.
    public var prompt: Prompt
    /// For logs only: the trace id of the job whose cache miss asked for this encode; empty = none.
    public var traceID: String

    /// An encode request from its fields.
    public init(requestID: String, promptHash: [UInt8], prompt: Prompt, traceID: String = "") {
        self.traceID = traceID
        self.requestID = requestID
        self.promptHash = promptHash
        self.prompt = prompt
    }
}

/// Encoder to router: the prompt's representation, `[prompt tokens, width]`, in the following frame (`l2s.Encoding`).
public struct Encoding: Sendable, Equatable {
    /// The request it answers.
    public var requestID: String
    /// The cache key of the prompt.
    public var promptHash: [UInt8]
    /// LLM token ids of the prompt, one per row of `tensor`.
    public var promptIDs: [Int32]
    /// The representation, rank 2 with `shape[0] == promptIDs.count`.
    public var tensor: Tensor
    /// True when the projector was applied (Z); false for raw encoder states (H).
    public var projected: Bool

    /// An encoding from its fields; `WireCodec.encode` checks that the tensor has one row per prompt id.
    public init(requestID: String, promptHash: [UInt8], promptIDs: [Int32], tensor: Tensor, projected: Bool = true) {
        self.requestID = requestID
        self.promptHash = promptHash
        self.promptIDs = promptIDs
        self.tensor = tensor
        self.projected = projected
    }
}

/// Router to decoder: generate for this request conditioned on the encoding (`l2s.DecodeJob`).
public struct DecodeJob: Sendable, Equatable {
    /// The client's request.
    public var request: GenerateRequest
    /// The prompt encoding; its tensor travels in the frame after the envelope.
    public var encoding: Encoding
    /// Tokens already streamed to the client, replayed on failover.
    public var resumeIDs: [Int32]

    /// A decode job from its fields.
    public init(request: GenerateRequest, encoding: Encoding, resumeIDs: [Int32] = []) {
        self.request = request
        self.encoding = encoding
        self.resumeIDs = resumeIDs
    }
}

/// Why generation ended; values match `l2s.FinishReason`.
public enum FinishReason: Int32, Sendable, CaseIterable {
    /// Not finished: more chunks follow.
    case unspecified = 0
    /// The model produced its end-of-sequence token.
    case eos = 1
    /// `maxNewTokens` reached.
    case length = 2
    /// A stop sequence matched.
    case stop = 3
    /// Cancelled by the client or the router.
    case cancelled = 4
}

/// Token counts of a finished job (`l2s.Usage`).
public struct Usage: Sendable, Equatable {
    /// Prompt length in LLM tokens.
    public var promptTokens: UInt32
    /// Generated tokens.
    public var completionTokens: UInt32
    /// The encoding came from the router's cache.
    public var cachedEncoding: Bool

    /// Usage counts from their fields.
    public init(promptTokens: UInt32, completionTokens: UInt32, cachedEncoding: Bool = false) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedEncoding = cachedEncoding
    }
}

/// Newly generated tokens, decoder to router to client (`l2s.TokenChunk`).
public struct TokenChunk: Sendable, Equatable {
    /// The job.
    public var requestID: String
    /// New token ids.
    public var ids: [Int32]
    /// Text of the new tokens (never half a UTF-8 character).
    public var textDelta: String
    /// `.unspecified` while more chunks follow.
    public var finishReason: FinishReason
    /// Set on the final chunk.
    public var usage: Usage?
    /// One per id of `ids` when the job asked for log-probabilities; empty otherwise.
    public var logprobs: [ChunkLogprob]

    /// A chunk from its fields.
    public init(
        requestID: String, ids: [Int32], textDelta: String = "", finishReason: FinishReason = .unspecified,
        usage: Usage? = nil, logprobs: [ChunkLogprob] = []
    ) {
        self.logprobs = logprobs
        self.requestID = requestID
        self.ids = ids
        self.textDelta = textDelta
        self.finishReason = finishReason
        self.usage = usage
    }
}
