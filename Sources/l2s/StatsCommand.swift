import Cluster
import Foundation
import Wire

/// `l2s stats`: what the router knows: workers, queue, cache, throughput.
struct StatsCommand: Subcommand {
    static let name = "stats"
    static let summary = "show the router's workers, queue depth, cache hits/misses/bytes and throughput"
    static let usage = "l2s stats --router EP [--json]"
    static let options =
        ClientFlags.options + [
            OptionSpec("--timeout-ms", value: "MS", help: "give up when the router does not answer", default: "5000"),
            OptionSpec("--json", help: "print one JSON object"),
        ]

    let connection: ClientFlags
    let timeout: Duration
    let json: Bool

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        connection = try ClientFlags(arguments)
        timeout = .milliseconds(try arguments.int("--timeout-ms", in: 1...3_600_000)!)
        json = arguments.flag("--json")
    }

    func run() throws -> Int32 {
        let stats = try connection.connect().stats(timeout: timeout)
        if json {
            printLine(StatsFormat.json(stats))
        } else {
            printLine(StatsFormat.table(stats))
        }
        return ExitStatus.success
    }
}

/// Text and JSON renderings of `StatsReply`.
enum StatsFormat {
    static func json(_ stats: StatsReply) -> String {
        let workers: [[String: Any]] = stats.workers.map {
            [
                "id": $0.workerID, "role": $0.role == .encoder ? "encoder" : "decoder", "capacity": $0.capacity,
                "credits": $0.credits, "outstanding": $0.outstanding, "jobs_done": $0.jobsDone,
                "last_seen_ms_ago": $0.lastSeenMsAgo,
            ]
        }
        let object: [String: Any] = [
            "workers": workers, "queue_depth": stats.queueDepth, "max_queue": stats.maxQueue,
            "cache": [
                "hits": stats.cache.hits, "misses": stats.cache.misses, "evictions": stats.cache.evictions,
                "entries": stats.cache.entries, "bytes": stats.cache.bytes,
                "capacity_bytes": stats.cache.capacityBytes, "coalesced": stats.cache.coalesced,
            ],
            "jobs_done": stats.jobsDone, "jobs_failed": stats.jobsFailed, "tokens_generated": stats.tokensGenerated,
            "tokens_per_second": stats.tokensPerSecond, "uptime_ms": stats.uptimeMs,
            "faults": [
                "jobs_cancelled": stats.faults.jobsCancelled,
                "slow_client_cancels": stats.faults.slowClientCancels,
                "worker_faults": stats.faults.workerFaults, "retries": stats.faults.retries,
                "refused_peers": stats.faults.refusedPeers,
            ],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func table(_ stats: StatsReply) -> String {
        var lines = ["workers:"]
        if stats.workers.isEmpty { lines.append("  (none connected)") }
        for worker in stats.workers {
            let role = worker.role == .encoder ? "encoder" : "decoder"
            lines.append(
                "  \(role) \(worker.workerID): \(worker.outstanding)/\(worker.capacity) busy, "
                    + "\(worker.credits) credits, \(worker.jobsDone) done, seen \(worker.lastSeenMsAgo) ms ago")
        }
        let cache = stats.cache
        lines.append("queue: \(stats.queueDepth) waiting (limit \(stats.maxQueue))")
        lines.append(
            "cache: \(cache.hits) hits, \(cache.misses) misses, \(cache.coalesced) coalesced, "
                + "\(cache.evictions) evictions, \(cache.entries) entries, \(cache.bytes)/\(cache.capacityBytes) bytes")
        lines.append(
            "jobs: \(stats.jobsDone) done, \(stats.jobsFailed) failed; \(stats.tokensGenerated) tokens, "
                + String(format: "%.1f tokens/s over %.1f s", stats.tokensPerSecond, Double(stats.uptimeMs) / 1000))
        let faults = stats.faults
        lines.append(
            "faults: \(faults.jobsCancelled) jobs cancelled (\(faults.slowClientCancels) for slow clients), "
                + "\(faults.workerFaults) worker faults, \(faults.retries) retries, "
                + "\(faults.refusedPeers) refused peers"
        )
        return lines.joined(separator: "\n")
    }
}
