import Cluster
import Foundation
import Wire

/// `l2s router`: the one address clients know; balances jobs over encoders and decoders, caches encodings.
struct RouterCommand: Subcommand {
    static let name = "router"
    static let summary = "run the router: client endpoint, encoding cache, balancing over encoders and decoders"
    static let usage = "l2s router --clients EP --encoders EP --decoders EP [--cache-mb N] [--max-queue N]"
    static let discussion = """
        Binds three ZeroMQ ROUTER sockets: clients submit jobs on --clients, encoder services connect to
        --encoders, decoder workers to --decoders. EP is a ZeroMQ endpoint (tcp://*:5555, tcp://127.0.0.1:*,
        ipc:///tmp/l2s-clients). When ready it prints one JSON line with the bound endpoints on stdout.
        Stops cleanly on SIGINT/SIGTERM. Log detail: L2S_LOG=debug.
        """
    static let options = [
        OptionSpec("--clients", value: "EP", help: "endpoint for clients", default: "tcp://*:5555", env: "L2S_CLIENTS"),
        OptionSpec("--encoders", value: "EP", help: "endpoint for encoder services", default: "tcp://*:5556",
            env: "L2S_ENCODERS"),
        OptionSpec("--decoders", value: "EP", help: "endpoint for decoder workers", default: "tcp://*:5557",
            env: "L2S_DECODERS"),
        OptionSpec("--cache-mb", value: "N", help: "memory for cached encodings, MiB (fractions allowed; 0 = no cache)", default: "256",
            env: "L2S_CACHE_MB"),
        OptionSpec("--max-queue", value: "N", help: "jobs that may wait for a worker before 'overloaded'",
            default: "256", env: "L2S_MAX_QUEUE"),
        OptionSpec("--heartbeat-ms", value: "MS", help: "heartbeat interval towards workers", default: "1000",
            env: "L2S_HEARTBEAT_MS"),
        OptionSpec("--liveness", value: "N", help: "silent heartbeat intervals before a worker is dead",
            default: "3", env: "L2S_LIVENESS"),
        OptionSpec("--curve-secret-file", value: "FILE",
            help: "require CURVE on every socket with this secret key (l2s keygen)", env: "L2S_CURVE_SECRET_FILE"),
        OptionSpec("--max-new-tokens-limit", value: "N", help: "largest max_new_tokens a client may ask for",
            default: "4096", env: "L2S_MAX_NEW_TOKENS_LIMIT"),
    ]

    let endpoints: RouterService.Endpoints
    let curveSecretKey: String?
    var configuration = RouterConfiguration()

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        endpoints = RouterService.Endpoints(clients: try arguments.required("--clients"),
            encoders: try arguments.required("--encoders"), decoders: try arguments.required("--decoders"))
        configuration.cacheBytes = Int(try arguments.double("--cache-mb", in: 0...1_048_576)! * 1_048_576)
        configuration.maxQueue = try arguments.int("--max-queue", in: 1...1_000_000)!
        configuration.heartbeatInterval = .milliseconds(try arguments.int("--heartbeat-ms", in: 10...60_000)!)
        configuration.liveness = try arguments.int("--liveness", in: 1...100)!
        curveSecretKey = try arguments.string("--curve-secret-file").map { try CurveKeys.secretKey(file: $0) }
        configuration.maxNewTokensLimit = UInt32(try arguments.int("--max-new-tokens-limit", in: 1...1_000_000)!)
    }

    func run() throws -> Int32 {
        let service = RouterService()
        let signals = TerminationSignals { service.stop() }
        try service.run(endpoints: endpoints, configuration: configuration, log: ServiceLog(component: "router"),
            curveSecretKey: curveSecretKey) {
            bound in
            printLine(#"{"event":"listening","clients":"\#(bound.clients)","encoders":"\#(bound.encoders)","decoders":"\#(bound.decoders)"}"#)
        }
        withExtendedLifetime(signals) {}
        return ExitStatus.success
    }
}
