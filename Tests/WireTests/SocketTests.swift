import Foundation
import Testing
import Wire

/// Real ZeroMQ sockets, in-process (`inproc://`) and over loopback TCP, one context per test.
@Suite("ZeroMQ sockets")
struct SocketTests {
    @Test("every message type round-trips DEALER -> ROUTER -> DEALER", arguments: Transport.allCases)
    func roundTripEveryMessage(transport: Transport) throws {
        let pair = try SocketPair(transport)
        defer { pair.close() }
        for message in try WireSamples.all() {
            try pair.client.send(message)
            let received = try #require(try pair.server.receiveRoutedMessage(timeoutMilliseconds: 5000))
            #expect(try received.message.get() == message, "\(message.kind) client -> server over \(transport)")
            try pair.server.send(message, to: received.peer)
            let reply = try #require(try pair.client.receiveMessage(timeoutMilliseconds: 5000))
            #expect(reply == message, "\(message.kind) server -> client over \(transport)")
        }
    }

    @Test(
        "a 4 MiB tensor round-trips intact",
        arguments: [(Transport.inproc, DType.float32), (.inproc, .float16), (.tcp, .float32), (.tcp, .bfloat16)])
    func largeTensor(transport: Transport, dtype: DType) throws {
        let width = 1024
        let rows = (4 << 20) / (width * dtype.elementSize)
        let bytes = Frame(count: 4 << 20) { buffer in
            for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13) }
        }
        let tensor = try Tensor(dtype: dtype, shape: [rows, width], bytes: bytes)
        let encoding = Encoding(
            requestID: "big", promptHash: Array(repeating: 7, count: 32), promptIDs: (0..<Int32(rows)).map { $0 },
            tensor: tensor)
        let message = Message.encoding(encoding)
        let pair = try SocketPair(transport)
        defer { pair.close() }
        try pair.client.send(message)
        let received = try #require(try pair.server.receiveRoutedMessage(timeoutMilliseconds: 10_000))
        let decoded = try received.message.get()
        #expect(decoded == message)
        // Forward the received (ZeroMQ-owned) tensor frame back without copying it.
        try pair.server.send(decoded, to: received.peer)
        let back = try #require(try pair.client.receiveMessage(timeoutMilliseconds: 10_000))
        #expect(back.tensor?.bytes == bytes)
        #expect(back.tensor?.shape == [rows, width])
    }

    @Test("ROUTER routes replies to the right DEALER by identity")
    func identityRouting() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.bind(Transport.inproc.bindEndpoint())
        let endpoint = try router.lastEndpoint()
        let alice = try ZMQSocket(context: context, type: .dealer)
        try alice.set(.routingID(Array("alice".utf8)))
        try alice.connect(endpoint)
        let bob = try ZMQSocket(context: context, type: .dealer)
        try bob.set(.routingID(Array("bob".utf8)))
        try bob.connect(endpoint)
        defer {
            alice.close()
            bob.close()
            router.close()
        }
        try alice.send(.credit(Credit(credits: 1)))
        try bob.send(.credit(Credit(credits: 2)))
        var peers: [UInt32: PeerIdentity] = [:]
        for _ in 0..<2 {
            let received = try #require(try router.receiveRoutedMessage(timeoutMilliseconds: 2000))
            guard case .credit(let credit) = try received.message.get() else {
                Issue.record("expected a credit")
                return
            }
            peers[credit.credits] = received.peer
        }
        #expect(peers[1] == PeerIdentity(Array("alice".utf8)))
        #expect(peers[2] == PeerIdentity(Array("bob".utf8)))
        try router.send(.cancel(Cancel(requestID: "for-bob")), to: try #require(peers[2]))
        #expect(try bob.receiveMessage(timeoutMilliseconds: 2000) == .cancel(Cancel(requestID: "for-bob")))
        #expect(try alice.receiveMessage(timeoutMilliseconds: 50) == nil)
    }

    @Test("ROUTER_MANDATORY turns a send to an unknown peer into hostUnreachable")
    func routerMandatory() throws {
        let pair = try SocketPair(.inproc, configureServer: { try $0.set(.routerMandatory(true)) })
        defer { pair.close() }
        #expect(throws: WireError.hostUnreachable(peer: "6e6f626f6479")) {
            try pair.server.send(.heartbeat(Heartbeat(sentAtUnixMs: 1)), to: PeerIdentity(Array("nobody".utf8)))
        }
    }

    @Test("receive returns nil after its timeout")
    func receiveTimeout() throws {
        let pair = try SocketPair(.inproc)
        defer { pair.close() }
        let start = ContinuousClock.now
        #expect(try pair.server.receiveRouted(timeoutMilliseconds: 50) == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(40))
        #expect(try pair.client.receive(timeoutMilliseconds: 0) == nil)
    }

    @Test("poller reports which socket is readable, or nothing after its timeout")
    func poller() throws {
        let context = try ZMQContext()
        let first = try ZMQSocket(context: context, type: .pull)
        let second = try ZMQSocket(context: context, type: .pull)
        let pusher = try ZMQSocket(context: context, type: .push)
        try first.bind(Transport.inproc.bindEndpoint())
        try second.bind(Transport.inproc.bindEndpoint())
        try pusher.connect(try second.lastEndpoint())
        defer {
            pusher.close()
            first.close()
            second.close()
        }
        let poller = ZMQPoller()
        #expect(poller.add(first) == 0)
        #expect(poller.add(second) == 1)
        let start = ContinuousClock.now
        #expect(try poller.poll(timeoutMilliseconds: 50) == [])
        #expect(ContinuousClock.now - start >= .milliseconds(40))
        try pusher.send(.goodbye(Goodbye(reason: "x")))
        #expect(try poller.poll(timeoutMilliseconds: 2000) == [1])
        #expect(try second.receiveMessage(timeoutMilliseconds: 0) == .goodbye(Goodbye(reason: "x")))
        #expect(try poller.poll(timeoutMilliseconds: 0) == [])
    }

    @Test("ZMQ_MAXMSGSIZE drops an oversize message and the connection that sent it")
    func maxMessageSize() throws {
        let pair = try SocketPair(.tcp, configureServer: { try $0.set(.maxMessageSize(1024)) })
        defer { pair.close() }
        try pair.client.send([Frame([UInt8](repeating: 1, count: 4096))])
        #expect(try pair.server.receiveRouted(timeoutMilliseconds: 300) == nil)
        let other = try ZMQSocket(context: pair.context, type: .dealer)
        defer { other.close() }
        try other.connect(pair.endpoint)
        try other.send(.credit(Credit(credits: 9)))
        let received = try #require(try pair.server.receiveRoutedMessage(timeoutMilliseconds: 2000))
        #expect(try received.message.get() == .credit(Credit(credits: 9)))
    }

    @Test("a malformed message reaches the ROUTER as a failed result with its sender")
    func malformedRoutedMessage() throws {
        let pair = try SocketPair(.inproc)
        defer { pair.close() }
        try pair.client.send([Frame([0xff, 0xff])])
        let received = try #require(try pair.server.receiveRoutedMessage(timeoutMilliseconds: 2000))
        #expect(throws: WireError.invalidProtobuf(bytes: 2)) { try received.message.get() }
        try pair.server.send(.error(ErrorReply(code: .badRequest, message: "bad")), to: received.peer)
        #expect(
            try pair.client.receiveMessage(timeoutMilliseconds: 2000)
                == .error(ErrorReply(code: .badRequest, message: "bad")))
    }

    @Test("multipart frames keep their order and sizes, including empty frames")
    func multipart() throws {
        let pair = try SocketPair(.tcp, server: .pull, client: .push)
        defer { pair.close() }
        let frames = [Frame([]), Frame([1]), Frame([UInt8](repeating: 2, count: 10_000)), Frame([3, 3])]
        try pair.client.send(frames)
        #expect(try pair.server.receive(timeoutMilliseconds: 2000) == frames)
        #expect(throws: WireError.noFrames) { try pair.client.send([Frame]()) }
    }

    @Test("PUB/SUB delivers to a subscriber")
    func publishSubscribe() throws {
        let pair = try SocketPair(.inproc, server: .pub, client: .sub, configureClient: { try $0.set(.subscribe([])) })
        defer { pair.close() }
        // A subscription takes effect asynchronously, so publish until the first message gets through.
        var received: Message?
        for _ in 0..<200 where received == nil {
            try pair.server.send(.heartbeat(Heartbeat(sentAtUnixMs: 5)))
            received = try pair.client.receiveMessage(timeoutMilliseconds: 10)
        }
        #expect(received == .heartbeat(Heartbeat(sentAtUnixMs: 5)))
    }

    @Test("CURVE: an encrypted link works with the right server key and stays silent with a wrong one")
    func curve() throws {
        try #require(CurveKeyPair.isAvailable, "libzmq without CURVE support")
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        #expect(server.publicKey.utf8.count == 40 && server.secretKey.utf8.count == 40)
        let pair = try SocketPair(
            .tcp, configureServer: { try $0.set(.curveServer(secretKey: server.secretKey)) },
            configureClient: {
                try $0.set(
                    .curveClient(
                        serverPublicKey: server.publicKey, publicKey: client.publicKey, secretKey: client.secretKey))
            })
        defer { pair.close() }
        try pair.client.send(.credit(Credit(credits: 3)))
        #expect(
            try pair.server.receiveRoutedMessage(timeoutMilliseconds: 2000).map { try $0.message.get() }
                == .credit(Credit(credits: 3)))
        let intruder = try ZMQSocket(context: pair.context, type: .dealer)
        defer { intruder.close() }
        try intruder.set(
            .curveClient(serverPublicKey: client.publicKey, publicKey: client.publicKey, secretKey: client.secretKey))
        try intruder.connect(pair.endpoint)
        try intruder.send(.credit(Credit(credits: 4)))
        #expect(try pair.server.receiveRouted(timeoutMilliseconds: 300) == nil)
    }

    @Test("lastEndpoint reports the ephemeral TCP port")
    func lastEndpoint() throws {
        let pair = try SocketPair(.tcp)
        defer { pair.close() }
        #expect(pair.endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect((Int(pair.endpoint.split(separator: ":").last ?? "") ?? 0) > 0)
    }

    @Test("socket options accept valid values and report rejected ones")
    func options() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)
        defer { socket.close() }
        for option: SocketOption in [
            .linger(milliseconds: 0), .sendHighWaterMark(100), .receiveHighWaterMark(100), .maxMessageSize(1 << 20),
            .heartbeatInterval(milliseconds: 1000), .heartbeatTimeout(milliseconds: 3000),
            .heartbeatTTL(milliseconds: 3000), .immediate(true), .reconnectInterval(milliseconds: 100),
            .reconnectIntervalMax(milliseconds: 2000), .routingID([1, 2, 3]), .sendTimeout(milliseconds: 100),
        ] {
            try socket.set(option)
        }
        #expect(throws: WireError.self) { try socket.set(.sendHighWaterMark(-1)) }
    }

    @Test("a closed socket and a shut-down context give typed errors, not crashes")
    func closedAndTerminated() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)
        let other = try ZMQSocket(context: context, type: .dealer)
        socket.close()
        #expect(throws: WireError.self) { try socket.send([Frame([1])]) }
        context.shutdown()
        #expect(throws: WireError.contextTerminated) { try other.receive(timeoutMilliseconds: 1000) }
        other.close()
    }
}

