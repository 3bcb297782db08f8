import CZeroMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A ZeroMQ socket. ZeroMQ sockets are not thread-safe, so this type is deliberately not `Sendable`:
/// create it on the thread that uses it (a dedicated service thread, never Swift's cooperative pool for
/// blocking calls) and keep it there. Closed in `close()` or deinit; keeps its context alive until then.
public final class ZMQSocket {
    /// What kind of socket this is.
    public let type: SocketType
    private let context: ZMQContext
    private var handle: UnsafeMutableRawPointer?

    /// Frames at least this large are sent zero-copy; smaller ones are cheaper to copy than to reference.
    private static let zeroCopyThreshold = 4096

    /// A new socket of `type` in `context`, with `ZMQ_LINGER` 0 so closing never blocks on a vanished peer.
    public init(context: ZMQContext, type: SocketType) throws(WireError) {
        guard let handle = zmq_socket(context.handle, type.zmqValue) else {
            throw ZMQCall.error("zmq_socket(\(type))", zmq_errno())
        }
        self.type = type
        self.context = context
        self.handle = handle
        try set(.linger(milliseconds: 0))
    }

    deinit {
        if let handle { zmq_close(handle) }
    }

    /// Closes the socket now; later calls throw `WireError.zmq` with ENOTSOCK.
    public func close() {
        if let handle { zmq_close(handle) }
        handle = nil
    }

    /// Accepts connections on `endpoint` (`tcp://127.0.0.1:*` picks a free port; read it from `lastEndpoint()`).
    public func bind(_ endpoint: String) throws(WireError) {
        let socket = try open("zmq_bind(\(endpoint))")
        try ZMQCall.check("zmq_bind(\(endpoint))") { zmq_bind(socket, endpoint) }
    }

    /// Connects to `endpoint`; ZeroMQ reconnects by itself when the peer restarts.
    public func connect(_ endpoint: String) throws(WireError) {
        let socket = try open("zmq_connect(\(endpoint))")
        try ZMQCall.check("zmq_connect(\(endpoint))") { zmq_connect(socket, endpoint) }
    }

    /// Drops the connection to `endpoint` made by `connect`.
    public func disconnect(_ endpoint: String) throws(WireError) {
        let socket = try open("zmq_disconnect(\(endpoint))")
        try ZMQCall.check("zmq_disconnect(\(endpoint))") { zmq_disconnect(socket, endpoint) }
    }

    /// The endpoint last bound or connected, with the actual port (`ZMQ_LAST_ENDPOINT`).
    public func lastEndpoint() throws(WireError) -> String {
        let socket = try open("ZMQ_LAST_ENDPOINT")
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        try ZMQCall.check("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") {
            zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size)
        }
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Frames

