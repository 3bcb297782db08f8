import Cluster
import Foundation
import Metrics
import Wire

/// `l2s router`: the one address clients know; balances jobs over encoders and decoders, caches encodings.
struct RouterCommand: Subcommand {
    static let name = "router"
    static let handlesTermination = true
    static let summary = "run the router: client endpoint, encoding cache, balancing over encoders and decoders"
    static let usage =
        "l2s router --bundle DIR | --adopt-bundle  [--clients EP --encoders EP --decoders EP] "
        + "[--cache-mb N] [--max-queue N]"
    static let discussion = """
        Binds three ZeroMQ ROUTER sockets: clients submit jobs on --clients, encoder services connect to
        --encoders, decoder workers to --decoders. EP is a ZeroMQ endpoint (tcp://*:5555, tcp://127.0.0.1:*,
        ipc:///tmp/l2s-clients). When ready it prints one JSON line with the bound endpoints on stdout.
        Log detail: L2S_LOG=debug.

        SIGTERM/SIGINT drains: new jobs are refused with 'unavailable' and /ready answers 503, the jobs in flight
        run on, and the router exits when none is left or --drain-seconds have passed, ending what is left with
        'unavailable' saying the router shut down. A second signal ends the drain at once.

        The cluster's bundle: --bundle DIR pins it from DIR/l2s.json (no weights are read), and every worker
        whose fingerprints or encoding spec differ is refused. --adopt-bundle instead takes the first worker's
        bundle and drops it when no worker is left (convenient on one machine; any peer that reaches the worker
        ports first decides). One of the two is required.

        Faults: a worker that sends an invalid reply, an error, or nothing for --stall-timeout-ms has its work
        retried on another worker (at most --max-attempts workers per job), and after 3 faults in a row gets no
        work for --breaker-cooldown-ms. A client that leaves --client-backlog messages unread has its jobs
        cancelled with an explicit error. Workers may announce at most --max-worker-slots slots.

        CURVE (docs/security.md): --curve-secret-file encrypts all three sockets; workers must then present a
        key pair whose public key is in --worker-keys, and clients any key pair (or one in --client-keys).
        """
    static let options =
        [
            OptionSpec(
                "--clients", value: "EP", help: "endpoint for clients", default: "tcp://*:5555", env: "L2S_CLIENTS"),
            OptionSpec(
                "--encoders", value: "EP", help: "endpoint for encoder services", default: "tcp://*:5556",
                env: "L2S_ENCODERS"),
            OptionSpec(
                "--decoders", value: "EP", help: "endpoint for decoder workers", default: "tcp://*:5557",
                env: "L2S_DECODERS"),
            OptionSpec(
                "--cache-mb", value: "N", help: "memory for cached encodings, MiB (fractions allowed; 0 = no cache)",
                default: "256",
                env: "L2S_CACHE_MB"),
            OptionSpec(
                "--max-queue", value: "N", help: "jobs that may wait for a worker before 'overloaded'",
                default: "256", env: "L2S_MAX_QUEUE"),
            OptionSpec(
                "--heartbeat-ms", value: "MS", help: "heartbeat interval towards workers", default: "1000",
                env: "L2S_HEARTBEAT_MS"),
            OptionSpec(
                "--liveness", value: "N", help: "silent heartbeat intervals before a worker is dead",
                default: "3", env: "L2S_LIVENESS"),
            OptionSpec("--bundle", value: "DIR", help: "pin the cluster's bundle from DIR/l2s.json", env: "L2S_BUNDLE"),
            OptionSpec("--adopt-bundle", help: "no --bundle: take the first worker's bundle", env: "L2S_ADOPT_BUNDLE"),
            OptionSpec(
                "--curve-secret-file", value: "FILE",
                help: "require CURVE on every socket with this secret key (l2s keygen)", env: "L2S_CURVE_SECRET_FILE"),
            OptionSpec(
                "--worker-keys", value: "FILE",
                help: "with CURVE: public keys of the workers allowed to join (one per line)", env: "L2S_WORKER_KEYS"),
            OptionSpec(
                "--client-keys", value: "FILE",
                help: "with CURVE: only these client public keys may connect (default: any key)", env: "L2S_CLIENT_KEYS"
            ),
            OptionSpec(
                "--max-worker-slots", value: "N", help: "most slots a worker may announce", default: "1024",
                env: "L2S_MAX_WORKER_SLOTS"),
            OptionSpec(
                "--stall-timeout-ms", value: "MS",
                help: "work held this long without progress is retried elsewhere (at least 1000: a decoder may hold "
                    + "a job's tokens for 100 ms)", default: "30000", env: "L2S_STALL_TIMEOUT_MS"),
            OptionSpec(
                "--max-attempts", value: "N", help: "workers a job or an encode may be tried on", default: "3",
                env: "L2S_MAX_ATTEMPTS"),
            OptionSpec(
                "--breaker-cooldown-ms", value: "MS", help: "no work for a worker after 3 faults in a row",
                default: "10000", env: "L2S_BREAKER_COOLDOWN_MS"),
            OptionSpec(
                "--client-backlog", value: "N", help: "unread messages after which a client's jobs are cancelled",
                default: "20000", env: "L2S_CLIENT_BACKLOG"),
            OptionSpec(
                "--max-new-tokens-limit", value: "N", help: "largest max_new_tokens a client may ask for",
                default: "4096", env: "L2S_MAX_NEW_TOKENS_LIMIT"),
            DrainFlag.option("on SIGTERM: how long jobs in flight may finish while new ones are refused"),
            MetricsEndpoint.option,
        ] + LogFlags.options

