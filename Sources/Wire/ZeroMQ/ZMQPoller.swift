import CZeroMQ

/// Waits until any of several sockets has a message (`zmq_poll`). Like its sockets, it belongs to one thread.
public final class ZMQPoller {
    private var sockets: [ZMQSocket] = []

    /// An empty poller.
    public init() {}

    /// Adds `socket` and returns its index, which `poll` reports when the socket is readable.
    @discardableResult
    public func add(_ socket: ZMQSocket) -> Int {
        sockets.append(socket)
        return sockets.count - 1
    }

    /// The indices of sockets with a message waiting, after at most `timeoutMilliseconds`
    /// (-1 = forever, 0 = just look); empty on timeout. EINTR restarts the wait.
    public func poll(timeoutMilliseconds: Int) throws(WireError) -> [Int] {
        var items: [zmq_pollitem_t] = []
        for socket in sockets {
            let handle = try socket.open("zmq_poll")
            items.append(zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let count = Int32(items.count)
        let ready = try ZMQCall.run("zmq_poll(\(count) sockets)") { zmq_poll(&items, count, timeoutMilliseconds) }
        guard let ready, ready > 0 else { return [] }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
