import CZeroMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One ZeroMQ message part: immutable bytes, owned either by Swift-allocated memory or by a received
/// `zmq_msg_t`, so a received tensor frame can be read and forwarded without copying.
///
/// The bytes may be unaligned (ZeroMQ hands out slices of its receive buffer): read multi-byte values
/// with `loadUnaligned` or copy them out.
public final class Frame: @unchecked Sendable {
    // Sendable because nothing mutates after init: `base` and `count` are constants, the storage is
    // only freed in deinit, and reading a zmq_msg_t's data from several threads is safe.
    private enum Storage {
        case empty
        case allocated(UnsafeMutableRawPointer)
        case message(UnsafeMutablePointer<zmq_msg_t>)
    }

    private let storage: Storage
    private let base: UnsafeRawPointer?
    /// Number of bytes in the frame.
    public let count: Int

    /// A frame of `count` bytes written once by `fill`, with no intermediate copy.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        precondition(count >= 0, "Frame byte count must not be negative")
        if count == 0 {
            storage = .empty
            base = nil
            self.count = 0
            try fill(UnsafeMutableRawBufferPointer(start: nil, count: 0))
            return
        }
        // 64-byte alignment lets receivers of locally built frames bind the memory to any element type.
        let memory = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        do {
            try fill(UnsafeMutableRawBufferPointer(start: memory, count: count))
        } catch {
            memory.deallocate()
            throw error
        }
        storage = .allocated(memory)
        base = UnsafeRawPointer(memory)
        self.count = count
    }

    /// A frame holding a copy of `bytes`.
    public convenience init(_ bytes: some Collection<UInt8>) {
        let count = bytes.count
        self.init(count: count) { destination in
            let copied: Void? = bytes.withContiguousStorageIfAvailable { source in
                destination.copyMemory(from: UnsafeRawBufferPointer(source))
            }
            if copied == nil {
                for (offset, byte) in bytes.enumerated() { destination[offset] = byte }
            }
        }
    }

    /// Takes ownership of an initialized, received message; it is closed and freed in deinit.
    init(takingMessage message: UnsafeMutablePointer<zmq_msg_t>) {
        storage = .message(message)
        count = zmq_msg_size(message)
        base = count > 0 ? UnsafeRawPointer(zmq_msg_data(message)) : nil
    }

    deinit {
        switch storage {
        case .empty: break
        case .allocated(let memory): memory.deallocate()
        case .message(let message):
            zmq_msg_close(message)
            message.deallocate()
        }
    }

    /// Calls `body` with the frame's bytes; the pointer is valid only inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// A copy of the bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The start address for the zero-copy send path; stays valid while this frame is alive.
    var baseAddress: UnsafeRawPointer? { base }
}

extension Frame: Equatable {
    /// Frames are equal when their bytes are.
    public static func == (lhs: Frame, rhs: Frame) -> Bool {
        if lhs === rhs { return true }
        guard lhs.count == rhs.count else { return false }
        guard let a = lhs.base, let b = rhs.base else { return true }
        return memcmp(a, b, lhs.count) == 0
    }
}

extension Frame: CustomStringConvertible {
    /// The byte count and, for short frames, the bytes in hex.
    public var description: String {
        let shown = bytes.prefix(16).map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }.joined()
        return "Frame(\(count) bytes\(count > 0 ? ": " + shown : "")\(count > 16 ? "…" : ""))"
    }
}

/// The routing identity a ROUTER socket assigns to (or is told by) a connected peer.
public struct PeerIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The identity frame's bytes.
    public let bytes: [UInt8]

    /// An identity from its bytes (ZeroMQ requires 1...255 bytes, not starting with a zero byte when set by a peer).
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The identity in hex, for logs.
    public var description: String {
        bytes.map { byte in byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
    }
}
