/// One message of the l2s protocol: the body of an `l2s.Envelope`. The envelope's version is implicit
/// (`L2SVersion.protocolVersion` on send, checked on receive) and a tensor, when the body has one,
/// travels in its own frame.
public enum Message: Sendable, Equatable {
    /// Worker announces itself.
    case hello(Hello)
    /// Liveness.
    case heartbeat(Heartbeat)
    /// Flow-control grant.
    case credit(Credit)
    /// Client job.
    case generate(GenerateRequest)
    /// Cancel a job.
    case cancel(Cancel)
    /// Router asks an encoder for an encoding.
    case encodeRequest(EncodeRequest)
    /// Encoder's answer, with a tensor frame.
    case encoding(Encoding)
    /// Router hands a job to a decoder, with a tensor frame.
    case decodeJob(DecodeJob)
    /// Generated tokens.
    case tokenChunk(TokenChunk)
    /// Generated tokens of several jobs (a decoder's step, or a client's share of it), in order per job.
    case tokenChunks([TokenChunk])
    /// An error reply.
    case error(ErrorReply)
    /// Ask for statistics.
    case statsRequest(StatsRequest)
    /// Statistics.
    case statsReply(StatsReply)
    /// Clean shutdown notice.
    case goodbye(Goodbye)

    /// The body's kind, for dispatch tables, logs and `WireError.unexpectedMessage`.
    public var kind: MessageKind {
        switch self {
        case .hello: return .hello
        case .heartbeat: return .heartbeat
        case .credit: return .credit
        case .generate: return .generate
        case .cancel: return .cancel
        case .encodeRequest: return .encodeRequest
        case .encoding: return .encoding
        case .decodeJob: return .decodeJob
        case .tokenChunk: return .tokenChunk
        case .tokenChunks: return .tokenChunks
        case .error: return .error
        case .statsRequest: return .statsRequest
        case .statsReply: return .statsReply
        case .goodbye: return .goodbye
        }
    }

    /// The tensor that travels in the frame after the envelope, if the body has one.
    public var tensor: Tensor? {
        switch self {
        case .encoding(let encoding): return encoding.tensor
        case .decodeJob(let job): return job.encoding.tensor
        default: return nil
        }
    }

    /// Throws `WireError.unexpectedMessage` unless this message's kind is in `allowed` (a socket's accepted bodies).
    public func expect(_ allowed: [MessageKind]) throws(WireError) {
        guard allowed.contains(kind) else { throw .unexpectedMessage(got: kind, expected: allowed) }
    }
}

/// The kinds of `Message`, named as the `Envelope.body` oneof fields of proto/l2s.proto.
public enum MessageKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `hello`
    case hello
    /// `heartbeat`
    case heartbeat
    /// `credit`
    case credit
    /// `generate`
    case generate
    /// `cancel`
    case cancel
    /// `encode_request`
    case encodeRequest = "encode_request"
    /// `encoding`
    case encoding
    /// `decode_job`
    case decodeJob = "decode_job"
    /// `token_chunk`
    case tokenChunk = "token_chunk"
    /// `token_chunks`
    case tokenChunks = "token_chunks"
    /// `error`
    case error
    /// `stats_request`
    case statsRequest = "stats_request"
    /// `stats_reply`
    case statsReply = "stats_reply"
    /// `goodbye`
    case goodbye

    /// The oneof field name.
    public var description: String { rawValue }

    /// Whether the body carries a `TensorInfo` and so is followed by exactly one tensor frame.
    public var carriesTensor: Bool { self == .encoding || self == .decodeJob }
}
