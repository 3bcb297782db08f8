import Metrics
import Synchronization
import Wire

/// The router's Prometheus metrics, named as vLLM names the same things (`vllm:time_to_first_token_seconds` is
/// `l2s_time_to_first_token_seconds`, `vllm:num_requests_waiting` is `l2s_num_requests_waiting`), so dashboards and
/// autoscaler queries carry over: job outcomes by code, time to first token, inter-token latency, end-to-end
/// latency and queue time histograms, and gauges and counters copied from the router's statistics every tick.
public final class RouterMetrics: Sendable {
    let registry: MetricsRegistry
    private let ready = Atomic<Bool>(false)

    /// Whether the router had an encoder and a decoder at its last tick: it can serve jobs.
    public var isReady: Bool { ready.load(ordering: .relaxed) }

    /// Declares the router's families in `registry`.
    public init(registry: MetricsRegistry) {
        self.registry = registry
        let latency = MetricsRegistry.latencyBuckets
        registry.declare(
            "l2s_requests_total", .counter, help: "Jobs ended, by outcome and finish reason or error code",
            labels: ["outcome", "code"])
        registry.declare(
            "l2s_time_to_first_token_seconds", .histogram,
            help: "Job arrival to its first token leaving the router", buckets: latency)
        registry.declare(
            "l2s_inter_token_latency_seconds", .histogram,
            help: "Time between consecutive tokens of a job at the router", buckets: latency)
        registry.declare(
            "l2s_e2e_request_latency_seconds", .histogram,
            help: "Job arrival to its end", buckets: latency)
        registry.declare(
            "l2s_request_queue_time_seconds", .histogram,
            help: "Job arrival to its first decoder assignment", buckets: latency)
        registry.declare("l2s_num_requests_running", .gauge, help: "Jobs on a decoder")
        registry.declare("l2s_num_requests_waiting", .gauge, help: "Jobs waiting for an encoding or a decoder")
        registry.declare("l2s_workers", .gauge, help: "Member workers by role", labels: ["role"])
        registry.declare(
            "l2s_worker_free_credits", .gauge,
            help: "Credits the members granted that the router has not used yet (free slots as the router sees them)",
            labels: ["role"])
        registry.declare("l2s_generation_tokens_total", .counter, help: "Tokens relayed to clients")
        registry.declare(
            "l2s_encoding_cache_lookups_total", .counter, help: "Encoding cache lookups by result",
            labels: ["result"])
        registry.declare("l2s_encoding_cache_bytes", .gauge, help: "Bytes held by the encoding cache")
        registry.declare("l2s_encoding_cache_entries", .gauge, help: "Encodings held by the encoding cache")
        registry.declare(
            "l2s_encoding_cache_evictions_total", .counter,
            help: "Encodings dropped, least recently used first, to stay within --cache-mb")
        registry.declare(
            "l2s_workers_joined_total", .counter, help: "Workers admitted as members (hello accepted), by role",
            labels: ["role"])
        registry.declare(
            "l2s_workers_lost_total", .counter,
            help: "Members gone, by role and reason (goodbye: said so; silent: heartbeats expired; rejoined: said "
                + "hello again, its work resumed as after a loss)", labels: ["role", "reason"])
        registry.declare(
            "l2s_failovers_total", .counter,
            help: "Decode jobs sent to another decoder after theirs failed them (worker_fault: error, invalid reply, "
                + "stall) or was lost (worker_lost: died, left or rejoined), resuming from the tokens already streamed",
            labels: ["reason"])
        registry.declare(
            "l2s_faults_total", .counter,
            help: "Cancellations, worker faults, retries and refused peers", labels: ["kind"])
        registry.declare(
            "l2s_router_messages_total", .counter,
            help: "Messages the router received and sent, by link (clients, encoders, decoders) and direction",
            labels: ["link", "direction"])
        // Every label value a dashboard may query exists from the start, at zero (Prometheus' advice for counters).
        for role in RouterMetrics.roles {
            registry.add("l2s_workers_joined_total", 0, labels: [role])
            for reason in WorkerLoss.allCases {
                registry.add("l2s_workers_lost_total", 0, labels: [role, reason.rawValue])
            }
        }
        for reason in Failover.allCases { registry.add("l2s_failovers_total", 0, labels: [reason.rawValue]) }
        for link in Link.allCases {
            for direction in ["received", "sent"] {
                registry.add("l2s_router_messages_total", 0, labels: [link.rawValue, direction])
            }
        }
    }