    /// Sends `frames` as one multipart message. With `blocking` false, returns false instead of waiting when
    /// the queue is full (`ZMQ_DONTWAIT`). Large frames are handed to ZeroMQ without copying.
    @discardableResult
    public func send(_ frames: [Frame], blocking: Bool = true) throws(WireError) -> Bool {
        // ZeroMQ has no zero-part messages; sending nothing is a caller bug worth reporting.
        guard !frames.isEmpty else { throw .noFrames }
        let socket = try open("zmq_send")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index + 1 < frames.count ? ZMQ_SNDMORE : 0
            if !blocking { flags |= ZMQ_DONTWAIT }
            let sent = try sendFrame(frame, socket: socket, flags: flags, index: index)
            // ZeroMQ queues a multipart message atomically once its first part is accepted.
            if !sent {
                guard index == 0 else { throw ZMQCall.error("zmq_send(frame \(index))", EAGAIN) }
                return false
            }
        }
        return true
    }

    /// Receives one multipart message; waits at most `timeoutMilliseconds` (-1 = forever, 0 = poll) and
    /// returns nil when nothing arrived in time.
    public func receive(timeoutMilliseconds: Int = -1) throws(WireError) -> [Frame]? {
        let socket = try open("zmq_msg_recv")
        if timeoutMilliseconds >= 0 {
            var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            let ready = try ZMQCall.run("zmq_poll") { zmq_poll(&item, 1, timeoutMilliseconds) }
            guard let ready, ready > 0 else { return nil }
        }
        var frames: [Frame] = []
        repeat {
            // Parts after the first are already queued (multipart delivery is atomic), so only the first may wait.
            let flags: Int32 = frames.isEmpty && timeoutMilliseconds >= 0 ? ZMQ_DONTWAIT : 0
            guard let frame = try receiveFrame(socket: socket, flags: flags) else {
                if frames.isEmpty { return nil }
                throw ZMQCall.error("zmq_msg_recv(part \(frames.count))", EAGAIN)
            }
            frames.append(frame)
        } while try hasMore(socket)
        return frames
    }

    // MARK: - ROUTER

    /// ROUTER: sends `frames` to `peer`. Throws `hostUnreachable` when the peer is unknown and
    /// `.routerMandatory(true)` is set (otherwise ZeroMQ silently drops the message).
    @discardableResult
    public func send(_ frames: [Frame], to peer: PeerIdentity, blocking: Bool = true) throws(WireError) -> Bool {
        do {
            return try send([Frame(peer.bytes)] + frames, blocking: blocking)
        } catch .zmq(_, let code, _) where code == EHOSTUNREACH {
            throw .hostUnreachable(peer: peer.description)
        }
    }

    /// ROUTER: receives one message and splits off the sender's identity frame.
    public func receiveRouted(timeoutMilliseconds: Int = -1) throws(WireError) -> (peer: PeerIdentity, frames: [Frame])?
    {
        guard let frames = try receive(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        guard frames.count >= 2 else { throw .missingIdentityFrame }
        return (PeerIdentity(frames[0].bytes), Array(frames.dropFirst()))
    }

    // MARK: - Messages

    /// Encodes and sends `message` (envelope frame plus tensor frame when it has one).
    @discardableResult
    public func send(_ message: Message, blocking: Bool = true) throws(WireError) -> Bool {
        try send(try WireCodec.encode(message), blocking: blocking)
    }

    /// ROUTER: encodes and sends `message` to `peer`.
    @discardableResult
    public func send(_ message: Message, to peer: PeerIdentity, blocking: Bool = true) throws(WireError) -> Bool {
        try send(try WireCodec.encode(message), to: peer, blocking: blocking)
    }

    /// Receives and decodes one message; nil on timeout. Decoding errors are thrown like socket errors.
    public func receiveMessage(
        timeoutMilliseconds: Int = -1, limits: WireLimits = .standard
    ) throws(WireError) -> Message? {
        guard let frames = try receive(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        return try WireCodec.decode(frames, limits: limits)
    }

    /// ROUTER: receives one message with its sender; a malformed message comes back as a failed `Result`
    /// (with the peer, so the router can answer with an `Error`) while socket failures are thrown.
    public func receiveRoutedMessage(
        timeoutMilliseconds: Int = -1, limits: WireLimits = .standard
    ) throws(WireError) -> (peer: PeerIdentity, message: Result<Message, WireError>)? {
        guard let (peer, frames) = try receiveRouted(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        do {
            return (peer, .success(try WireCodec.decode(frames, limits: limits)))
        } catch {
            return (peer, .failure(error))
        }
    }

    // MARK: - Internals

    /// The open handle, for pollers and option setters in this module; throws once closed.
    func open(_ operation: String) throws(WireError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQCall.error(operation + " on a closed socket", ENOTSOCK) }
        return handle
    }

    func setRaw(_ name: Int32, _ value: UnsafeRawPointer, _ size: Int, _ label: String) throws(WireError) {
        let socket = try open("zmq_setsockopt(\(label))")
        try ZMQCall.check("zmq_setsockopt(\(label))") { zmq_setsockopt(socket, name, value, size) }
    }

    private func sendFrame(_ frame: Frame, socket: UnsafeMutableRawPointer, flags: Int32, index: Int) throws(WireError)
        -> Bool
    {
        guard frame.count >= ZMQSocket.zeroCopyThreshold, let base = frame.baseAddress else {
            let sent = try frame.withUnsafeBytes { bytes throws(WireError) in
                try ZMQCall.run("zmq_send(frame \(index), \(bytes.count) bytes)") {
                    zmq_send(socket, bytes.baseAddress, bytes.count, flags)
                }
            }
            return sent != nil
        }
        // Zero-copy: ZeroMQ reads the frame's memory directly and calls the (non-capturing) free function,
        // possibly on its I/O thread, when done; the retained reference keeps the frame alive until then.
        let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        defer { message.deallocate() }
        let retained = Unmanaged.passRetained(frame).toOpaque()
        let initialized = zmq_msg_init_data(
            message, UnsafeMutableRawPointer(mutating: base), frame.count,
            { _, hint in
                guard let hint else { return }
                Unmanaged<Frame>.fromOpaque(hint).release()
            }, retained)
        guard initialized == 0 else {
            Unmanaged<Frame>.fromOpaque(retained).release()
            throw ZMQCall.error("zmq_msg_init_data(frame \(index))", zmq_errno())
        }
        do {
            let sent = try ZMQCall.run("zmq_msg_send(frame \(index), \(frame.count) bytes)") {
                zmq_msg_send(message, socket, flags)
            }
            // On success ZeroMQ owns the content and has reset `message`; otherwise closing it releases the frame.
            if sent == nil { zmq_msg_close(message) }
            return sent != nil
        } catch {
            zmq_msg_close(message)
            throw error
        }
    }

    private func receiveFrame(socket: UnsafeMutableRawPointer, flags: Int32) throws(WireError) -> Frame? {
        let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        zmq_msg_init(message)
        do {
            guard try ZMQCall.run("zmq_msg_recv", { zmq_msg_recv(message, socket, flags) }) != nil else {
                zmq_msg_close(message)
                message.deallocate()
                return nil
            }
        } catch {
            zmq_msg_close(message)
            message.deallocate()
            throw error
        }
        return Frame(takingMessage: message)
    }

    private func hasMore(_ socket: UnsafeMutableRawPointer) throws(WireError) -> Bool {
        var more: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try ZMQCall.check("zmq_getsockopt(ZMQ_RCVMORE)") { zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &size) }
        return more != 0
    }
}
