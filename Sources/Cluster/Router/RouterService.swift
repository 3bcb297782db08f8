import Synchronization
import Wire

/// The router process: three bound ROUTER sockets (clients, encoders, decoders) polled by one thread that
/// feeds `RouterCore` and sends what it decides, buffering (boundedly) for clients that read slowly. With CURVE it
/// also answers the ZAP handshakes of all three sockets and logs failed handshakes. Stops when `stop()` is called
/// (from any thread).
public final class RouterService: Sendable {
    /// Where the router listens.
    public struct Endpoints: Sendable {
        public var clients: String
        public var encoders: String
        public var decoders: String
        /// Endpoints from their strings (`tcp://*:5555`, `ipc://…`, `tcp://127.0.0.1:*`).
        public init(clients: String, encoders: String, decoders: String) {
            self.clients = clients
            self.encoders = encoders
            self.decoders = decoders
        }
    }

    /// CURVE for every socket: the router's secret key and who may connect in which role.
    public struct Security: Sendable {
        /// The router's secret key (Z85); peers connect with its public half.
        public var secretKey: String
        /// The allow-lists.
        public var access: CurveAccess

        /// Security settings from their parts.
        public init(secretKey: String, access: CurveAccess) {
            self.secretKey = secretKey
            self.access = access
        }
    }

    private let stopRequests = Atomic<Int>(0)

    /// A service not yet started.
    public init() {}

    /// Asks `run` to return at its next wake-up (at most one heartbeat interval later).
    public func stop() { stopRequests.add(1, ordering: .relaxed) }

    /// Whether a stop was requested: the router refuses new jobs (readiness should say no).
    public var isDraining: Bool { stopRequests.load(ordering: .relaxed) > 0 }

    /// Kernel send buffer per client connection, in bytes.
    static let clientSendBuffer = 128 << 10

    /// What a peer on each link may send: clients and decoders send envelopes only (prompts, token chunks), so a
    /// frame larger than that is refused by ZeroMQ before it is buffered; encoders send encodings.
    static func limits(for link: Link, configuration: RouterConfiguration) -> WireLimits {
        var limits = WireLimits.standard
        switch link {
        case .clients:
            limits.maxEnvelopeBytes = min(
                limits.maxEnvelopeBytes, 2 * configuration.requestLimits.maxPromptBytes + 65_536)
            limits.maxTensorBytes = 0
        case .decoders:
            limits.maxEnvelopeBytes = 1 << 20
            limits.maxTensorBytes = 0
        case .encoders:
            break
        }
        return limits
    }

