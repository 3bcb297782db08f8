import Wire

/// When a decoder sends a running job's tokens to the router (`l2s decoder --stream-interval`). A job's first
/// tokens and its final chunk go at once. In between, the decoder sends the tokens of jobs whose clients stream
/// every `interval` steps, all jobs' in the same step (so its messages, not only its chunks, are `interval` times
/// fewer), and a job whose client waits for the whole answer keeps its tokens until it ends; either way no token
/// waits longer than `holdLimit`, so the router sees progress well within its stall timeout and a failover replays
/// little. Fewer messages cost the router and the clients less; the tokens are the same.
public struct StreamPolicy: Sendable, Equatable {
    /// Steps between two sends of streamed jobs' tokens (1: every token as it comes).
    public var interval: Int
    /// The longest a generated token waits before it is sent.
    public var holdLimit: Duration

    /// A policy sending streamed jobs' tokens every `interval` steps and none later than `holdLimit`.
    public init(interval: Int = 1, holdLimit: Duration = .milliseconds(100)) {
        self.interval = max(1, interval)
        self.holdLimit = holdLimit
    }
}

/// A job's tokens generated but not sent yet, merged into one chunk, and the rule of `StreamPolicy` that says when
/// they go.
struct HeldChunk {
    private var held: TokenChunk?
    /// When the oldest held token was generated.
    private var since: ContinuousClock.Instant = .now
    private var sentAny = false

    /// Adds a step's chunk; returns the chunk to send now (every token held so far, in order), or nil to keep
    /// holding. `release` says the decoder sends this job's tokens this step (a streamed job on a sending step).
    mutating func add(
        _ chunk: TokenChunk, release: Bool, holdLimit: Duration, now: ContinuousClock.Instant
    ) -> TokenChunk? {
        var merged = chunk
        if let held {
            merged = held
            merged.ids += chunk.ids
            merged.textDelta += chunk.textDelta
            merged.logprobs += chunk.logprobs
            merged.finishReason = chunk.finishReason
            merged.usage = chunk.usage
        } else {
            since = now
        }
        guard release || !sentAny || chunk.finishReason != .unspecified || now - since >= holdLimit else {
            held = merged
            return nil
        }
        held = nil
        sentAny = true
        return merged
    }
}
