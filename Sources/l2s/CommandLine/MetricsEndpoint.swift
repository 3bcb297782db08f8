import Cluster
import Foundation
import HTTP
import Metrics

/// `--metrics HOST:PORT` of the services: Prometheus text on `GET /metrics`, `GET /health` (alive) and
/// `GET /ready` (the service's own readiness) for probes.
struct MetricsEndpoint {
    static let option = OptionSpec(
        "--metrics", value: "HOST:PORT",
        help: "serve Prometheus /metrics, /health and /ready here (IPv4, port 0 = any)", env: "L2S_METRICS")

    let server: HTTPServer?

    /// Starts serving when `--metrics` was given; `ready` answers `/ready`.
    init(
        _ arguments: ParsedArguments, registry: MetricsRegistry, log: ServiceLog,
        ready: @escaping @Sendable () -> Bool
    ) throws {
        guard let listen = arguments.string("--metrics") else {
            server = nil
            return
        }
        let (address, port) = try Self.address(listen, flag: "--metrics")
        server = try HTTPServer(address: address, port: port) { request, _ in
            let text = ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"]
            switch (request.method, request.path) {
            case ("GET", "/metrics"):
                return .full(status: 200, headers: Array(text), body: Array(registry.render().utf8))
            case ("GET", "/health"): return .full(status: 200, headers: Array(text), body: Array("ok\n".utf8))
            case ("GET", "/ready"):
                let isReady = ready()
                return .full(
                    status: isReady ? 200 : 503, headers: Array(text),
                    body: Array((isReady ? "ready\n" : "not ready\n").utf8))
            default: return .full(status: 404, headers: Array(text), body: Array("not found\n".utf8))
            }
        }
        log.info("metrics on http://\(address):\(server!.port)/metrics")
    }

    /// `IPV4:PORT`, or a usage error naming `flag`.
    static func address(_ text: String, flag: String) throws -> (String, UInt16) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]), parts[0].split(separator: ".").count == 4 else {
            throw UsageError("option '\(flag)': expected IPV4:PORT such as 127.0.0.1:9100, got '\(text)'")
        }
        return (String(parts[0]), port)
    }
}
