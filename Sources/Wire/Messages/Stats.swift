/// Asks the router for its statistics (`l2s.StatsRequest`, no fields).
public struct StatsRequest: Sendable, Equatable {
    /// The only stats request.
    public init() {}
}

/// One worker as the router sees it (`l2s.WorkerStats`).
public struct WorkerStats: Sendable, Equatable {
    /// The worker's id from its hello.
    public var workerID: String
    /// Encoder or decoder.
    public var role: Role
    /// Slots in total.
    public var capacity: UInt32
    /// Credits currently granted.
    public var credits: UInt32
    /// Jobs in flight on the worker.
    public var outstanding: UInt32
    /// Jobs finished by the worker.
    public var jobsDone: UInt64
    /// Milliseconds since the last message from the worker.
    public var lastSeenMsAgo: UInt64

    /// Worker statistics from their fields.
    public init(
        workerID: String, role: Role, capacity: UInt32 = 0, credits: UInt32 = 0, outstanding: UInt32 = 0,
        jobsDone: UInt64 = 0, lastSeenMsAgo: UInt64 = 0
    ) {
        self.workerID = workerID
        self.role = role
        self.capacity = capacity
        self.credits = credits
        self.outstanding = outstanding
        self.jobsDone = jobsDone
        self.lastSeenMsAgo = lastSeenMsAgo
    }
}

/// Encoding cache counters (`l2s.CacheStats`).
public struct CacheStats: Sendable, Equatable {
    /// Lookups that found an encoding.
    public var hits: UInt64
    /// Lookups that did not.
    public var misses: UInt64
    /// Entries dropped to stay under capacity.
    public var evictions: UInt64
    /// Entries held.
    public var entries: UInt64
    /// Bytes held.
    public var bytes: UInt64
    /// Byte budget.
    public var capacityBytes: UInt64
    /// Requests that waited on an identical in-flight encode.
    public var coalesced: UInt64

    /// Cache counters from their fields.
    public init(
        hits: UInt64 = 0, misses: UInt64 = 0, evictions: UInt64 = 0, entries: UInt64 = 0, bytes: UInt64 = 0,
        capacityBytes: UInt64 = 0, coalesced: UInt64 = 0
    ) {
        self.hits = hits
        self.misses = misses
        self.evictions = evictions
        self.entries = entries
        self.bytes = bytes
        self.capacityBytes = capacityBytes
        self.coalesced = coalesced
    }
}

/// What went wrong around the router and what it did about it (fields of `l2s.StatsReply`).
public struct FaultStats: Sendable, Equatable {
    /// Jobs cancelled by their client, its deadline, its disconnect or its slowness.
    public var jobsCancelled: UInt64
    /// Jobs cancelled because their client did not read its chunks.
    public var slowClientCancels: UInt64
    /// Invalid replies, errors and stalls of workers.
    public var workerFaults: UInt64
    /// Encodes and decode jobs re-sent to another worker after a fault.
    public var retries: UInt64
    /// Hellos refused (bundle mismatch, missing fingerprints, wrong role).
    public var refusedPeers: UInt64

    /// Fault counters from their fields.
    public init(
        jobsCancelled: UInt64 = 0, slowClientCancels: UInt64 = 0, workerFaults: UInt64 = 0, retries: UInt64 = 0,
        refusedPeers: UInt64 = 0
    ) {
        self.jobsCancelled = jobsCancelled
        self.slowClientCancels = slowClientCancels
        self.workerFaults = workerFaults
        self.retries = retries
        self.refusedPeers = refusedPeers
    }
}

/// The router's statistics (`l2s.StatsReply`).
public struct StatsReply: Sendable, Equatable {
    /// Every known worker.
    public var workers: [WorkerStats]
    /// Jobs waiting for a worker.
    public var queueDepth: UInt32
    /// Queue bound; more jobs are refused as overloaded.
    public var maxQueue: UInt32
    /// Encoding cache counters (all zero when the sender sent none).
    public var cache: CacheStats
    /// Jobs finished.
    public var jobsDone: UInt64
    /// Jobs failed.
    public var jobsFailed: UInt64
    /// Tokens generated in total.
    public var tokensGenerated: UInt64
    /// Recent generation throughput.
    public var tokensPerSecond: Double
    /// Router uptime in milliseconds.
    public var uptimeMs: UInt64
    /// Cancellations, worker faults, retries and refusals.
    public var faults: FaultStats

    /// Router statistics from their fields.
    public init(
        workers: [WorkerStats] = [], queueDepth: UInt32 = 0, maxQueue: UInt32 = 0, cache: CacheStats = CacheStats(),
        jobsDone: UInt64 = 0, jobsFailed: UInt64 = 0, tokensGenerated: UInt64 = 0, tokensPerSecond: Double = 0,
        uptimeMs: UInt64 = 0, faults: FaultStats = FaultStats()
    ) {
        self.faults = faults
        self.workers = workers
        self.queueDepth = queueDepth
        self.maxQueue = maxQueue
        self.cache = cache
        self.jobsDone = jobsDone
        self.jobsFailed = jobsFailed
        self.tokensGenerated = tokensGenerated
        self.tokensPerSecond = tokensPerSecond
        self.uptimeMs = uptimeMs
    }
}
