/// The workers of one role (encoders or decoders) as the router sees them: credits granted, work
/// outstanding, last time heard from, faults in a row. Chooses where the next job goes and who has gone silent.
///
/// Balancing rule: only workers with credit and a closed breaker are eligible (the router never sends more than
/// it was granted, and never feeds a worker that keeps failing); among them the one with the least outstanding
/// work, ties going to the one that has waited longest since its last assignment, unless the caller prefers an
/// eligible worker (a decoder that has the prompt's start cached) that holds fewer than `affinitySlack` jobs more
/// than that one. Not thread-safe: owned by the router's event loop.
public struct WorkerPool<ID: Hashable> {
    /// One worker's bookkeeping.
    public struct Worker {
        public let id: ID
        public var capacity: Int
        public var credits: Int
        public var outstanding: Int = 0
        public var jobsDone: UInt64 = 0
        public var lastSeen: ContinuousClock.Instant
        /// The worker's kernel variant (decoders): its numeric identity.
        public var variant: String = ""
        /// Faults since the last success.
        public var faultsInARow: Int = 0
        /// While set and in the future, the worker gets no work (its breaker is open).
        public var quarantinedUntil: ContinuousClock.Instant?
        /// The worker is shutting down (it said goodbye with `draining`): it gets no work and grants no credits.
        public var isDraining = false
        var lastAssigned: UInt64 = 0

        /// Whether the breaker keeps this worker from getting work at `now`.
        public func isQuarantined(at now: ContinuousClock.Instant) -> Bool {
            guard let quarantinedUntil else { return false }
            return now < quarantinedUntil
        }
    }

    private(set) public var workers: [ID: Worker] = [:]
    private var assignments: UInt64 = 0
    private let breakerThreshold: Int
    private let breakerCooldown: Duration

    /// An empty pool whose breaker opens after `breakerThreshold` faults in a row, for `breakerCooldown`.
    public init(breakerThreshold: Int = 3, breakerCooldown: Duration = .seconds(10)) {
        self.breakerThreshold = max(1, breakerThreshold)
        self.breakerCooldown = breakerCooldown
    }

    /// Registers a worker (or re-registers one that reconnected) with its advertised capacity.
    /// Credits start at zero: a worker grants them with explicit `Credit` messages.
    public mutating func join(_ id: ID, capacity: Int, variant: String = "", now: ContinuousClock.Instant) {
        workers[id] = Worker(id: id, capacity: capacity, credits: 0, lastSeen: now, variant: variant)
    }

    /// Removes a worker; returns whether it was known.
    @discardableResult
    public mutating func leave(_ id: ID) -> Bool { workers.removeValue(forKey: id) != nil }

    /// Notes that a worker was heard from.
    public mutating func heard(_ id: ID, now: ContinuousClock.Instant) {
        workers[id]?.lastSeen = now
    }

    /// Marks a worker as draining: no more work, its credits are void; its outstanding work stays with it.
    public mutating func drain(_ id: ID) {
        workers[id]?.isDraining = true
        workers[id]?.credits = 0
    }

    /// Adds credits a worker granted, never beyond its capacity minus its outstanding work (none while it drains).
    public mutating func grant(_ id: ID, credits: Int) {
        guard var worker = workers[id], !worker.isDraining else { return }
        worker.credits = min(worker.credits + max(0, credits), max(0, worker.capacity - worker.outstanding))
        workers[id] = worker
    }

    /// How many more jobs than the least loaded eligible worker a preferred one may hold and still be chosen: a
    /// decoder's cached prompt start saves a whole SLM prefill (tens of steps), one job more in its batch costs a
    /// fraction of each step.
    public static var affinitySlack: Int { 2 }

    /// The worker the next job should go to, consuming `cost` of its credits (a beam job's rows; 1 otherwise); nil
    /// when none is eligible. Workers in `avoiding` (those a job already failed on) are taken only when every member
    /// is among them; with `variant`, only workers of that kernel variant are taken at all; `preferring` wins over
    /// the least loaded when eligible and within `affinitySlack` of it.
    public mutating func assign(
        now: ContinuousClock.Instant, avoiding: Set<ID> = [], variant: String? = nil, cost: Int = 1,
        preferring: ID? = nil
    ) -> ID? {
        let members = workers.values.filter { variant == nil || $0.variant == variant }
        let open = members.filter { $0.credits >= max(1, cost) && !$0.isQuarantined(at: now) }
        let untried = open.filter { !avoiding.contains($0.id) }
        let onlyTriedLeft = members.allSatisfy { avoiding.contains($0.id) }
        let eligible = onlyTriedLeft ? open : untried
        guard
            var best = eligible.min(by: { a, b in
                (a.outstanding, a.lastAssigned) < (b.outstanding, b.lastAssigned)
            })
        else { return nil }
        if let preferred = eligible.first(where: { $0.id == preferring }),
            preferred.outstanding < best.outstanding + Self.affinitySlack
        {
            best = preferred
        }
        assignments += 1
        workers[best.id]?.credits -= max(1, cost)
        workers[best.id]?.outstanding += max(1, cost)
        workers[best.id]?.lastAssigned = assignments
        return best.id
    }

    /// Marks one job of a worker finished well (its `cost` credits come back with the worker's next `Credit`).
    public mutating func finished(_ id: ID, cost: Int = 1) {
        release(id, cost: cost)
        workers[id]?.jobsDone += 1
        workers[id]?.faultsInARow = 0
    }

    /// Takes one job of `cost` off a worker without counting it done or failed (the client cancelled it).
    public mutating func released(_ id: ID, cost: Int = 1) { release(id, cost: cost) }

    /// Takes one job of `cost` off a worker that failed it; returns true when this fault opened the worker's breaker.
    @discardableResult
    public mutating func failed(_ id: ID, cost: Int = 1, now: ContinuousClock.Instant) -> Bool {
        release(id, cost: cost)
        guard var worker = workers[id] else { return false }
        worker.faultsInARow += 1
        let trips = worker.faultsInARow >= breakerThreshold
        if trips {
            worker.quarantinedUntil = now + breakerCooldown
            // After the cooldown one more fault opens it again at once (half-open).
            worker.faultsInARow = breakerThreshold - 1
        }
        workers[id] = worker
        return trips
    }

    private mutating func release(_ id: ID, cost: Int) {
        guard var worker = workers[id], worker.outstanding > 0 else { return }
        worker.outstanding -= min(worker.outstanding, max(1, cost))
        workers[id] = worker
    }

    /// The most credits any member of `variant` (any, when nil) can ever grant: a job costing more never fits.
    public func largestCapacity(variant: String? = nil) -> Int {
        workers.values.filter { variant == nil || $0.variant == variant }.map(\.capacity).max() ?? 0
    }

    /// Whether any member has kernel variant `variant`.
    public func hasMember(variant: String) -> Bool { workers.values.contains { $0.variant == variant } }

    /// Workers not heard from since `deadline`: they are dead and their work must be re-sent.
    public func silent(since deadline: ContinuousClock.Instant) -> [ID] {
        workers.values.filter { $0.lastSeen < deadline }.map(\.id)
    }

    /// Credits of workers that may get work at `now`.
    public func availableCredits(at now: ContinuousClock.Instant) -> Int {
        workers.values.reduce(0) { $0 + ($1.isQuarantined(at: now) ? 0 : $1.credits) }
    }
}
