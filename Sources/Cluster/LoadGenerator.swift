import Foundation
import Generation
import Wire

/// `l2s bench`: a closed-loop load generator over the router's clients socket. It keeps `concurrency` jobs in
/// flight on one `ClusterClient` (the router keys jobs by request id, so one DEALER carries them all), submits
/// the next job as soon as one ends, and stops after `requests` jobs or at `timeout`, whichever comes first.
/// Results are measured on the client: what a user of the cluster sees, queueing included.
public final class LoadGenerator {
    /// What to send.
    public struct Workload: Sendable {
        /// Distinct prompts to draw fresh requests from, in order.
        public var prompts: [Prompt]
        /// Jobs in total.
        public var requests: Int
        /// Jobs in flight at once.
        public var concurrency: Int
        /// `max_new_tokens` of every job.
        public var maxNewTokens: UInt32
        /// `min_new_tokens` of every job (forces long answers on models that stop early).
        public var minNewTokens: UInt32
        /// Fraction of jobs (after the first) that reuse the prompt of an earlier job.
        public var repeatFraction: Double
        /// Ask for one chunk per token (needed for time to first token).
        public var stream: Bool
        /// Seed of the choice between fresh and repeated prompts.
        public var seed: UInt64
        /// The whole run stops after this long.
        public var timeout: Duration

        /// A workload from its fields.
        public init(
            prompts: [Prompt], requests: Int, concurrency: Int, maxNewTokens: UInt32, minNewTokens: UInt32 = 0,
            repeatFraction: Double = 0, stream: Bool = false, seed: UInt64 = 0, timeout: Duration = .seconds(300)
        ) {
            self.prompts = prompts
            self.requests = requests
            self.concurrency = concurrency
            self.maxNewTokens = maxNewTokens
            self.minNewTokens = minNewTokens
            self.repeatFraction = repeatFraction
            self.stream = stream
            self.seed = seed
            self.timeout = timeout
        }
    }

    /// One planned job: which prompt, with which tenant salt, and whether it repeats an earlier job's key.
    struct PlannedRequest: Equatable {
        let promptIndex: Int
        let salt: [UInt8]
        let isRepeat: Bool
    }

    /// What happened to one job.
    struct Outcome {
        var submitted: ContinuousClock.Instant?
        var firstToken: ContinuousClock.Instant?
        var lastToken: ContinuousClock.Instant?
        /// Milliseconds between consecutive token arrivals (streamed jobs).
        var gaps: [Double] = []
        var finished: ContinuousClock.Instant?
        var tokens = 0
        var cachedEncoding = false
        var errorCode: String?
    }

    private let workload: Workload
    private let client: ClusterClient

    /// A generator sending `workload` through `client`.
    public init(workload: Workload, client: ClusterClient) {
        self.workload = workload
        self.client = client
    }

    /// The sequence of jobs, fixed by the seed. A fresh job takes the next prompt of the list; once the list is
    /// used up it starts over with a new tenant salt per round, so every fresh job still has a key the router's
    /// cache has not seen (the encoder really runs). A repeated job takes the key of a uniformly chosen earlier
    /// fresh job, which the cache holds (or, while that job is still being encoded, coalesces with).
    static func plan(_ workload: Workload) -> [PlannedRequest] {
        var generator = SplitMix64(seed: workload.seed)
        var fresh: [PlannedRequest] = []
        var plan: [PlannedRequest] = []
        plan.reserveCapacity(workload.requests)
        for _ in 0..<workload.requests {
            let draw = Double(generator.next() >> 11) * 0x1p-53
            if !fresh.isEmpty && draw < workload.repeatFraction {
                let earlier = fresh[Int(generator.next() % UInt64(fresh.count))]
                plan.append(PlannedRequest(promptIndex: earlier.promptIndex, salt: earlier.salt, isRepeat: true))
            } else {
                let round = fresh.count / workload.prompts.count
                let salt = round == 0 ? [] : Array("l2s-bench-round-\(round)".utf8)
                let request = PlannedRequest(
                    promptIndex: fresh.count % workload.prompts.count, salt: salt,
                    isRepeat: false)
                fresh.append(request)
                plan.append(request)
            }
        }
        return plan
    }

    /// Runs the workload to its end (all jobs answered, or the timeout) and reports. Jobs still in flight at the
    /// timeout are cancelled and count as failed (`client_timeout`); jobs never sent count as `not_sent`.
    public func run() throws -> LoadReport {
        let plan = Self.plan(workload)
        // The router's counters are a bonus: a router that does not answer must not stretch the run.
        let statsTimeout = min(.seconds(5), workload.timeout)
        let before = try? client.stats(timeout: statsTimeout)
        var outcomes = [Outcome](repeating: Outcome(), count: plan.count)
        let start = ContinuousClock.now
        let end = try client.runWindowed(
            jobs: plan.count, concurrency: workload.concurrency,
            eventTimeout: workload.timeout, deadline: start + workload.timeout,
            request: { request($0, plan[$0]) }, onSubmit: { outcomes[$0].submitted = .now },
            onEvent: { index, event in
                let now = ContinuousClock.now
                switch event {
                case .chunk(let chunk):
                    guard !chunk.ids.isEmpty else { return }
                    if outcomes[index].firstToken == nil { outcomes[index].firstToken = now }
                    if let last = outcomes[index].lastToken {
                        outcomes[index].gaps.append((now - last).inSeconds * 1000)
                    }
                    outcomes[index].lastToken = now
                    outcomes[index].tokens += chunk.ids.count
                case .finished(let chunk):
                    if outcomes[index].firstToken == nil && !chunk.ids.isEmpty { outcomes[index].firstToken = now }
                    outcomes[index].finished = now
                    outcomes[index].tokens += chunk.ids.count
                    outcomes[index].cachedEncoding = chunk.usage?.cachedEncoding ?? false
                case .failed(let error):
                    outcomes[index].errorCode = Self.name(of: error.code)
                }
            })
        for index in end.unanswered {
            try? client.cancel(requestID: "\(index)")
            outcomes[index].errorCode = "client_timeout"
        }
        for index in end.sent..<plan.count { outcomes[index].errorCode = "not_sent" }
        let after = try? client.stats(timeout: statsTimeout)
        return LoadReport(
            workload: workload, plan: plan, outcomes: outcomes, start: start,
            cacheBefore: before?.cache, cacheAfter: after?.cache)
    }

    private func request(_ index: Int, _ planned: PlannedRequest) -> GenerateRequest {
        GenerateRequest(
            requestID: "\(index)", prompt: workload.prompts[planned.promptIndex],
            maxNewTokens: workload.maxNewTokens, minNewTokens: workload.minNewTokens, tenantSalt: planned.salt,
            stream: workload.stream)
    }

    /// `deadlineExceeded` -> `deadline_exceeded`: the spelling of the JSON report.
    static func name(of code: ErrorCode) -> String {
        var name = ""
        for character in "\(code)" {
            if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
        }
        return name
    }
}
