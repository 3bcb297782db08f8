import Foundation

/// One alternative of a step's top-N: an id and its log-probability.
public struct TopLogprob: Sendable, Equatable {
    /// The token id.
    public var id: Int32
    /// Its log-probability under the step's processed distribution.
    public var logprob: Float

    /// An alternative.
    public init(id: Int32, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// The log-probability of one generated token and the step's most likely alternatives (`--logprobs N`), taken from
/// the log-softmax of the logits after the logits processors (penalties, min-new-tokens) and before temperature,
/// top-k and top-p (docs/generation.md).
public struct TokenLogprob: Sendable, Equatable {
    /// The id chosen.
    public var id: Int32
    /// Its log-probability (-inf when the processors had banned it, which a greedy or sampled step never chooses).
    public var logprob: Float
    /// The N most likely ids, most likely first, ties to the lower id.
    public var top: [TopLogprob]

    /// The most alternatives a job may ask for (OpenAI's chat `top_logprobs` limit).
    public static let maxTop = 20

    /// A token's log-probabilities.
    public init(id: Int32, logprob: Float, top: [TopLogprob] = []) {
        self.id = id
        self.logprob = logprob
        self.top = top
    }

    /// The entry for `id` chosen from `processed` (one step's logits after the processors), with its `count` best
    /// alternatives.
    public static func make(processed: [Float], chosen id: Int32, top count: Int) -> TokenLogprob {
        let logprobs = LogSoftmax.apply(processed)
        let value = id >= 0 && Int(id) < logprobs.count ? logprobs[Int(id)] : -.infinity
        return TokenLogprob(id: id, logprob: value, top: best(logprobs, count: count))
    }

    /// The `count` largest values of `values` as (index, value), largest first, ties to the lower index; NaN never
    /// ranks. One pass keeping a sorted list of at most `count` (count <= 20, vocabularies are tens of thousands).
    static func best(_ values: [Float], count: Int) -> [TopLogprob] {
        guard count > 0 else { return [] }
        var kept: [TopLogprob] = []
        kept.reserveCapacity(count + 1)
        for (index, value) in values.enumerated() where !value.isNaN {
            if kept.count == count, let last = kept.last, !(value > last.logprob) { continue }
            // Insert after every kept value >= this one: equal values keep the lower (earlier) index first.
            let position = kept.firstIndex { $0.logprob < value } ?? kept.count
            kept.insert(TopLogprob(id: Int32(index), logprob: value), at: position)
            if kept.count > count { kept.removeLast() }
        }
        return kept
    }

    /// This entry as a JSON object: {"id","logprob","top":[[id,logprob],...]}, non-finite values as null.
    public var json: String {
        let pairs = top.map { "[\($0.id),\(Self.number($0.logprob))]" }.joined(separator: ",")
        return #"{"id":\#(id),"logprob":\#(Self.number(logprob)),"top":[\#(pairs)]}"#
    }

    /// `entries` as a JSON array.
    public static func json(_ entries: [TokenLogprob]) -> String {
        "[" + entries.map(\.json).joined(separator: ",") + "]"
    }

    /// A Float as JSON: its shortest round-tripping decimal, null when not finite (JSON has no infinities).
    static func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }
}
