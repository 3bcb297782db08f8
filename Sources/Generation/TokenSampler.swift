import Foundation

/// A small, fast, seedable generator (SplitMix64, Steele et al. 2014). Each step of a job uses a fresh generator
/// seeded from (seed, step), so a job resumed on another worker draws exactly the numbers it would have drawn.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The generator for step `step` of a job seeded with `seed`.
    public init(seed: UInt64, step: Int) {
        var mixer = SplitMix64(seed: seed ^ 0xD1B5_4A32_D192_ED03)
        state = mixer.next() &+ UInt64(truncatingIfNeeded: step) &* 0x9E37_79B9_7F4A_7C15
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }
}

/// Chooses the next token from raw logits, as transformers' `generate` does, its logits processors in its order:
/// repetition penalty, no-repeat n-grams (both over the context: what transformers passes them as `input_ids`),
/// the min-new-tokens rule (EOS gets -inf while fewer than N tokens were generated), then OpenAI's presence and
/// frequency penalties (over the generated ids; transformers has none, so they run where a custom processor
/// would), then greedy argmax, or temperature -> top-k -> top-p -> a draw from the softmax.
public struct TokenSampler: Sendable {
    /// How tokens are chosen.
    public let parameters: SamplingParameters
    /// Ids that end the sequence (and are suppressed before `minNewTokens`).
    public let eosTokenIDs: [Int32]
    /// EOS is not allowed until this many tokens were generated.
    public let minNewTokens: Int

    /// A sampler; `parameters` are assumed valid (see `SamplingParameters.validationError`).
    public init(parameters: SamplingParameters, eosTokenIDs: [Int32], minNewTokens: Int = 0) {
        self.parameters = parameters
        self.eosTokenIDs = eosTokenIDs
        self.minNewTokens = minNewTokens
    }

    /// The token for generation step `step` (0 = first new token) given that step's raw logits; `context` is the
    /// ids before it that the penalties look at (the model's context prefix, then the `step` generated ids).
    public func choose(from rawLogits: [Float], step: Int, context: [Int32] = []) -> Int32 {
        var logits = rawLogits
        process(&logits, step: step, context: context)
        return choose(processed: logits, step: step)
    }

    /// The token for step `step` given that step's logits after `process`: the argmax, or a draw after temperature,
    /// top-k and top-p.
    public func choose(processed logits: [Float], step: Int) -> Int32 {
        if parameters.greedy { return Self.argmax(logits) }
        return sample(logits, step: step)
    }

    /// Applies the logits processors (penalties, the min-new-tokens rule) in transformers' order to `scores` of step
    /// `step`, in place: raw logits when choosing a token, log-probabilities in beam search (as transformers does).
    public func process(_ scores: inout [Float], step: Int, context: [Int32]) {
        if parameters.hasPenalties { penalize(&scores, context: context) }
        if step < minNewTokens {
            for id in eosTokenIDs where id >= 0 && Int(id) < scores.count { scores[Int(id)] = -.infinity }
        }
        if parameters.presencePenalty != 0 || parameters.frequencyPenalty != 0 {
            var counts: [Int32: Int] = [:]
            for id in context.suffix(step) { counts[id, default: 0] += 1 }
            for (id, count) in counts where id >= 0 && Int(id) < scores.count {
                scores[Int(id)] -= parameters.frequencyPenalty * Float(count) + parameters.presencePenalty
            }
        }
    }

    /// transformers' `RepetitionPenaltyLogitsProcessor` then `NoRepeatNGramLogitsProcessor` over `context`.
    private func penalize(_ logits: inout [Float], context: [Int32]) {
        let penalty = parameters.repetitionPenalty
        if penalty != 1 {
            for id in Set(context) where id >= 0 && Int(id) < logits.count {
                let value = logits[Int(id)]
                logits[Int(id)] = value < 0 ? value * penalty : value / penalty
            }
        }
        let n = parameters.noRepeatNGramSize
        if n > 0, context.count >= n {
            // Every n-gram of the context whose first n - 1 ids equal the last n - 1 ids bans its last id.
            let prefix = context.suffix(n - 1)
            for start in 0...(context.count - n) where context[start..<(start + n - 1)].elementsEqual(prefix) {
                let banned = context[start + n - 1]
                if banned >= 0, Int(banned) < logits.count { logits[Int(banned)] = -.infinity }
            }
        }
    }

    /// Index of the largest value; the first on ties, as torch.argmax; NaN never wins.
    public static func argmax(_ values: [Float]) -> Int32 {
        var best = 0
        var bestValue = -Float.infinity
        for index in values.indices where values[index] > bestValue {
            best = index
            bestValue = values[index]
        }
        return Int32(best)
    }

    private func sample(_ logits: [Float], step: Int) -> Int32 {
        let temperature = parameters.temperature
        let finite = logits.filter(\.isFinite)
        guard let largest = finite.max() else { return Self.argmax(logits) }
        // (id, scaled logit) of the candidates, most likely first; ties keep the lower id first. The largest logit is
        // subtracted before dividing, so a tiny temperature sends the others to -inf (probability 0) instead of
        // overflowing every value to inf (NaN probabilities): the limit T -> 0 is greedy, as it should be.
        var candidates = logits.enumerated().compactMap { index, value -> (Int32, Float)? in
            value.isFinite ? (Int32(index), (value - largest) / temperature) : nil
        }
        candidates.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        if parameters.topK > 0 && parameters.topK < candidates.count {
            // transformers' TopKLogitsWarper keeps every token tied with the k-th.
            let threshold = candidates[parameters.topK - 1].1
            candidates = candidates.filter { $0.1 >= threshold }
        }
        let maximum = candidates[0].1
        var probabilities = candidates.map { expf($0.1 - maximum) }
        var total = probabilities.reduce(0, +)
        if parameters.topP < 1 {
            // Keep the smallest prefix whose probability reaches top_p (at least one token).
            var cumulative: Float = 0
            var kept = 0
            for probability in probabilities {
                cumulative += probability / total
                kept += 1
                if cumulative >= parameters.topP { break }
            }
            candidates.removeLast(candidates.count - kept)
            probabilities.removeLast(probabilities.count - kept)
            total = probabilities.reduce(0, +)
        }
        var generator = SplitMix64(seed: parameters.seed, step: step)
        let target = generator.nextUnitFloat() * total
        var cumulative: Float = 0
        for (candidate, probability) in zip(candidates, probabilities) {
            cumulative += probability
            if target < cumulative { return candidate.0 }
        }
        return candidates[candidates.count - 1].0
    }
}
