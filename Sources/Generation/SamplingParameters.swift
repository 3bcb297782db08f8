/// How the next token is chosen from the logits. Greedy ignores every other field.
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

    /// Parameters; the defaults are greedy decoding.
    public init(greedy: Bool = true, temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.greedy = greedy
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    /// Greedy decoding: always the most likely token.
    public static let greedy = SamplingParameters()

    /// A message naming the first out-of-range field, or nil when every field is usable.
    public var validationError: String? {
        if greedy { return nil }
        if !(temperature.isFinite && temperature > 0 && temperature <= 100) {
            return "temperature must be in (0, 100], got \(temperature)"
        }
        if topK < 0 { return "top_k must be >= 0, got \(topK)" }
        if !(topP.isFinite && topP > 0 && topP <= 1) { return "top_p must be in (0, 1], got \(topP)" }
        return nil
    }
}