    let endpoints: RouterService.Endpoints
    let security: RouterService.Security?
    let arguments: ParsedArguments
    var configuration = RouterConfiguration()

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        endpoints = RouterService.Endpoints(
            clients: try arguments.required("--clients"),
            encoders: try arguments.required("--encoders"), decoders: try arguments.required("--decoders"))
        configuration.cacheBytes = Int(try arguments.double("--cache-mb", in: 0...1_048_576)! * 1_048_576)
        configuration.maxQueue = try arguments.int("--max-queue", in: 1...1_000_000)!
        configuration.heartbeatInterval = .milliseconds(try arguments.int("--heartbeat-ms", in: 10...60_000)!)
        configuration.liveness = try arguments.int("--liveness", in: 1...100)!
        configuration.requestLimits.maxNewTokens = UInt32(
            try arguments.int("--max-new-tokens-limit", in: 1...1_000_000)!)
        configuration.maxWorkerSlots = try arguments.int("--max-worker-slots", in: 1...1_000_000)!
        configuration.stallTimeout = .milliseconds(try arguments.int("--stall-timeout-ms", in: 1000...86_400_000)!)
        configuration.maxAttempts = try arguments.int("--max-attempts", in: 1...100)!
        configuration.breakerCooldown = .milliseconds(try arguments.int("--breaker-cooldown-ms", in: 0...86_400_000)!)
        configuration.clientBacklog = try arguments.int("--client-backlog", in: 1...10_000_000)!
        configuration.drainTimeout = try DrainFlag.parse(arguments)
        switch (arguments.string("--bundle"), arguments.flag("--adopt-bundle")) {
        case (let directory?, false):
            configuration.bundle = .pinned(try BundleIdentity.manifest(in: URL(fileURLWithPath: directory)))
        case (nil, true): configuration.bundle = .adoptFirstWorker
        case (.some, true): throw UsageError("--bundle and --adopt-bundle exclude each other")
        case (nil, false):
            throw UsageError(
                "which bundle does the cluster serve? Give --bundle DIR (pinned from its l2s.json) or "
                    + "--adopt-bundle (the first worker's)")
        }
        security = try Self.security(arguments)
        self.arguments = arguments
    }

    /// CURVE settings: the secret key, the worker allow-list it requires, and the optional client allow-list.
    static func security(_ arguments: ParsedArguments) throws -> RouterService.Security? {
        guard let secretFile = arguments.string("--curve-secret-file") else {
            if arguments.string("--worker-keys") != nil || arguments.string("--client-keys") != nil {
                throw UsageError("--worker-keys and --client-keys need --curve-secret-file")
            }
            return nil
        }
        guard let workerKeys = arguments.string("--worker-keys") else {
            throw UsageError(
                "--curve-secret-file needs --worker-keys FILE: without it any client could join as a "
                    + "worker (docs/security.md)")
        }
        let access = try CurveAccess(
            workerKeys: try CurveAccess.keys(file: workerKeys),
            clientKeys: try arguments.string("--client-keys").map { try CurveAccess.keys(file: $0) })
        return RouterService.Security(secretKey: try CurveKeys.secretKey(file: secretFile), access: access)
    }

    func run() throws -> Int32 {
        let service = RouterService()
        let signals = TerminationSignals { service.stop() }
        let log = try LogFlags.log(arguments, component: "router")
        let registry = MetricsRegistry()
        let metrics = RouterMetrics(registry: registry)
        // Ready: the router serves once it has an encoder and a decoder (both gauges are set every tick), and until
        // it starts draining.
        let endpoint = try MetricsEndpoint(arguments, registry: registry, log: log) {
            metrics.isReady && !service.isDraining
        }
        try service.run(
            endpoints: endpoints, configuration: configuration, log: log, security: security,
            metrics: metrics
        ) {
            bound in
            printLine(
                #"{"event":"listening","clients":"\#(bound.clients)","encoders":"\#(bound.encoders)","#
                    + #""decoders":"\#(bound.decoders)"}"#
            )
        }
        withExtendedLifetime((signals, endpoint)) {}
        return ExitStatus.success
    }
}