    /// Binds, calls `ready` with the actual endpoints (ports resolved), and serves until `stop()`.
    public func run(
        endpoints: Endpoints, configuration: RouterConfiguration, log: ServiceLog,
        security: Security? = nil, metrics: RouterMetrics? = nil,
        ready: (Endpoints) -> Void = { _ in }
    ) throws {
        let context = try ZMQContext()
        defer { context.shutdown() }
        // The ZAP handler must be bound before any socket that uses it accepts a connection.
        var authenticator: ZMQSocket?
        if security != nil {
            let socket = try ZMQSocket(context: context, type: .rep)
            try socket.set(.linger(milliseconds: 0))
            try socket.bind("inproc://zeromq.zap.01")
            authenticator = socket
        }
        defer { authenticator?.close() }
        var sockets: [Link: ZMQSocket] = [:]
        var monitors: [SocketMonitor] = []
        defer {
            for monitor in monitors { monitor.close() }
            for socket in sockets.values { socket.close() }
        }
        var limits: [Link: WireLimits] = [:]
        for (link, endpoint) in [
            (Link.clients, endpoints.clients), (.encoders, endpoints.encoders),
            (.decoders, endpoints.decoders),
        ] {
            let socket = try ZMQSocket(context: context, type: .router)
            let linkLimits = Self.limits(for: link, configuration: configuration)
            limits[link] = linkLimits
            try socket.set(.linger(milliseconds: 0))
            try socket.set(.routerMandatory(true))
            if link == .clients {
                // A client that stops reading holds at most this much in the kernel (not Linux's auto-tuned
                // megabytes), ZeroMQ's 1000 messages, and then `clientBacklog` messages here before it is told.
                try socket.set(.sendBuffer(Self.clientSendBuffer))
            }
            try socket.set(.maxMessageSize(Int64(linkLimits.maxEnvelopeBytes + linkLimits.maxTensorBytes + 4096)))
            if let security {
                try socket.set(.curveServer(secretKey: security.secretKey))
                try socket.set(.zapDomain(link.rawValue))
                monitors.append(try SocketMonitor(socket, context: context, name: "router-\(link.rawValue)"))
            }
            do {
                try socket.bind(endpoint)
            } catch {
                throw ClusterError.bindFailed(link: link.rawValue, endpoint: endpoint, reason: error.description)
            }
            sockets[link] = socket
        }
        let bound = Endpoints(
            clients: try sockets[.clients]!.lastEndpoint(),
            encoders: try sockets[.encoders]!.lastEndpoint(), decoders: try sockets[.decoders]!.lastEndpoint())
        log.info(
            "listening\(security == nil ? "" : " (CURVE, workers by allow-list)"): clients \(bound.clients), "
                + "encoders \(bound.encoders), decoders \(bound.decoders)")
        ready(bound)

        let core = RouterCore(configuration: configuration, now: .now, metrics: metrics)
        var backlog = ClientBacklog(limit: configuration.clientBacklog)
        let poller = ZMQPoller()
        let order: [Link] = [.clients, .encoders, .decoders]
        for link in order { poller.add(sockets[link]!) }
        if let authenticator { poller.add(authenticator) }
        for monitor in monitors { poller.add(monitor.socket) }
        let tickEvery = configuration.heartbeatInterval / 4
        var lastTick = ContinuousClock.now
        var refusedHandshakes: Set<String> = []
        // Messages per link since the last tick, added to the metrics there (a counter per message would cost more).
        var received: [Link: Int] = [:]
        var sent: [Link: Int] = [:]

        func send(_ item: Outgoing) throws(WireError) -> Bool {
            let done = try sockets[item.link]!.send(item.message, to: item.peer, blocking: false)
            if done { sent[item.link, default: 0] += 1 }
            return done
        }

        func handle(_ event: ClientBacklog.Event) -> [Outgoing] {
            switch event {
            case .tooSlow(let client, let count):
                return core.clientTooSlow(client, backlog: count, now: .now)
            case .unreachable(let client):
                log.info("client \(client) is gone; cancelling its jobs")
                return core.clientUnreachable(client, now: .now)
            case .abandoned(let client, let messages):
                log.warning(
                    "client \(client) read nothing for \(backlog.abandonAfter); dropped its \(messages) "
                        + "unread messages")
                return []
            }
        }

        func deliver(_ outgoing: [Outgoing]) {
            var pending = outgoing[...]
            while let item = pending.popFirst() {
                if item.link == .clients, backlog.isBacklogged(item.peer) {
                    if let event = backlog.append(item, now: .now) { pending.append(contentsOf: handle(event)) }
                    continue
                }
                do {
                    if try !send(item) {
                        if item.link == .clients {
                            if let event = backlog.append(item, now: .now) { pending.append(contentsOf: handle(event)) }
                        } else {
                            log.warning("\(item.link) peer \(item.peer): send queue full, dropped \(item.message.kind)")
                        }
                    }
                } catch .hostUnreachable {
                    if item.link == .clients {
                        pending.append(contentsOf: handle(.unreachable(item.peer)))
                    }
                } catch {
                    log.warning("sending \(item.message.kind) to \(item.link) peer \(item.peer) failed: \(error)")
                }
            }
            for notice in core.drainNotices() { log.warning(notice) }
            for job in core.drainEndedJobs() { job.write(to: log) }
        }

        var drainUntil: ContinuousClock.Instant?
        while true {
            // First stop request: drain (refuse new jobs, let the running ones finish within the bound); a second one,
            // the bound passing or nothing left to finish: stop, ending what is left with a clear error.
            let requests = stopRequests.load(ordering: .relaxed)
            if requests > 0 {
                let now = ContinuousClock.now
                if drainUntil == nil {
                    drainUntil = now + configuration.drainTimeout
                    core.beginDrain()
                    deliver([])
                }
                if requests > 1 || now >= drainUntil! || core.unfinishedJobs == 0 {
                    deliver(core.failUnfinished(after: configuration.drainTimeout, now: now))
                    // Closing drops unsent messages at linger 0: give the clients' last answers a moment to leave.
                    try? sockets[.clients]!.set(.linger(milliseconds: 1000))
                    break
                }
            }
            // With messages held for slow clients, look again soon: ZeroMQ does not say when a peer's queue drains.
            let ready = try poller.poll(timeoutMilliseconds: backlog.isEmpty ? Int(tickEvery.milliseconds) : 5)
            for index in ready where index < order.count {
                let link = order[index]
                // Drain what is waiting, bounded so one busy socket cannot starve the others.
                for _ in 0..<256 {
                    guard let (peer, frames) = try sockets[link]!.receiveRouted(timeoutMilliseconds: 0) else { break }
                    received[link, default: 0] += 1
                    do {
                        let message = try WireCodec.decode(frames, limits: limits[link]!)
                        log.debug("\(link) \(peer) -> \(message.kind)")
                        deliver(core.receive(message, from: peer, on: link, now: .now))
                    } catch {
                        deliver(
                            core.receiveInvalid(
                                error, requestID: WireCodec.requestID(in: frames), from: peer,
                                on: link))
                    }
                }
            }
            if let authenticator, let security {
                while let request = try authenticator.receive(timeoutMilliseconds: 0) {
                    let (reply, refusal) = security.access.answer(request.map(\.bytes))
                    if let refusal, refusedHandshakes.insert(refusal).inserted { log.warning(refusal) }
                    _ = try authenticator.send(reply.map { Frame($0) })
                }
            }
            for monitor in monitors {
                while let event = try monitor.next() {
                    guard event.isHandshakeFailure, refusedHandshakes.insert(event.description).inserted else {
                        continue
                    }
                    log.warning(event.description)
                }
            }
            if refusedHandshakes.count > 10_000 { refusedHandshakes = [] }
            let now = ContinuousClock.now
            deliver(backlog.flush(now: now, send: send).flatMap(handle))
            if now - lastTick >= tickEvery {
                lastTick = now
                deliver(core.tick(now: now))
                metrics?.messages(received: received, sent: sent)
                (received, sent) = ([:], [:])
            }
        }
        log.info("stopped")
    }
}