    /// Adds the messages the router received and sent since the last call, by link.
    func messages(received: [Link: Int], sent: [Link: Int]) {
        for (counts, direction) in [(received, "received"), (sent, "sent")] {
            for (link, count) in counts where count > 0 {
                registry.add("l2s_router_messages_total", Double(count), labels: [link.rawValue, direction])
            }
        }
    }

    static let roles = ["encoder", "decoder"]

    /// Why a member stopped being one (`l2s_workers_lost_total{reason}`).
    enum WorkerLoss: String, CaseIterable {
        /// It said goodbye (shutdown, or the end of a drain).
        case goodbye
        /// Nothing heard from it for the dead-after interval.
        case silent
        /// It said hello again on the same connection: its old membership and work end as if it had left.
        case rejoined
    }

    /// Why a decode job left its decoder to be resumed on another (`l2s_failovers_total{reason}`).
    enum Failover: String, CaseIterable {
        /// The decoder failed the job: an error, an invalid chunk, or no token within the stall timeout.
        case workerFault = "worker_fault"
        /// The decoder was lost while holding it: it died, left or rejoined.
        case workerLost = "worker_lost"
    }

    func joined(_ link: Link) {
        registry.add("l2s_workers_joined_total", labels: [Self.role(link)])
    }

    func lost(_ link: Link, reason: WorkerLoss) {
        registry.add("l2s_workers_lost_total", labels: [Self.role(link), reason.rawValue])
    }

    func failover(_ reason: Failover) {
        registry.add("l2s_failovers_total", labels: [reason.rawValue])
    }

    private static func role(_ link: Link) -> String { link == .encoders ? "encoder" : "decoder" }

    func refused(_ code: ErrorCode) {
        registry.add("l2s_requests_total", labels: ["refused", LoadGenerator.name(of: code)])
    }

    func ended(_ job: RouterJob, outcome: String, code: String, now: ContinuousClock.Instant) {
        registry.add("l2s_requests_total", labels: [outcome, code])
        registry.observe("l2s_e2e_request_latency_seconds", (now - job.arrivedAt).inSeconds)
    }

    func token(_ job: RouterJob, count: Int, now: ContinuousClock.Instant) {
        if let last = job.lastTokenAt {
            registry.observe("l2s_inter_token_latency_seconds", (now - last).inSeconds)
        } else {
            registry.observe("l2s_time_to_first_token_seconds", (now - job.arrivedAt).inSeconds)
        }
        job.lastTokenAt = now
    }

    func assigned(_ job: RouterJob, now: ContinuousClock.Instant) {
        guard job.attempts == 1 else { return }
        registry.observe("l2s_request_queue_time_seconds", (now - job.arrivedAt).inSeconds)
    }

    /// Copies the statistics' gauges and totals (counters that only grow, set to their current totals).
    func update(_ stats: StatsReply, running: Int) {
        ready.store(
            stats.workers.contains { $0.role == .encoder } && stats.workers.contains { $0.role == .decoder },
            ordering: .relaxed)
        registry.set("l2s_num_requests_running", Double(running))
        registry.set("l2s_num_requests_waiting", Double(stats.queueDepth))
        for role in [Role.encoder, .decoder] {
            let members = stats.workers.filter { $0.role == role }
            let label = [role == .encoder ? "encoder" : "decoder"]
            registry.set("l2s_workers", Double(members.count), labels: label)
            registry.set("l2s_worker_free_credits", Double(members.reduce(0) { $0 + Int($1.credits) }), labels: label)
        }
        registry.set("l2s_generation_tokens_total", Double(stats.tokensGenerated))
        for (result, value) in [
            ("hit", stats.cache.hits), ("miss", stats.cache.misses),
            ("coalesced", stats.cache.coalesced),
        ] {
            registry.set("l2s_encoding_cache_lookups_total", Double(value), labels: [result])
        }
        registry.set("l2s_encoding_cache_bytes", Double(stats.cache.bytes))
        registry.set("l2s_encoding_cache_entries", Double(stats.cache.entries))
        registry.set("l2s_encoding_cache_evictions_total", Double(stats.cache.evictions))
        let faults = stats.faults
        for (kind, value) in [
            ("cancelled", faults.jobsCancelled), ("slow_client", faults.slowClientCancels),
            ("worker_fault", faults.workerFaults), ("retry", faults.retries), ("refused_peer", faults.refusedPeers),
        ] {
            registry.set("l2s_faults_total", Double(value), labels: [kind])
        }
    }
}
