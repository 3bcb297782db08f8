import Cluster
import Foundation
import Metrics
import Models
import Numerics
import Wire

/// The flags `l2s encoder` and `l2s decoder` share, and the one way both join the router and serve.
struct WorkerFlags {
    static func options(role: String, routerPort: Int) -> [OptionSpec] {
        [
            OptionSpec(
                "--router", value: "EP", help: "the router's \(role)s endpoint",
                default: "tcp://127.0.0.1:\(routerPort)", env: "L2S_ROUTER_\(role.uppercased())S"),
            OptionSpec("--bundle", value: "DIR", help: "the LLM-to-SLM bundle", env: "L2S_BUNDLE"),
            OptionSpec(
                "--heartbeat-ms", value: "MS", help: "heartbeat interval", default: "1000",
                env: "L2S_HEARTBEAT_MS"),
            OptionSpec(
                "--threads", value: "N", help: "compute threads (they do not change the numbers)",
                default: "cores", env: "L2S_THREADS"),
            OptionSpec("--id", value: "NAME", help: "worker id shown by l2s stats", default: "\(role)-<pid>"),
            OptionSpec(
                "--curve-server-key", value: "KEY", help: "the router's CURVE public key, when it requires CURVE",
                env: "L2S_CURVE_SERVER_KEY"),
            DrainFlag.option(
                "on SIGTERM: how long jobs in hand may finish (no new ones come) before the rest "
                    + "is handed back to the router"),
            MetricsEndpoint.option, LogFlags.options[0], LogFlags.options[1],
            OptionSpec(
                "--curve-secret-file", value: "FILE",
                help: "with CURVE: this worker's key pair (l2s keygen); its public key goes in the router's "
                    + "--worker-keys",
                env: "L2S_CURVE_SECRET_FILE"),
        ]
    }

    let router: String
    let bundle: URL
    let heartbeat: Duration
    let threads: Int
    let workerID: String
    let curveServerKey: String?
    let curveKeyPair: CurveKeyPair?
    let drainTimeout: Duration
    let arguments: ParsedArguments
    /// The process's Prometheus metrics, served on `--metrics`.
    let registry = MetricsRegistry()

    init(_ arguments: ParsedArguments, role: String) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        router = try arguments.required("--router")
        bundle = URL(fileURLWithPath: try arguments.required("--bundle"))
        heartbeat = .milliseconds(try arguments.int("--heartbeat-ms", in: 10...60_000)!)
        threads = try arguments.threads()
        curveServerKey = try arguments.curveServerKey()
        curveKeyPair = try arguments.string("--curve-secret-file").map { try CurveKeys.keyPair(file: $0) }
        if curveServerKey != nil, curveKeyPair == nil {
            throw UsageError(
                "--curve-server-key needs --curve-secret-file: a worker authenticates with its own key "
                    + "pair (l2s keygen), whose public key is in the router's --worker-keys")
        }
        drainTimeout = try DrainFlag.parse(arguments)
        self.arguments = arguments
        workerID = arguments.isExplicit("--id") ? try arguments.required("--id") : "\(role)-\(getpid())"
    }

    /// Starts the probes and the signal handling, then loads the bundle with the threads set for `weights`; the log
    /// names this worker. `/health` answers while the bundle loads (a long load is not a dead process); `/ready` only
    /// once the worker has joined.
    func loadBundle(weights: WeightStorage) throws -> (L2SBundle, ServiceLog, WorkerProcess) {
        let log = try LogFlags.log(arguments, component: workerID)
        let link = WorkerLink()
        let process = WorkerProcess(
            link: link, signals: TerminationSignals { link.stop() },
            endpoint: try MetricsEndpoint(arguments, registry: registry, log: log) { link.isReady })
        BLASThreads.set(threads)
        return (try L2SBundle.load(directory: bundle), log, process)
    }

    /// Joins the router as `role`, announcing `bundle`'s identity and `kernels` (the numeric identity,
    /// `WeightFlags.numericIdentity`), and serves `engine` until SIGINT/SIGTERM.
    func serve(
        role: Role, bundle: L2SBundle, engine: any WorkerEngine, log: ServiceLog, process: WorkerProcess,
        kernels: String = KernelVariant.process.rawValue
    ) throws -> Int32 {
        let identity = BundleIdentity(manifest: bundle.manifest)
        var settings = WorkerLink.Settings(
            router: router,
            hello: Hello(
                role: role, workerID: workerID, fingerprints: identity.fingerprints,
                encoding: identity.encoding, kernels: kernels))
        settings.heartbeatInterval = heartbeat
        settings.curveServerKey = curveServerKey
        settings.curveKeyPair = curveKeyPair
        settings.drainTimeout = drainTimeout
        // A SIGTERM during the load has already stopped the link: run returns at once, saying goodbye to nobody.
        try process.link.run(settings: settings, engine: engine, log: log)
        withExtendedLifetime(process) {}
        return ExitStatus.success
    }
}

/// What a worker process runs beside its engine: the router link, the signal handling that drains it, and the
/// metrics and probes listener (ready once the link has joined, until it drains).
final class WorkerProcess {
    let link: WorkerLink
    let signals: TerminationSignals
    let endpoint: MetricsEndpoint

    init(link: WorkerLink, signals: TerminationSignals, endpoint: MetricsEndpoint) {
        self.link = link
        self.signals = signals
        self.endpoint = endpoint
    }
}

extension ParsedArguments {
    /// `--threads N|cores`: compute threads, `cores` (the default) meaning every core of the machine.
    func threads() throws -> Int {
        if string("--threads") == "cores" { return ProcessInfo.processInfo.activeProcessorCount }
        return try int("--threads", in: 1...1024) ?? 1
    }

    /// `--curve-server-key`, checked to be a Z85 key (a usage error otherwise), or nil when not given.
    func curveServerKey() throws -> String? {
        guard let key = string("--curve-server-key") else { return nil }
        do {
            return try CurveKeys.validate(key, what: "option '--curve-server-key'")
        } catch {
            throw UsageError("\(error)")
        }
    }
}
