import Foundation
import Synchronization
import Wire

/// An inproc PAIR of sockets that lets any thread wake a thread blocked polling its ZeroMQ sockets: the owner polls
/// `receiver` beside its other sockets; others call `poke()` after queueing work for it. ZeroMQ sockets belong to
/// one thread, so the sending end is serialized by a mutex that owns it.
public final class WakeChannel: @unchecked Sendable {
    // @unchecked: `receiver` is used by the owning thread only; the sender only under its mutex.
    /// The end to poll; belongs to the thread that polls it.
    public let receiver: ZMQSocket
    private let sender: Mutex<ZMQSocket?>

    /// A channel within `context`.
    public init(context: ZMQContext) throws {
        let address = "inproc://l2s-wake-\(UUID().uuidString)"
        receiver = try ZMQSocket(context: context, type: .pair)
        try receiver.set(.linger(milliseconds: 0))
        try receiver.bind(address)
        let sender = try ZMQSocket(context: context, type: .pair)
        try sender.set(.linger(milliseconds: 0))
        try sender.connect(address)
        self.sender = Mutex(sender)
    }

    /// Wakes the owner (from any thread; never blocks).
    public func poke() {
        sender.withLock { socket in _ = try? socket?.send([Frame([])], blocking: false) }
    }

    /// Consumes the pokes received so far (owner's thread).
    public func drain() throws {
        while try receiver.receive(timeoutMilliseconds: 0) != nil {}
    }

    /// Closes both ends (owner's thread, before the context shuts down).
    public func close() {
        sender.withLock { socket in
            socket?.close()
            socket = nil
        }
        receiver.close()
    }
}
