import Cluster
import Foundation
import Wire

/// `l2s bench`: closed-loop load against a running cluster; prints throughput, latency and the cache effect.
struct BenchCommand: Subcommand {
    static let name = "bench"
    static let summary = "load a running cluster with N jobs, C at a time; report throughput, latency, cache hits"
    static let usage = """
        l2s bench --router EP (--prompts FILE | --input-ids 1,2,3) [--requests N] [--concurrency C]
                  [--max-new-tokens T] [--min-new-tokens T] [--repeat-fraction F] [--seed S] [--stream]
                  [--timeout S] [--json]
        """
    static let discussion = """
        Keeps C jobs in flight on one client connection and sends the next job as soon as one ends (a closed
        loop), until N jobs have been answered or --timeout seconds have passed; then it reports jobs ok and
        failed (by error code), wall time, requests/s and generated tokens/s, latency (submission to the final
        chunk) p50/p90/p99/max, time to first token p50/p99 (with --stream), and the router's encoding-cache
        hits/misses during the run (from `l2s stats`). Times are what a client sees, queueing included.
        --prompts FILE holds one prompt per line ('-' = standard input); fresh jobs take them in order.
        --repeat-fraction F makes that fraction of jobs reuse the prompt of an earlier job (chosen with --seed),
        which the router serves from its encoding cache. When fresh jobs outnumber the prompts, later rounds
        over the list carry a new tenant salt, so their cache keys are new and the encoder runs again.
        Greedy decoding; --min-new-tokens suppresses EOS so every answer has that many tokens.
        Exit status 1 when any job failed or timed out.
        """
    static let options =
        ClientFlags.options + [
            OptionSpec("--prompts", value: "FILE", help: "prompts, one per line ('-' = standard input)"),
            OptionSpec("--input-ids", value: "IDS", help: "one prompt as LLM token ids, comma-separated"),
            OptionSpec("--requests", value: "N", help: "jobs in total", default: "200"),
            OptionSpec("--concurrency", value: "C", help: "jobs in flight at once", default: "16"),
            OptionSpec("--max-new-tokens", value: "T", help: "new tokens per job at most", default: "32"),
            OptionSpec("--min-new-tokens", value: "T", help: "suppress EOS until T tokens exist", default: "0"),
            OptionSpec(
                "--repeat-fraction", value: "F", help: "fraction of jobs repeating an earlier prompt", default: "0"),
            OptionSpec("--seed", value: "S", help: "seed of the choice of repeated prompts", default: "0"),
            OptionSpec("--stream", help: "stream tokens (measures time to first token)"),
            OptionSpec("--timeout", value: "S", help: "stop the whole run after S seconds", default: "300"),
            OptionSpec("--json", help: "print one JSON object instead of a table"),
        ]

    let connection: ClientFlags
    let workload: LoadGenerator.Workload
    let json: Bool

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        connection = try ClientFlags(arguments)
        json = arguments.flag("--json")
        let prompts: [Prompt]
        switch (arguments.string("--prompts"), try arguments.tokenIDs("--input-ids")) {
        case (let path?, nil):
            prompts = try Self.readPrompts(path)
        case (nil, let ids?):
            prompts = [.tokenIDs(ids)]
        default:
            throw UsageError("give exactly one of '--prompts' or '--input-ids'")
        }
        let maxNewTokens = try arguments.int("--max-new-tokens", in: 1...1_000_000)!
        let minNewTokens = try arguments.int("--min-new-tokens", in: 0...1_000_000)!
        guard minNewTokens <= maxNewTokens else {
            throw UsageError("option '--min-new-tokens' (\(minNewTokens)) exceeds '--max-new-tokens' (\(maxNewTokens))")
        }
        workload = LoadGenerator.Workload(
            prompts: prompts,
            requests: try arguments.int("--requests", in: 1...10_000_000)!,
            concurrency: try arguments.int("--concurrency", in: 1...1024)!,
            maxNewTokens: UInt32(maxNewTokens), minNewTokens: UInt32(minNewTokens),
            repeatFraction: try arguments.double("--repeat-fraction", in: 0...1)!,
            stream: arguments.flag("--stream"), seed: UInt64(try arguments.int("--seed", in: 0...Int.max)!),
            timeout: .milliseconds(Int((try arguments.double("--timeout", in: 0.001...86_400)! * 1000).rounded())))
    }

    static func readPrompts(_ path: String) throws -> [Prompt] {
        let data = try InputFile.read(path, option: "--prompts")
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw UsageError("option '--prompts': '\(path)' holds no prompts") }
        return lines.map { .text($0) }
    }

    func run() throws -> Int32 {
        let client = try connection.connect()
        let report = try LoadGenerator(workload: workload, client: client).run()
        printLine(json ? report.json : report.table)
        return report.failed == 0 ? ExitStatus.success : ExitStatus.failure
    }
}
