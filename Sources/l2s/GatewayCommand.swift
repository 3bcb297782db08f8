import Cluster
import Foundation
import Gateway
import Wire

/// `l2s gateway`: the OpenAI-compatible HTTP front end, speaking the wire protocol to the router.
struct GatewayCommand: Subcommand {
    static let name = "gateway"
    static let handlesTermination = true
    static let summary = "serve the OpenAI HTTP API (/v1/completions, /v1/chat/completions, SSE) in front of a router"
    static let usage = "l2s gateway --router EP --listen HOST:PORT [--bundle DIR | --model NAME]"
    static let discussion = """
        Answers POST /v1/completions and /v1/chat/completions (stream: true gives Server-Sent Events), GET /v1/models,
        /health (alive) and /ready (the router answers and has an encoder and a decoder), by submitting jobs to the
        router's clients endpoint. Stateless: run several behind one load balancer. A client that disconnects has its
        jobs cancelled. Chat messages map to the prompt as the content of the last user message. Requests without
        temperature or top_p decode greedily; errors are OpenAI error objects with 400, 404, 413, 429, 503, 504 or 500.
        Every response carries x-request-id (the client's, or a new one). The model's name is the bundle directory's
        name (--bundle, which also gives /v1/models its fingerprint from l2s.json) or --model. When ready it prints one
        JSON line with the bound address on stdout. docs/http.md has the details.
        """
    static let options =
        [
            OptionSpec(
                "--router", value: "EP", help: "the router's clients endpoint", default: "tcp://127.0.0.1:5555",
                env: "L2S_ROUTER"),
            OptionSpec(
                "--listen", value: "HOST:PORT", help: "IPv4 address and port for HTTP (port 0 = any)",
                default: "127.0.0.1:8000", env: "L2S_LISTEN"),
            OptionSpec(
                "--bundle", value: "DIR", help: "the served bundle: names the model, fingerprints it",
                env: "L2S_BUNDLE"),
            OptionSpec(
                "--model", value: "NAME", help: "the model name clients use (default: the bundle's directory name)",
                env: "L2S_MODEL"),
            OptionSpec(
                "--curve-server-key", value: "KEY", help: "the router's CURVE public key, when it requires CURVE",
                env: "L2S_CURVE_SERVER_KEY"),
        ] + LogFlags.options

    let settings: Gateway.Settings
    let log: ServiceLog

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        let (address, port) = try MetricsEndpoint.address(try arguments.required("--listen"), flag: "--listen")
        var fingerprint = ""
        var name = arguments.string("--model")
        if let bundle = arguments.string("--bundle") {
            let identity = try BundleIdentity.manifest(in: URL(fileURLWithPath: bundle))
            fingerprint = identity.fingerprints.slm
            name = name ?? URL(fileURLWithPath: bundle).standardizedFileURL.lastPathComponent
        }
        guard let name, !name.isEmpty else {
            throw UsageError("give --bundle DIR or --model NAME: clients name the model")
        }
        log = try LogFlags.log(arguments, component: "gateway")
        settings = Gateway.Settings(
            router: try arguments.required("--router"),
            curveServerKey: try arguments.curveServerKey(), address: address, port: port, modelName: name,
            fingerprint: fingerprint)
    }

    func run() throws -> Int32 {
        let gateway = try Gateway(settings: settings, log: log)
        let stopped = DispatchSemaphore(value: 0)
        let signals = TerminationSignals { stopped.signal() }
        log.info(
            "serving the OpenAI API on http://\(settings.address):\(gateway.port) for '\(settings.modelName)', "
                + "router \(settings.router)")
        printLine(#"{"event":"listening","http":"http://\#(settings.address):\#(gateway.port)"}"#)
        stopped.wait()
        gateway.stop()
        withExtendedLifetime(signals) {}
        return ExitStatus.success
    }
}
