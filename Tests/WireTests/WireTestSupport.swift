import Foundation
import Wire

/// The two transports every socket test runs over.
enum Transport: String, CaseIterable, CustomStringConvertible {
    case inproc
    case tcp

    var description: String { rawValue }

    /// A bind endpoint unique to one test: inproc names must not collide within a context, tcp picks a free port.
    func bindEndpoint() -> String {
        switch self {
        case .inproc: return "inproc://wire-test-\(UUID().uuidString)"
        case .tcp: return "tcp://127.0.0.1:*"
        }
    }
}

/// A fresh context with a bound server socket and a connected client, as each test should have
/// (one context per test, LINGER 0, sockets closed before the context is terminated).
final class SocketPair {
    let context: ZMQContext
    let server: ZMQSocket
    let client: ZMQSocket
    let endpoint: String

    init(
        _ transport: Transport, server serverType: SocketType = .router, client clientType: SocketType = .dealer,
        configureServer: (ZMQSocket) throws -> Void = { _ in }, configureClient: (ZMQSocket) throws -> Void = { _ in }
    ) throws {
        context = try ZMQContext()
        server = try ZMQSocket(context: context, type: serverType)
        try configureServer(server)
        try server.bind(transport.bindEndpoint())
        endpoint = try server.lastEndpoint()
        client = try ZMQSocket(context: context, type: clientType)
        try configureClient(client)
        try client.connect(endpoint)
    }

    /// Closes both sockets explicitly (the context then terminates without waiting when released).
    func close() {
        client.close()
        server.close()
    }
}

/// Hand-written protobuf wire bytes, to build envelopes the Swift encoder would never produce.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(remaining & 0x7f) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    /// A varint field (wire type 0).
    mutating func field(_ number: UInt64, varint value: UInt64) {
        varint(number << 3)
        varint(value)
    }

    /// A length-delimited field (wire type 2): strings, bytes, sub-messages, packed repeated scalars.
    mutating func field(_ number: UInt64, bytes value: [UInt8]) {
        varint(number << 3 | 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Packed repeated varints.
    mutating func field(_ number: UInt64, packed values: [UInt64]) {
        var inner = ProtoWriter()
        for value in values { inner.varint(value) }
        field(number, bytes: inner.bytes)
    }

    /// An envelope with `version` and one body field holding `body`.
    static func envelope(version: UInt64 = 1, body number: UInt64, _ body: [UInt8]) -> [UInt8] {
        var writer = ProtoWriter()
        writer.field(1, varint: version)
        writer.field(number, bytes: body)
        return writer.bytes
    }
}

/// SplitMix64: a tiny seeded generator so randomized tests replay exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
