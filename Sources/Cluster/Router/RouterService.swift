import Synchronization
import Wire

/// The router process: three bound ROUTER sockets (clients, encoders, decoders) polled by one thread that
/// feeds `RouterCore` and sends what it decides. Stops when `stop()` is called (from any thread).
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

    private let stopped = Atomic<Bool>(false)

    /// A service not yet started.
    public init() {}

    /// Asks `run` to return at its next wake-up (at most one heartbeat interval later).
    public func stop() { stopped.store(true, ordering: .relaxed) }

    /// Binds, calls `ready` with the actual endpoints (ports resolved), and serves until `stop()`.
    /// With `curveSecretKey` (Z85), every socket requires CURVE: peers must know the matching public key.
    public func run(endpoints: Endpoints, configuration: RouterConfiguration, log: ServiceLog,
                    curveSecretKey: String? = nil, ready: (Endpoints) -> Void = { _ in }) throws {
        let context = try ZMQContext()
        defer { context.shutdown() }
        let limits = WireLimits.standard
        var sockets: [Link: ZMQSocket] = [:]
        defer { for socket in sockets.values { socket.close() } }
        for (link, endpoint) in [(Link.clients, endpoints.clients), (.encoders, endpoints.encoders),
            (.decoders, endpoints.decoders)]
        {
            let socket = try ZMQSocket(context: context, type: .router)
            try socket.set(.linger(milliseconds: 0))
            try socket.set(.routerMandatory(true))
            try socket.set(.maxMessageSize(Int64(limits.maxEnvelopeBytes + limits.maxTensorBytes + 4096)))
            if let curveSecretKey { try socket.set(.curveServer(secretKey: curveSecretKey)) }
            do {
                try socket.bind(endpoint)
            } catch {
                throw ClusterError.bindFailed(link: link.rawValue, endpoint: endpoint, reason: error.description)
            }
            sockets[link] = socket
        }
        let bound = Endpoints(clients: try sockets[.clients]!.lastEndpoint(),
            encoders: try sockets[.encoders]!.lastEndpoint(), decoders: try sockets[.decoders]!.lastEndpoint())
        log.info("listening\(curveSecretKey == nil ? "" : " (CURVE)"): clients \(bound.clients), encoders \(bound.encoders), decoders \(bound.decoders)")
        ready(bound)

        let core = RouterCore(configuration: configuration, now: .now)
        let poller = ZMQPoller()
        let order: [Link] = [.clients, .encoders, .decoders]
        for link in order { poller.add(sockets[link]!) }
        let tickEvery = configuration.heartbeatInterval / 4
        var lastTick = ContinuousClock.now

        func deliver(_ outgoing: [Outgoing]) {
            var pending = outgoing[...]
            while let item = pending.popFirst() {
                do {
                    if try !sockets[item.link]!.send(item.message, to: item.peer, blocking: false) {
                        log.warning("\(item.link) peer \(item.peer): send queue full, dropped \(item.message.kind)")
                    }
                } catch .hostUnreachable {
                    if item.link == .clients {
                        log.info("client \(item.peer) is gone; cancelling its jobs")
                        pending.append(contentsOf: core.clientUnreachable(item.peer, now: .now))
                    }
                } catch {
                    log.warning("sending \(item.message.kind) to \(item.link) peer \(item.peer) failed: \(error)")
                }
            }
        }

        while !stopped.load(ordering: .relaxed) {
            let ready = try poller.poll(timeoutMilliseconds: Int(tickEvery.milliseconds))
            for index in ready {
                let link = order[index]
                // Drain what is waiting, bounded so one busy socket cannot starve the others.
                for _ in 0..<256 {
                    guard let (peer, result) = try sockets[link]!.receiveRoutedMessage(timeoutMilliseconds: 0,
                        limits: limits)
                    else { break }
                    switch result {
                    case .success(let message):
                        log.debug("\(link) \(peer) -> \(message.kind)")
                        deliver(core.receive(message, from: peer, on: link, now: .now))
                    case .failure(let error):
                        log.warning("bad message from \(link) peer \(peer): \(error)")
                        deliver(core.receiveInvalid(error, from: peer, on: link))
                    }
                }
            }
            let now = ContinuousClock.now
            if now - lastTick >= tickEvery {
                lastTick = now
                deliver(core.tick(now: now))
            }
        }
        log.info("stopped")
    }
}
