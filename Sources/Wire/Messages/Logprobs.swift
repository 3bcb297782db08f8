/// One alternative of a step's top-N as it travels (`l2s.TopLogprob`).
public struct ChunkTopLogprob: Sendable, Equatable {
    /// The token id.
    public var id: Int32
    /// Its log-probability.
    public var logprob: Float
    /// The SLM tokenizer's piece for `id`; empty when the sender had no tokenizer.
    public var text: String

    /// An alternative from its fields.
    public init(id: Int32, logprob: Float, text: String = "") {
        self.id = id
        self.logprob = logprob
        self.text = text
    }
}

/// A generated token's log-probability and its step's alternatives as they travel (`l2s.TokenLogprob`); a chunk
/// carries one per id when its job asked for them (`GenerateRequest.logprobs`).
public struct ChunkLogprob: Sendable, Equatable {
    /// The id chosen (equal to the chunk's id at the same index).
    public var id: Int32
    /// Its log-probability (-inf possible).
    public var logprob: Float
    /// The most likely ids of the step, most likely first.
    public var top: [ChunkTopLogprob]
    /// The SLM tokenizer's piece for `id`; empty when the sender had no tokenizer.
    public var text: String

    /// An entry from its fields.
    public init(id: Int32, logprob: Float, top: [ChunkTopLogprob] = [], text: String = "") {
        self.id = id
        self.logprob = logprob
        self.top = top
        self.text = text
    }
}
