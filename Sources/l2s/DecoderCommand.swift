import Cluster
import Foundation
import Models
import Numerics
import Wire

/// `l2s decoder`: a decoder worker hosting the bundle's SLM.
struct DecoderCommand: Subcommand {
    static let name = "decoder"
    static let summary = "run a decoder worker: the bundle's SLM, --slots jobs at once"
    static let usage = "l2s decoder --router EP --bundle DIR [--slots N] [--threads N]"
    static let discussion = """
        Connects to the router's decoders endpoint, announces the bundle's fingerprints and --slots credits, and
        generates for the jobs it is given, streaming a chunk per token. A job resumed after another decoder
        died replays the tokens already streamed, so its result is that of an uninterrupted run. Reconnects with
        backoff when the router restarts; stops cleanly on SIGINT/SIGTERM. Start as many as you like.
        """
    static let options = [
        OptionSpec("--router", value: "EP", help: "the router's decoders endpoint", default: "tcp://127.0.0.1:5557",
            env: "L2S_ROUTER_DECODERS"),
        OptionSpec("--bundle", value: "DIR", help: "the LLM-to-SLM bundle", env: "L2S_BUNDLE"),
        OptionSpec("--slots", value: "N", help: "jobs held at once", default: "4", env: "L2S_SLOTS"),
        OptionSpec("--heartbeat-ms", value: "MS", help: "heartbeat interval", default: "1000", env: "L2S_HEARTBEAT_MS"),
        OptionSpec("--threads", value: "N", help: "OpenBLAS threads", default: "cores", env: "L2S_THREADS"),
        OptionSpec("--id", value: "NAME", help: "worker id shown by l2s stats", default: "decoder-<pid>"),
    ]

    let router: String
    let bundle: URL
    let slots: Int
    let heartbeat: Duration
    let threads: Int
    let workerID: String

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else { throw UsageError("unexpected argument '\(arguments.positionals[0])'") }
        router = try arguments.required("--router")
        bundle = URL(fileURLWithPath: try arguments.required("--bundle"))
        slots = try arguments.int("--slots", in: 1...4096)!
        heartbeat = .milliseconds(try arguments.int("--heartbeat-ms", in: 10...60_000)!)
        threads = try ThreadsFlag.value(arguments)
        workerID = arguments.isExplicit("--id") ? try arguments.required("--id") : "decoder-\(getpid())"
    }

    func run() throws -> Int32 {
        BLASThreads.set(threads)
        let log = ServiceLog(component: workerID)
        let loaded = try L2SBundle.load(directory: bundle)
        let slm = try ConditionedSLM(bundle: loaded)
        let manifest = loaded.manifest
        let fingerprints = Fingerprints(llm: manifest.llm.fingerprint, projector: manifest.projector.fingerprint,
            slm: manifest.slm.fingerprint)
        log.info("loaded \(bundle.path): \(manifest.slmKind.rawValue) SLM, \(slots) slots")
        var settings = WorkerLink.Settings(router: router, hello: Hello(role: .decoder, workerID: workerID,
            fingerprints: fingerprints))
        settings.heartbeatInterval = heartbeat
        let link = WorkerLink()
        let signals = TerminationSignals { link.stop() }
        try link.run(settings: settings, engine: DecoderEngine(slm: slm, slots: slots, log: log), log: log)
        withExtendedLifetime(signals) {}
        return ExitStatus.success
    }
}

/// `--threads N|cores`: OpenBLAS threads, defaulting to the machine's cores.
enum ThreadsFlag {
    static func value(_ arguments: ParsedArguments) throws -> Int {
        if arguments.string("--threads") == "cores" { return ProcessInfo.processInfo.activeProcessorCount }
        return try arguments.int("--threads", in: 1...1024)!
    }
}
