import Foundation
import Wire

/// `l2s cluster`: a router, an encoder service and N decoder workers as child processes of this machine,
/// started the way an operator would start them (the same executable with the documented flags).
/// For the quick start, demos and tests; production runs each process under Kubernetes instead.
public final class LocalCluster {
    /// What to start.
    public struct Plan: Sendable {
        public var executable: URL
        public var bundle: String
        public var decoders: Int
        public var basePort: Int
        public var slots: Int
        /// Compute threads of the encoder process.
        public var encoderThreads: Int
        /// Compute threads of each decoder process.
        public var decoderThreads: Int

        /// A plan for `decoders` workers on ports basePort (clients), +1 (encoders), +2 (decoders).
        public init(
            executable: URL, bundle: String, decoders: Int, basePort: Int, slots: Int, encoderThreads: Int,
            decoderThreads: Int
        ) {
            self.executable = executable
            self.bundle = bundle
            self.decoders = decoders
            self.basePort = basePort
            self.slots = slots
            self.encoderThreads = encoderThreads
            self.decoderThreads = decoderThreads
        }

        /// The default split of `cores`: the encoder gets them all (its prompt pass comes in bursts, and is what
        /// they speed up); the decoders, which step continuously, share them (at least one each), so their
        /// threads do not preempt each other's batched steps.
        public static func threads(cores: Int, decoders: Int) -> (encoder: Int, decoder: Int) {
            (encoder: max(1, cores), decoder: max(1, cores / max(1, decoders)))
        }

        /// Where clients connect.
        public var clientEndpoint: String { "tcp://127.0.0.1:\(basePort)" }
    }

    private let plan: Plan
    private let log: ServiceLog
    private var children: [(name: String, process: Process)] = []

    /// A cluster not yet started.
    public init(plan: Plan, log: ServiceLog) {
        self.plan = plan
        self.log = log
    }

    /// Starts every process and waits (up to `timeout`) until the router reports the encoder and all decoders.
    public func start(timeout: Duration = .seconds(60)) throws {
        let router = "tcp://127.0.0.1"
        try launch(
            "router",
            [
                "router", "--bundle", plan.bundle, "--clients", "tcp://127.0.0.1:\(plan.basePort)",
                "--encoders", "\(router):\(plan.basePort + 1)", "--decoders", "\(router):\(plan.basePort + 2)",
            ])
        try launch(
            "encoder",
            [
                "encoder", "--router", "\(router):\(plan.basePort + 1)", "--bundle", plan.bundle,
                "--threads", "\(plan.encoderThreads)",
                // The decoders share this machine's cores: a batch's encodings go out together, so decoding does not
                // compete with the batch's remaining passes (docs/cluster.md).
                "--send", "batch",
            ])
        for index in 0..<plan.decoders {
            try launch(
                "decoder \(index + 1)",
                [
                    "decoder", "--router", "\(router):\(plan.basePort + 2)",
                    "--bundle", plan.bundle, "--slots", "\(plan.slots)", "--threads", "\(plan.decoderThreads)",
                ])
        }
        let client = try ClusterClient(router: plan.clientEndpoint)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let dead = children.first(where: { !$0.process.isRunning }) {
                throw LocalClusterError.childExited(name: dead.name, status: dead.process.terminationStatus)
            }
            if let stats = try? client.stats(timeout: .milliseconds(500)) {
                let encoders = stats.workers.filter { $0.role == .encoder }.count
                let decoders = stats.workers.filter { $0.role == .decoder }.count
                if encoders >= 1 && decoders >= plan.decoders { return }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw LocalClusterError.notReady(seconds: Int(timeout.milliseconds / 1000))
    }

    private func launch(_ name: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = plan.executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw LocalClusterError.launchFailed(name: name, reason: "\(error)")
        }
        log.info("started \(name) (pid \(process.processIdentifier)): l2s \(arguments.joined(separator: " "))")
        children.append((name, process))
    }

    /// The children that have exited on their own, with their status.
    public var exited: [(name: String, status: Int32)] {
        children.filter { !$0.process.isRunning }.map { ($0.name, $0.process.terminationStatus) }
    }

    /// Stops workers first, then the router: SIGTERM, and SIGKILL for any still running after `grace`.
    public func stop(grace: Duration = .seconds(5)) {
        for (name, process) in children.reversed() where process.isRunning {
            log.info("stopping \(name)")
            process.terminate()
        }
        let deadline = ContinuousClock.now + grace
        while children.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        for (name, process) in children where process.isRunning {
            log.warning("\(name) ignored SIGTERM; killing it")
            kill(process.processIdentifier, SIGKILL)
        }
        for (_, process) in children { process.waitUntilExit() }
        children = []
    }

    deinit { stop(grace: .seconds(1)) }
}

/// Why `l2s cluster` could not come up.
public enum LocalClusterError: Error, CustomStringConvertible {
    case launchFailed(name: String, reason: String)
    case childExited(name: String, status: Int32)
    case notReady(seconds: Int)

    public var description: String {
        switch self {
        case .launchFailed(let name, let reason): return "cannot start the \(name): \(reason)"
        case .childExited(let name, let status):
            return "the \(name) exited with status \(status) during start-up (its log is above)"
        case .notReady(let seconds): return "the cluster did not come up within \(seconds) s"
        }
    }
}
