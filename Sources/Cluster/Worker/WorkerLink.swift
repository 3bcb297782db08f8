import Foundation
import Synchronization
import Wire

/// The compute side of a worker (encoder service or decoder worker), driven by `WorkerLink`.
///
/// The link calls `start(outbox:)` once, then `handle(_:)` on its own thread for every job message from
/// the router. The engine computes on a thread of its own and hands replies (encodings, token chunks,
/// errors, credits) to the outbox, which wakes the link to send them.
public protocol WorkerEngine: AnyObject, Sendable {
    /// Jobs the engine holds at once; advertised as credits.
    var capacity: Int { get }
    /// Starts the compute thread; replies go to `outbox`.
    func start(outbox: WorkerOutbox)
    /// A message from the router: a job, a cancel. Must return quickly.
    func handle(_ message: Message)
    /// The router connection was lost or replaced: every job in hand is void (the router re-sends its own).
    func abandonAll()
    /// Stops the compute thread and returns once it has ended.
    func stop()
}

/// Messages the compute thread wants sent to the router, plus a wake-up for the link thread.
/// Thread-safe: filled by the compute thread, drained by the link thread.
public final class WorkerOutbox: Sendable {
    private let queue = Mutex<[Message]>([])
    private let wake: @Sendable () -> Void

    init(wake: @escaping @Sendable () -> Void) { self.wake = wake }

    /// Queues `message` for the router and wakes the link.
    public func send(_ message: Message) {
        queue.withLock { $0.append(message) }
        wake()
    }

    func drain() -> [Message] {
        queue.withLock { messages in
            defer { messages = [] }
            return messages
        }
    }
}

/// A worker's connection to the router (DEALER): says hello with its role, fingerprints and capacity, grants
/// credits, exchanges heartbeats, and reconnects with backoff when the router goes silent or restarts.
///
/// `stop()` drains (with a `drainTimeout`): the link says goodbye with `draining` (the router sends no more work and
/// echoes it: every job sent before the echo has then arrived), stops granting credits, relays the engine's replies
/// until the echo came and every job in hand has given its slot back, or the bound has passed; then it says goodbye
/// and the router resumes whatever is left elsewhere. A second `stop()` ends at once.
public final class WorkerLink: Sendable {
    /// How the link behaves; every field has a flag on `l2s encoder` / `l2s decoder`.
    public struct Settings: Sendable {
        public var router: String
        public var hello: Hello
        public var heartbeatInterval: Duration = .milliseconds(1000)
        public var liveness: Int = 3
        public var reconnectMin: Duration = .milliseconds(100)
        public var reconnectMax: Duration = .seconds(5)
        /// The router's CURVE public key (Z85) when the router requires CURVE.
        public var curveServerKey: String?
        /// This worker's CURVE key pair; its public key must be in the router's `--worker-keys`.
        public var curveKeyPair: CurveKeyPair?
        /// After `stop()`: how long jobs in hand may finish before the rest is handed back. Zero: at once.
        public var drainTimeout: Duration = .zero

        /// Settings for a worker that announces itself with `hello`.
        public init(router: String, hello: Hello) {
            self.router = router
            self.hello = hello
        }
    }

    private let stopRequests = Atomic<Int>(0)
    private let connected = Atomic<Bool>(false)

    /// Whether the router has answered on the current connection (the worker is a member and can get work).
    public var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// Whether the worker can take work: connected, and not draining.
    public var isReady: Bool { isConnected && stopRequests.load(ordering: .relaxed) == 0 }

    /// A link not yet running.
    public init() {}

    /// Asks `run` to drain, say goodbye and return (from any thread); a second call skips what is left of the drain.
    public func stop() { stopRequests.add(1, ordering: .relaxed) }

