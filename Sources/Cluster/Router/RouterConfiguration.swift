import Wire

/// The router's tunables; every one has a flag on `l2s router`.
public struct RouterConfiguration: Sendable {
    /// Bytes of encodings the cache may hold (`--cache-mb`).
    public var cacheBytes: Int = 256 << 20
    /// Jobs that may wait for an encoder or a decoder before new ones are refused as `overloaded` (`--max-queue`).
    public var maxQueue: Int = 256
    /// How often the router sends heartbeats and expects them (`--heartbeat-ms`).
    public var heartbeatInterval: Duration = .milliseconds(1000)
    /// Heartbeat intervals of silence after which a worker is dead (`--liveness`).
    public var liveness: Int = 3
    /// Largest `max_new_tokens` a client may ask for.
    public var maxNewTokensLimit: UInt32 = 4096
    /// Largest prompt a client may send, in UTF-8 bytes of text or in token ids.
    public var maxPromptBytes: Int = 256 << 10
    /// Largest number of stop sequences per request.
    public var maxStopSequences: Int = 16
    /// Fingerprints every worker must announce; nil = taken from the first worker that says hello.
    public var pinnedFingerprints: Fingerprints?

    /// The defaults.
    public init() {}

    /// A worker silent for this long is dead.
    var deadAfter: Duration { heartbeatInterval * liveness }
}

/// Which of the router's three sockets a message came from or goes to.
public enum Link: String, Sendable, CaseIterable {
    case clients, encoders, decoders

    /// The role a peer on this link must announce.
    var workerRole: Role? {
        switch self {
        case .clients: return nil
        case .encoders: return .encoder
        case .decoders: return .decoder
        }
    }
}

/// A message the router wants sent: on which socket, to whom.
public struct Outgoing: Sendable {
    public let link: Link
    public let peer: PeerIdentity
    public let message: Message
}
