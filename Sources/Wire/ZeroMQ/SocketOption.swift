import CZeroMQ

/// The kinds of ZeroMQ socket l2s uses.
public enum SocketType: Sendable, CaseIterable {
    /// Routes by peer identity (the router's listening sockets).
    case router
    /// Asynchronous request side (workers and clients connecting to the router).
    case dealer
    /// Publisher.
    case pub
    /// Subscriber; set `.subscribe` to receive anything.
    case sub
    /// Pipeline sender.
    case push
    /// Pipeline receiver.
    case pull
    /// Exclusive pair, e.g. an inproc wake-up channel between two threads.
    case pair
    /// Synchronous reply side (the ZAP authenticator answering libzmq's handshake requests).
    case rep

    var zmqValue: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .push: return ZMQ_PUSH
        case .pull: return ZMQ_PULL
        case .pair: return ZMQ_PAIR
        case .rep: return ZMQ_REP
        }
    }
}

/// A socket option with its value; see `zmq_setsockopt(3)` for the semantics of each.
public enum SocketOption: Sendable, Equatable {
    /// How long unsent messages are kept after close (`ZMQ_LINGER`); 0 drops them, -1 waits forever.
    case linger(milliseconds: Int)
    /// Outgoing queue bound in messages (`ZMQ_SNDHWM`); 0 = unbounded.
    case sendHighWaterMark(Int)
    /// Incoming queue bound in messages (`ZMQ_RCVHWM`); 0 = unbounded.
    case receiveHighWaterMark(Int)
    /// Kernel send buffer per connection in bytes (`ZMQ_SNDBUF`); 0 = the OS default (auto-tuned on Linux).
    case sendBuffer(Int)
    /// Largest inbound message in bytes (`ZMQ_MAXMSGSIZE`); a peer sending more is disconnected. -1 = no limit.
    case maxMessageSize(Int64)
    /// Interval of ZMTP PING heartbeats (`ZMQ_HEARTBEAT_IVL`); 0 = off.
    case heartbeatInterval(milliseconds: Int)
    /// How long to wait for a PONG before closing the connection (`ZMQ_HEARTBEAT_TIMEOUT`).
    case heartbeatTimeout(milliseconds: Int)
    /// How long the peer may wait for our traffic before dropping us (`ZMQ_HEARTBEAT_TTL`).
    case heartbeatTTL(milliseconds: Int)
    /// ROUTER: fail with `hostUnreachable` instead of dropping messages to unknown peers (`ZMQ_ROUTER_MANDATORY`).
    case routerMandatory(Bool)
    /// Queue messages only on completed connections (`ZMQ_IMMEDIATE`).
    case immediate(Bool)
    /// First reconnect delay (`ZMQ_RECONNECT_IVL`).
    case reconnectInterval(milliseconds: Int)
    /// Upper bound of the exponential reconnect back-off (`ZMQ_RECONNECT_IVL_MAX`); 0 = no back-off.
    case reconnectIntervalMax(milliseconds: Int)
    /// The identity a ROUTER peer sees for this socket (`ZMQ_ROUTING_ID`), 1...255 bytes, first byte non-zero.
    case routingID([UInt8])
    /// SUB: receive messages starting with these bytes (`ZMQ_SUBSCRIBE`); empty = everything.
    case subscribe([UInt8])
    /// SUB: stop receiving messages with this prefix (`ZMQ_UNSUBSCRIBE`).
    case unsubscribe([UInt8])
    /// Blocking send gives up after this long (`ZMQ_SNDTIMEO`); -1 = never.
    case sendTimeout(milliseconds: Int)
    /// Serve CURVE: clients must know the public key belonging to `secretKey` (Z85) (`ZMQ_CURVE_SERVER`).
    case curveServer(secretKey: String)
    /// The ZAP domain this server socket's handshakes are authenticated in (`ZMQ_ZAP_DOMAIN`): set it and a ZAP
    /// handler bound at `inproc://zeromq.zap.01` decides who may connect.
    case zapDomain(String)
    /// Connect with CURVE to a server whose public key is `serverPublicKey`, using this socket's own key pair.
    case curveClient(serverPublicKey: String, publicKey: String, secretKey: String)
}

