import Cluster
import Foundation
import Models
import Numerics
import Wire

/// `l2s encoder`: the frozen LLM encoder + projector of a bundle, serving the router's encode requests.
struct EncoderCommand: Subcommand {
    static let name = "encoder"
    static let summary = "run an encoder service: the bundle's frozen LLM encoder and projector"
    static let usage = "l2s encoder --router EP --bundle DIR [--max-batch N --batch-wait-ms MS] [--threads N]"
    static let discussion = """
        Connects to the router's encoders endpoint, announces the bundle's fingerprints, and answers encode
        requests with the projected prompt representation in the bundle's wire dtype. Concurrent requests are
        batched: up to --max-batch, waiting at most --batch-wait-ms for a batch to fill. Reconnects with backoff
        when the router restarts; stops cleanly on SIGINT/SIGTERM.
        """
    static let options = [
        OptionSpec("--router", value: "EP", help: "the router's encoders endpoint", default: "tcp://127.0.0.1:5556",
            env: "L2S_ROUTER_ENCODERS"),
        OptionSpec("--bundle", value: "DIR", help: "the LLM-to-SLM bundle", env: "L2S_BUNDLE"),
        OptionSpec("--max-batch", value: "N", help: "prompts per forward pass", default: "8", env: "L2S_MAX_BATCH"),
        OptionSpec("--batch-wait-ms", value: "MS", help: "how long a batch may wait to fill", default: "2",
            env: "L2S_BATCH_WAIT_MS"),
        OptionSpec("--max-prompt-tokens", value: "N", help: "longer prompts are refused (prompt_too_long)",
            default: "512", env: "L2S_MAX_PROMPT_TOKENS"),
        OptionSpec("--heartbeat-ms", value: "MS", help: "heartbeat interval", default: "1000", env: "L2S_HEARTBEAT_MS"),
        OptionSpec("--threads", value: "N", help: "OpenBLAS threads", default: "cores", env: "L2S_THREADS"),
        OptionSpec("--id", value: "NAME", help: "worker id shown by l2s stats", default: "encoder-<pid>"),
    ]

    let router: String
    let bundle: URL
    let maxBatch: Int
    let batchWait: Duration
    let maxPromptTokens: Int
    let heartbeat: Duration
    let threads: Int
    let workerID: String

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else { throw UsageError("unexpected argument '\(arguments.positionals[0])'") }
        router = try arguments.required("--router")
        bundle = URL(fileURLWithPath: try arguments.required("--bundle"))
        maxBatch = try arguments.int("--max-batch", in: 1...1024)!
        batchWait = .milliseconds(try arguments.int("--batch-wait-ms", in: 0...10_000)!)
        maxPromptTokens = try arguments.int("--max-prompt-tokens", in: 1...1_000_000)!
        heartbeat = .milliseconds(try arguments.int("--heartbeat-ms", in: 10...60_000)!)
        threads = try ThreadsFlag.value(arguments)
        workerID = arguments.isExplicit("--id") ? try arguments.required("--id") : "encoder-\(getpid())"
    }

    func run() throws -> Int32 {
        BLASThreads.set(threads)
        let log = ServiceLog(component: workerID)
        let loaded = try L2SBundle.load(directory: bundle)
        let encoder = try PromptEncoder(bundle: loaded, maxPromptTokens: maxPromptTokens)
        let manifest = loaded.manifest
        let fingerprints = Fingerprints(llm: manifest.llm.fingerprint, projector: manifest.projector.fingerprint,
            tokenizer: manifest.llm.tokenizerFingerprint)
        log.info("loaded \(bundle.path): wire dtype \(manifest.wireDType.rawValue), batches of up to \(maxBatch)")
        var settings = WorkerLink.Settings(router: router, hello: Hello(role: .encoder, workerID: workerID,
            fingerprints: fingerprints))
        settings.heartbeatInterval = heartbeat
        let link = WorkerLink()
        let signals = TerminationSignals { link.stop() }
        try link.run(settings: settings,
            engine: EncoderEngine(encoder: encoder, maxBatch: maxBatch, batchWait: batchWait, log: log), log: log)
        withExtendedLifetime(signals) {}
        return ExitStatus.success
    }
}
