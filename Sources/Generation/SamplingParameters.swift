/// How the next token is chosen from the logits: the penalties apply to greedy and sampled jobs alike (in
/// transformers' order, `TokenSampler`); greedy ignores temperature, top-k, top-p and the seed.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Always take the most likely token.
    public var greedy: Bool
    /// Divides the logits before softmax; must be > 0 when sampling.
    public var temperature: Float
    /// Keep only the K most likely tokens; 0 = off.
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches P; 1 = off.
    public var topP: Float
    /// Seed of the deterministic random generator; equal seeds give equal samples.
    public var seed: UInt64
    /// transformers' `repetition_penalty`: the logit of every id already in the context is divided by it (multiplied
    /// when negative); 1 = off.
    public var repetitionPenalty: Float
    /// transformers' `no_repeat_ngram_size`: an id that would repeat an n-gram of the context is banned; 0 = off.
    public var noRepeatNGramSize: Int
    /// OpenAI's `presence_penalty`: subtracted once from the logit of every id generated so far; 0 = off.
    public var presencePenalty: Float
    /// OpenAI's `frequency_penalty`: subtracted from an id's logit once per time it was generated; 0 = off.
    public var frequencyPenalty: Float

    /// Parameters; the defaults are greedy decoding without penalties.
    public init(
        greedy: Bool = true, temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0,
        repetitionPenalty: Float = 1, noRepeatNGramSize: Int = 0, presencePenalty: Float = 0,
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

    /// Whether any penalty is on (they need the ids seen so far).
    public var hasPenalties: Bool {
        repetitionPenalty != 1 || noRepeatNGramSize > 0 || presencePenalty != 0 || frequencyPenalty != 0
    }

    /// Greedy decoding: always the most likely token.
    public static let greedy = SamplingParameters()

    /// A message naming the first out-of-range field, or nil when every field is usable.
    public var validationError: String? {
        if !(repetitionPenalty.isFinite && repetitionPenalty > 0 && repetitionPenalty <= 10) {
            return "repetition_penalty must be in (0, 10], got \(repetitionPenalty)"
        }
        if noRepeatNGramSize < 0 { return "no_repeat_ngram_size must be >= 0, got \(noRepeatNGramSize)" }
        if !(presencePenalty.isFinite && abs(presencePenalty) <= 2) {
            return "presence_penalty must be in [-2, 2], got \(presencePenalty)"
        }
        if !(frequencyPenalty.isFinite && abs(frequencyPenalty) <= 2) {
            return "frequency_penalty must be in [-2, 2], got \(frequencyPenalty)"
        }
        if greedy { return nil }
        if !(temperature.isFinite && temperature > 0 && temperature <= 100) {
            return "temperature must be in (0, 100], got \(temperature)"
        }
        if topK < 0 { return "top_k must be >= 0, got \(topK)" }
        if !(topP.isFinite && topP > 0 && topP <= 1) { return "top_p must be in (0, 1], got \(topP)" }
        return nil
    }
}