/// The service pattern: a socket owned by a dedicated thread, stopped by shutting its context down.
@Suite("ZeroMQ threads")
struct ThreadTests {
    /// Collects what the service thread saw, guarded by a lock.
    final class Outcome: @unchecked Sendable {
        // Sendable: every access to `values` holds `lock`.
        private let lock = NSLock()
        private var values: [String] = []

        func append(_ value: String) { lock.withLock { values.append(value) } }
        var all: [String] { lock.withLock { values } }
    }

    @Test("a thread blocked in receive wakes up with contextTerminated on shutdown")
    func shutdownWakesBlockedThread() throws {
        let context = try ZMQContext()
        let outcome = Outcome()
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let endpoint = Transport.inproc.bindEndpoint()
        let thread = Thread {
            do {
                let socket = try ZMQSocket(context: context, type: .router)
                try socket.bind(endpoint)
                started.signal()
                _ = try socket.receiveRoutedMessage()
                outcome.append("received")
            } catch {
                outcome.append("\(error)")
            }
            finished.signal()
        }
        thread.start()
        #expect(started.wait(timeout: .now() + 5) == .success)
        let client = try ZMQSocket(context: context, type: .dealer)
        try client.connect(endpoint)
        client.close()
        context.shutdown()
        #expect(finished.wait(timeout: .now() + 5) == .success)
        #expect(outcome.all == [WireError.contextTerminated.description])
    }
}