    /// Connects and serves `engine` until `stop()`; reconnects as often as needed.
    public func run(settings: WorkerLink.Settings, engine: any WorkerEngine, log: ServiceLog) throws {
        let context = try ZMQContext()
        defer { context.shutdown() }
        // The compute thread pokes this channel after queueing replies, so the link never sleeps on them.
        let wake = try WakeChannel(context: context)
        defer { wake.close() }
        let wakeReceiver = wake.receiver
        let outbox = WorkerOutbox { wake.poke() }
        engine.start(outbox: outbox)
        defer { engine.stop() }

        var backoff = settings.reconnectMin
        while stopRequests.load(ordering: .relaxed) == 0 {
            let socket = try ZMQSocket(context: context, type: .dealer)
            try socket.set(.linger(milliseconds: 0))
            try socket.set(
                .maxMessageSize(Int64(WireLimits.standard.maxEnvelopeBytes + WireLimits.standard.maxTensorBytes)))
            if let key = settings.curveServerKey {
                try CurveKeys.secureClient(socket, serverKey: key, own: settings.curveKeyPair)
            }
            let monitor =
                settings.curveServerKey == nil
                ? nil
                : try SocketMonitor(socket, context: context, name: "worker-\(UUID().uuidString)")
            defer { monitor?.close() }
            do {
                try socket.connect(settings.router)
            } catch {
                socket.close()
                throw ClusterError.connectFailed(endpoint: settings.router, reason: error.description)
            }
            log.info("connecting to router \(settings.router)")
            let outcome = try serve(
                socket: socket, wakeReceiver: wakeReceiver, monitor: monitor, outbox: outbox,
                engine: engine, settings: settings, log: log)
            if outcome == .stopped || stopRequests.load(ordering: .relaxed) > 0 {
                // Lingering lets the goodbye leave before the socket goes: the context's termination waits for it, up
                // to the linger. A lost goodbye only makes the router wait for the silence; 2 s (500 ms before, once
                // suspected of losing one under load in CI) costs nothing while the router is reachable.
                try? socket.set(.linger(milliseconds: 2000))
                if (try? socket.send(.goodbye(Goodbye(reason: "shutting down")), blocking: false)) != true {
                    log.warning("could not queue the goodbye; the router will notice the silence instead")
                }
                socket.close()
                break
            }
            socket.close()
            connected.store(false, ordering: .relaxed)
            engine.abandonAll()
            _ = outbox.drain()
            // A router that answered was alive: its restart is retried at once, not after an old back-off.
            if outcome == .heardFromRouter { backoff = settings.reconnectMin }
            log.warning("lost the router; reconnecting in \(backoff)")
            Thread.sleep(forTimeInterval: Double(backoff.milliseconds) / 1000)
            backoff = min(backoff * 2, settings.reconnectMax)
        }
        log.info("stopped")
    }

    private enum Outcome { case stopped, silentRouter, heardFromRouter }

