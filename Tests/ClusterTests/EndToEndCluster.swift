import Cluster
import Foundation
import TestSupport
import Wire

// The processes EndToEndTests drive: one router and the encoders and decoders it serves.

extension EndToEndTests {
    /// A router on ephemeral ports (or the ports given), with its three endpoints.
    final class Cluster {
        var router: ServiceProcess
        var encoders: [ServiceProcess] = []
        var decoders: [ServiceProcess] = []
        let clients: String
        let encoderEndpoint: String
        let decoderEndpoint: String
        let routerArguments: [String]

        /// A router pinned to `bundle` (from its l2s.json), with `routerArguments` added.
        init(bundle: String = EndToEndTests.bundle, routerArguments: [String] = []) throws {
            let routerArguments = ["--bundle", bundle] + routerArguments
            self.routerArguments = routerArguments
            router = try ServiceProcess(
                "router",
                [
                    "router", "--clients", "tcp://127.0.0.1:*", "--encoders",
                    "tcp://127.0.0.1:*", "--decoders", "tcp://127.0.0.1:*", "--heartbeat-ms", "200",
                ] + routerArguments)
            let listening = try router.waitForEvent("listening")
            clients = try JSONFields.field(listening, "clients")
            encoderEndpoint = try JSONFields.field(listening, "encoders")
            decoderEndpoint = try JSONFields.field(listening, "decoders")
        }

        func addEncoder(bundle: String = EndToEndTests.bundle, _ extra: [String] = []) throws {
            encoders.append(
                try ServiceProcess(
                    "encoder",
                    [
                        "encoder", "--router", encoderEndpoint, "--bundle", bundle,
                        "--heartbeat-ms", "200", "--threads", "1",
                    ] + extra))
        }

        func addDecoder(bundle: String = EndToEndTests.bundle, slots: Int = 4, _ extra: [String] = []) throws {
            decoders.append(
                try ServiceProcess(
                    "decoder",
                    [
                        "decoder", "--router", decoderEndpoint, "--bundle", bundle,
                        "--slots", "\(slots)", "--heartbeat-ms", "200", "--threads", "1",
                    ] + extra))
        }

        /// Restarts the router on the same ports.
        func restartRouter() throws {
            router.kill9()
            router = try ServiceProcess(
                "router",
                [
                    "router", "--clients", clients, "--encoders", encoderEndpoint,
                    "--decoders", decoderEndpoint, "--heartbeat-ms", "200",
                ] + routerArguments)
            _ = try router.waitForEvent("listening")
        }

        /// Waits until the router counts this many encoders and decoders.
        func waitForWorkers(encoders: Int, decoders: Int, timeout: TimeInterval = 30, curveServerKey: String? = nil)
            throws -> StatsReply
        {
            let client = try ClusterClient(router: clients, curveServerKey: curveServerKey)
            let deadline = Date().addingTimeInterval(timeout)
            var last: StatsReply?
            while Date() < deadline {
                if let stats = try? client.stats(timeout: .milliseconds(500)) {
                    last = stats
                    let e = stats.workers.filter { $0.role == .encoder }.count
                    let d = stats.workers.filter { $0.role == .decoder }.count
                    if e == encoders && d == decoders { return stats }
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            throw EndToEndError.workersMissing(
                expected: "\(encoders) encoders, \(decoders) decoders",
                got: last.map { "\($0.workers.map { "\($0.role) \($0.workerID)" })" } ?? "no stats")
        }
    }
}

enum EndToEndError: Error, CustomStringConvertible {
    case runFailed(String)
    case workersMissing(expected: String, got: String)

    var description: String {
        switch self {
        case .runFailed(let log): return "l2s run failed: \(log)"
        case .workersMissing(let expected, let got): return "expected \(expected); the router has \(got)"
        }
    }
}
