import CZeroMQ

/// A ZeroMQ context: owns the I/O threads and every socket made from it. Terminated in deinit, which
/// happens only after all its sockets are gone because each socket keeps its context alive.
public final class ZMQContext: @unchecked Sendable {
    // Sendable: libzmq documents contexts as thread-safe ("may be shared among as many application threads
    // as necessary"); `handle` is a constant and the only mutation (termination) happens in deinit.
    let handle: UnsafeMutableRawPointer

    /// A new context with `ioThreads` I/O threads (one is plenty below a gigabyte per second).
    public init(ioThreads: Int = 1) throws(WireError) {
        guard let handle = zmq_ctx_new() else { throw ZMQCall.error("zmq_ctx_new", zmq_errno()) }
        self.handle = handle
        try ZMQCall.check("zmq_ctx_set(ZMQ_IO_THREADS, \(ioThreads))") {
            zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads))
        }
    }

    /// Makes every blocking call on this context's sockets, in any thread, fail with
    /// `WireError.contextTerminated`; the way to stop service threads.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // All sockets are closed by now (they retain the context), so this returns once their lingering
        // messages are flushed; EINTR only interrupts the wait.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

/// A CURVE key pair in Z85 text (40 characters each), as ZeroMQ's CURVE options take it.
public struct CurveKeyPair: Sendable, Equatable {
    /// The public key, given to peers.
    public let publicKey: String
    /// The secret key, kept by its owner.
    public let secretKey: String

    /// A fresh random key pair from `zmq_curve_keypair`; throws when libzmq was built without CURVE.
    public static func generate() throws(WireError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        try ZMQCall.check("zmq_curve_keypair") { zmq_curve_keypair(&publicKey, &secretKey) }
        return CurveKeyPair(
            publicKey: String(decoding: publicKey.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self),
            secretKey: String(decoding: secretKey.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// The pair of a secret key (Z85), its public half derived with `zmq_curve_public`.
    public init(secretKey: String) throws(WireError) {
        var publicKey = [CChar](repeating: 0, count: 41)
        try ZMQCall.check("zmq_curve_public") { zmq_curve_public(&publicKey, secretKey) }
        self.publicKey = String(decoding: publicKey.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.secretKey = secretKey
    }

    private init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// The Z85 text of a 32-byte binary key (as ZAP hands CURVE credentials over); nil for another length.
    public static func z85(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, key, 32) != nil else { return nil }
        return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether this libzmq supports CURVE encryption.
    public static var isAvailable: Bool { zmq_has("curve") != 0 }
}