extension ZMQSocket {
    /// Applies `option`; throws `WireError.zmq` (EINVAL) for values libzmq rejects.
    public func set(_ option: SocketOption) throws(WireError) {
        switch option {
        case .linger(let value): try setInt(ZMQ_LINGER, value, "ZMQ_LINGER")
        case .sendHighWaterMark(let value): try setInt(ZMQ_SNDHWM, value, "ZMQ_SNDHWM")
        case .receiveHighWaterMark(let value): try setInt(ZMQ_RCVHWM, value, "ZMQ_RCVHWM")
        case .sendBuffer(let value): try setInt(ZMQ_SNDBUF, value, "ZMQ_SNDBUF")
        case .maxMessageSize(let value):
            var size = value
            try setRaw(ZMQ_MAXMSGSIZE, &size, MemoryLayout<Int64>.size, "ZMQ_MAXMSGSIZE")
        case .heartbeatInterval(let value): try setInt(ZMQ_HEARTBEAT_IVL, value, "ZMQ_HEARTBEAT_IVL")
        case .heartbeatTimeout(let value): try setInt(ZMQ_HEARTBEAT_TIMEOUT, value, "ZMQ_HEARTBEAT_TIMEOUT")
        case .heartbeatTTL(let value): try setInt(ZMQ_HEARTBEAT_TTL, value, "ZMQ_HEARTBEAT_TTL")
        case .routerMandatory(let on): try setInt(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
        case .immediate(let on): try setInt(ZMQ_IMMEDIATE, on ? 1 : 0, "ZMQ_IMMEDIATE")
        case .reconnectInterval(let value): try setInt(ZMQ_RECONNECT_IVL, value, "ZMQ_RECONNECT_IVL")
        case .reconnectIntervalMax(let value): try setInt(ZMQ_RECONNECT_IVL_MAX, value, "ZMQ_RECONNECT_IVL_MAX")
        case .routingID(let bytes): try setBytes(ZMQ_ROUTING_ID, bytes, "ZMQ_ROUTING_ID")
        case .subscribe(let bytes): try setBytes(ZMQ_SUBSCRIBE, bytes, "ZMQ_SUBSCRIBE")
        case .unsubscribe(let bytes): try setBytes(ZMQ_UNSUBSCRIBE, bytes, "ZMQ_UNSUBSCRIBE")
        case .sendTimeout(let value): try setInt(ZMQ_SNDTIMEO, value, "ZMQ_SNDTIMEO")
        case .curveServer(let secretKey):
            try setInt(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
            try setBytes(ZMQ_CURVE_SECRETKEY, Array(secretKey.utf8), "ZMQ_CURVE_SECRETKEY")
        case .zapDomain(let domain): try setBytes(ZMQ_ZAP_DOMAIN, Array(domain.utf8), "ZMQ_ZAP_DOMAIN")
        case .curveClient(let serverPublicKey, let publicKey, let secretKey):
            try setBytes(ZMQ_CURVE_SERVERKEY, Array(serverPublicKey.utf8), "ZMQ_CURVE_SERVERKEY")
            try setBytes(ZMQ_CURVE_PUBLICKEY, Array(publicKey.utf8), "ZMQ_CURVE_PUBLICKEY")
            try setBytes(ZMQ_CURVE_SECRETKEY, Array(secretKey.utf8), "ZMQ_CURVE_SECRETKEY")
        }
    }

    private func setInt(_ name: Int32, _ value: Int, _ label: String) throws(WireError) {
        var number = Int32(clamping: value)
        try setRaw(name, &number, MemoryLayout<Int32>.size, "\(label) = \(value)")
    }

    private func setBytes(_ name: Int32, _ bytes: [UInt8], _ label: String) throws(WireError) {
        var copy = bytes
        try setRaw(name, &copy, bytes.count, "\(label) (\(bytes.count) bytes)")
    }
}