    /// One connection's life: hello, then relay until the router is silent too long or tells us to rejoin.
    private func serve(
        socket: ZMQSocket, wakeReceiver: ZMQSocket, monitor: SocketMonitor?, outbox: WorkerOutbox,
        engine: any WorkerEngine, settings: WorkerLink.Settings, log: ServiceLog
    ) throws -> Outcome {
        var hello = settings.hello
        hello.capacity = UInt32(engine.capacity)
        hello.heartbeatIntervalMs = UInt32(settings.heartbeatInterval.milliseconds)
        try socket.send(.hello(hello))
        try socket.send(.credit(Credit(credits: UInt32(engine.capacity))))
        var lastHeard = ContinuousClock.now
        var lastSent = ContinuousClock.now
        var heardAnything = false
        let poller = ZMQPoller()
        poller.add(socket)
        poller.add(wakeReceiver)
        if let monitor { poller.add(monitor.socket) }
        var handshakeReported = false
        let pollEvery = Int(max(1, (settings.heartbeatInterval / 4).milliseconds))
        // Jobs the engine holds: one per job passed to it, less every slot it gives back with a credit.
        var held = 0
        var drainUntil: ContinuousClock.Instant?
        var drainNoted = false
        var finishedInDrain = 0
        var lastWoke = ContinuousClock.now
        while true {
            let stops = stopRequests.load(ordering: .relaxed)
            if stops > 1 || (stops == 1 && settings.drainTimeout == .zero) {
                if held > 0 { log.warning("stopping at once; handing \(held) jobs back to the router") }
                return .stopped
            }
            if stops == 1 {
                let now = ContinuousClock.now
                if drainUntil == nil {
                    drainUntil = now + settings.drainTimeout
                    log.info("draining: no new work; \(held) jobs in hand get up to \(settings.drainTimeout)")
                    _ = try socket.send(
                        .goodbye(
                            Goodbye(
                                reason: "draining \(held) jobs for at most "
                                    + "\(settings.drainTimeout)", draining: true)), blocking: false)
                    lastSent = now
                }
                if held == 0 && drainNoted {
                    log.info("drained: every job in hand finished (\(finishedInDrain) during the drain)")
                    return .stopped
                }
                if now >= drainUntil! {
                    log.warning("drain bound \(settings.drainTimeout) passed; handing \(held) jobs back to the router")
                    return .stopped
                }
            }
            let ready = try poller.poll(timeoutMilliseconds: pollEvery)
            // A link that did not run for a while (its process stopped, its host stalled) was not listening either:
            // what the router sent meanwhile may still be on its way in from ZeroMQ's I/O thread, so the gap is not
            // the router's silence. The router gets a fresh liveness window from now.
            let woke = ContinuousClock.now
            if woke - lastWoke > settings.heartbeatInterval { lastHeard = woke }
            lastWoke = woke
            if ready.contains(1) { while try wakeReceiver.receive(timeoutMilliseconds: 0) != nil {} }
            while let event = try monitor?.next() {
                guard event.isHandshakeFailure, !handshakeReported else { continue }
                handshakeReported = true
                log.warning(
                    "the router refused this worker's CURVE handshake: \(event); is this worker's public key "
                        + "(\(settings.curveKeyPair?.publicKey ?? "none given")) in the router's --worker-keys, and "
                        + "--curve-server-key the router's public key?")
            }
            for message in outbox.drain() {
                if case .credit(let credit) = message {
                    held = max(0, held - Int(credit.credits))
                    // Draining: slots that free up are not offered again.
                    if drainUntil != nil {
                        finishedInDrain += Int(credit.credits)
                        continue
                    }
                }
                // Never block: with the router gone the queue fills, and its jobs are re-sent elsewhere anyway.
                if try !socket.send(message, blocking: false) {
                    log.warning("router not accepting messages; dropped a \(message.kind)")
                }
                lastSent = .now
            }
            if ready.contains(0) {
                while let frames = try socket.receive(timeoutMilliseconds: 0) {
                    lastHeard = .now
                    heardAnything = true
                    let message: Message
                    do {
                        message = try WireCodec.decode(frames)
                    } catch {
                        log.warning("bad message from the router: \(error)")
                        continue
                    }
                    // A member hears heartbeats and work; a refused worker hears only an error: it is not joined.
                    if case .error(let error) = message, error.requestID.isEmpty {
                    } else {
                        connected.store(true, ordering: .relaxed)
                    }
                    switch message {
                    case .heartbeat:
                        break
                    case .error(let error) where error.requestID.isEmpty:
                        log.warning("router: \(error.code): \(error.message)")
                        if error.code == .unavailable || error.code == .bundleMismatch {
                            // Declared dead (rejoin at once) or refused (retry slowly: an operator must act).
                            return error.code == .unavailable ? .heardFromRouter : .silentRouter
                        }
                    case .decodeJob, .encodeRequest:
                        held += 1
                        engine.handle(message)
                    case .goodbye(let goodbye) where goodbye.draining:
                        drainNoted = drainUntil != nil
                    default:
                        engine.handle(message)
                    }
                }
            }
            let now = ContinuousClock.now
            if now - lastSent >= settings.heartbeatInterval {
                _ = try socket.send(
                    .heartbeat(Heartbeat(sentAtUnixMs: UInt64(Date().timeIntervalSince1970 * 1000))),
                    blocking: false)
                lastSent = now
            }
            if now - lastHeard >= settings.heartbeatInterval * settings.liveness {
                return heardAnything ? .heardFromRouter : .silentRouter
            }
        }
    }
}
