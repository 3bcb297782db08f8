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
    /// Bounds on client requests (`--max-new-tokens-limit`).
    public var requestLimits = RequestLimits()
    /// Which bundle workers must serve (`--bundle DIR`, or `--adopt-bundle`).
    public var bundle: BundlePolicy = .adoptFirstWorker
    /// Largest capacity (slots) a worker may announce; more is cut to this (`--max-worker-slots`).
    public var maxWorkerSlots: Int = 1024
    /// A worker holding an encode or a decode job this long without progress (an encoding, a token) has
    /// stalled: the work goes to another worker (`--stall-timeout-ms`).
    public var stallTimeout: Duration = .seconds(30)
    /// Workers a job or an encode may be tried on before it fails with `unavailable` (`--max-attempts`).
    public var maxAttempts: Int = 3
    /// Consecutive faults (invalid replies, errors, stalls) after which a worker gets no work for `breakerCooldown`.
    public var breakerThreshold: Int = 3
    /// How long a worker that tripped its breaker gets no work (`--breaker-cooldown-ms`).
    public var breakerCooldown: Duration = .seconds(10)
    /// Messages the router holds for a client that does not read before it cancels that client's jobs
    /// (`--client-backlog`).
    public var clientBacklog: Int = 20_000
    /// After the first stop request: how long jobs in flight may run on (new ones are refused) before the rest are
    /// ended with `UNAVAILABLE`. Zero stops at once.
    public var drainTimeout: Duration = .seconds(25)

    /// The defaults.
    public init() {}

    /// A worker silent for this long is dead.
    var deadAfter: Duration { heartbeatInterval * liveness }
}

/// How the router learns which bundle the cluster serves.
public enum BundlePolicy: Sendable, Equatable {
    /// Fixed at start-up from `l2s router --bundle DIR` (its `l2s.json`).
    case pinned(BundleIdentity)
    /// Taken from the first worker that says hello, and dropped again when no worker is left.
    case adoptFirstWorker
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

    /// `out` with the token chunks for each client merged into one `tokenChunks` message, placed where that
    /// client's first chunk was: a decoder's step becomes one message per client, not one per job. The order of
    /// each job's chunks, and of everything else, is kept.
    static func mergingClientChunks(_ out: [Outgoing]) -> [Outgoing] {
        var merged: [Outgoing] = []
        var firstIndex: [PeerIdentity: Int] = [:]
        var chunks: [Int: [TokenChunk]] = [:]
        for item in out {
            guard item.link == .clients, case .tokenChunk(let chunk) = item.message else {
                merged.append(item)
                continue
            }
            if let index = firstIndex[item.peer] {
                chunks[index, default: []].append(chunk)
            } else {
                firstIndex[item.peer] = merged.count
                chunks[merged.count] = [chunk]
                merged.append(item)
            }
        }
        for (index, list) in chunks where list.count > 1 {
            merged[index] = Outgoing(link: .clients, peer: merged[index].peer, message: .tokenChunks(list))
        }
        return merged
    }
}
