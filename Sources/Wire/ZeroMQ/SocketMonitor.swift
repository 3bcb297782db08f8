import CZeroMQ

/// Connection events of a socket, read from its ZeroMQ monitor (`zmq_socket_monitor`): used to log failed
/// handshakes (a peer with the wrong CURVE key, a key not on the allow-list) that are otherwise silent.
public final class SocketMonitor {
    /// One event: what happened and on which endpoint.
    public struct Event: Sendable, Equatable, CustomStringConvertible {
        /// The `ZMQ_EVENT_*` number.
        public let code: Int32
        /// The event's value (an errno for failures, a file descriptor for connections).
        public let value: UInt32
        /// The endpoint the event concerns.
        public let endpoint: String

        /// Whether a security handshake failed (wrong key, refused by ZAP, protocol mismatch).
        public var isHandshakeFailure: Bool {
            code
                & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                    | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0
        }

        /// E.g. `handshake refused by the authenticator (ZAP status 400) on tcp://127.0.0.1:5557`.
        public var description: String {
            let what: String
            switch code {
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: what = "handshake refused by the authenticator (ZAP status \(value))"
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
                what =
                    "handshake failed: protocol error \(value)"
                    + " (a wrong CURVE key, or a peer without CURVE)"
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: what = "handshake failed (errno \(value))"
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: what = "handshake succeeded"
            default: what = "event 0x\(String(code, radix: 16)) (\(value))"
            }
            return "\(what) on \(endpoint)"
        }
    }

    /// The socket events' receiving end; poll it like any socket.
    public let socket: ZMQSocket

    /// Monitors `target` for handshake results; `name` makes the inproc address unique within `context`.
    public init(_ target: ZMQSocket, context: ZMQContext, name: String) throws(WireError) {
        let address = "inproc://l2s-monitor-\(name)"
        let events =
            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
        let handle = try target.open("zmq_socket_monitor")
        try ZMQCall.check("zmq_socket_monitor(\(address))") { zmq_socket_monitor(handle, address, events) }
        socket = try ZMQSocket(context: context, type: .pair)
        try socket.set(.linger(milliseconds: 0))
        try socket.connect(address)
    }

    /// The next event, if one is waiting (never blocks); malformed event messages are skipped.
    public func next() throws(WireError) -> Event? {
        while let frames = try socket.receive(timeoutMilliseconds: 0) {
            guard frames.count >= 2, frames[0].count >= 6 else { continue }
            let (code, value) = frames[0].withUnsafeBytes { bytes in
                (Int32(bytes.loadUnaligned(as: UInt16.self)), bytes.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            }
            return Event(code: code, value: value, endpoint: String(decoding: frames[1].bytes, as: UTF8.self))
        }
        return nil
    }

    /// Closes the receiving end (the monitored socket stops reporting when it closes).
    public func close() { socket.close() }
}
