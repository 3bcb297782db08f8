/// The workers of one role (encoders or decoders) as the router sees them: credits granted, work
/// outstanding, last time heard from. Chooses where the next job goes and who has gone silent.
///
/// Balancing rule: only workers with credit are eligible (the router never sends more than it was
/// granted); among them the one with the least outstanding work, ties going to the one that has
/// waited longest since its last assignment. Not thread-safe: owned by the router's event loop.
public struct WorkerPool<ID: Hashable> {
    /// One worker's bookkeeping.
    public struct Worker {
        public let id: ID
        public var capacity: Int
        public var credits: Int
        public var outstanding: Int = 0
        public var jobsDone: UInt64 = 0
        public var lastSeen: ContinuousClock.Instant
        var lastAssigned: UInt64 = 0
    }

    private(set) public var workers: [ID: Worker] = [:]
    private var assignments: UInt64 = 0

    public init() {}

    /// Registers a worker (or re-registers one that reconnected) with its advertised capacity.
    /// Credits start at zero: a worker grants them with explicit `Credit` messages.
    public mutating func join(_ id: ID, capacity: Int, now: ContinuousClock.Instant) {
        workers[id] = Worker(id: id, capacity: capacity, credits: 0, lastSeen: now)
    }

    /// Removes a worker; returns whether it was known.
    @discardableResult
    public mutating func leave(_ id: ID) -> Bool { workers.removeValue(forKey: id) != nil }

    /// Notes that a worker was heard from.
    public mutating func heard(_ id: ID, now: ContinuousClock.Instant) {
        workers[id]?.lastSeen = now
    }

    /// Adds credits a worker granted, never beyond its capacity minus its outstanding work.
    public mutating func grant(_ id: ID, credits: Int) {
        guard var worker = workers[id] else { return }
        worker.credits = min(worker.credits + max(0, credits), max(0, worker.capacity - worker.outstanding))
        workers[id] = worker
    }

    /// The worker the next job should go to, consuming one of its credits; nil when none has credit.
    public mutating func assign() -> ID? {
        let eligible = workers.values.filter { $0.credits > 0 }
        guard let best = eligible.min(by: { a, b in
            (a.outstanding, a.lastAssigned) < (b.outstanding, b.lastAssigned)
        }) else { return nil }
        assignments += 1
        workers[best.id]?.credits -= 1
        workers[best.id]?.outstanding += 1
        workers[best.id]?.lastAssigned = assignments
        return best.id
    }

    /// Marks one job of a worker finished (its credit comes back with the worker's next `Credit`).
    public mutating func finished(_ id: ID) {
        guard var worker = workers[id], worker.outstanding > 0 else { return }
        worker.outstanding -= 1
        worker.jobsDone += 1
        workers[id] = worker
    }

    /// Workers not heard from since `deadline`: they are dead and their work must be re-sent.
    public func silent(since deadline: ContinuousClock.Instant) -> [ID] {
        workers.values.filter { $0.lastSeen < deadline }.map(\.id)
    }

    /// Total credits available right now.
    public var availableCredits: Int { workers.values.reduce(0) { $0 + $1.credits } }
}
