import Wire

/// Messages for clients whose ZeroMQ queue was full when the router sent them, kept in order per client and
/// sent as the client reads. Nothing for a client is dropped silently: past `limit` messages the client is too
/// slow (its jobs are cancelled with an explicit error, queued behind what it has not read), and a backlog that
/// makes no progress for `abandonAfter` belongs to a client that is gone (dropped, and logged).
struct ClientBacklog {
    private struct Queue {
        var items: [Outgoing] = []
        var head = 0
        var lastProgress: ContinuousClock.Instant
        var overflowed = false
        var count: Int { items.count - head }
    }

    /// What happened to a client's backlog.
    enum Event {
        /// The backlog passed the limit: the client's jobs must be cancelled (once per client).
        case tooSlow(PeerIdentity, backlog: Int)
        /// The client can no longer be reached: its jobs must be cancelled.
        case unreachable(PeerIdentity)
        /// The client read nothing for `abandonAfter`: its backlog was dropped.
        case abandoned(PeerIdentity, messages: Int)
    }

    let limit: Int
    let abandonAfter: Duration
    private var queues: [PeerIdentity: Queue] = [:]

    init(limit: Int, abandonAfter: Duration = .seconds(60)) {
        self.limit = max(1, limit)
        self.abandonAfter = abandonAfter
    }

    /// Whether `client` has messages waiting (new ones must queue behind them to keep the order).
    func isBacklogged(_ client: PeerIdentity) -> Bool { queues[client] != nil }

    /// Whether no client has messages waiting.
    var isEmpty: Bool { queues.isEmpty }

    /// Queues `item` for its client; reports `tooSlow` the first time the client's backlog passes the limit.
    mutating func append(_ item: Outgoing, now: ContinuousClock.Instant) -> Event? {
        var queue = queues[item.peer] ?? Queue(lastProgress: now)
        queue.items.append(item)
        defer { queues[item.peer] = queue }
        guard queue.count > limit, !queue.overflowed else { return nil }
        queue.overflowed = true
        return .tooSlow(item.peer, backlog: queue.count)
    }

    /// Sends what each client can take now, in order, with `send` (false = the client's queue is still full).
    mutating func flush(now: ContinuousClock.Instant, send: (Outgoing) throws(WireError) -> Bool) -> [Event] {
        var events: [Event] = []
        for client in Array(queues.keys) {
            guard var queue = queues[client] else { continue }
            var gone = false
            while queue.head < queue.items.count {
                do {
                    guard try send(queue.items[queue.head]) else { break }
                } catch .hostUnreachable {
                    gone = true
                    break
                } catch {
                    // Could not be encoded or sent for another reason: skip it rather than block the rest.
                }
                queue.head += 1
                queue.lastProgress = now
            }
            if gone {
                queues[client] = nil
                events.append(.unreachable(client))
            } else if queue.head == queue.items.count {
                queues[client] = nil
            } else if now - queue.lastProgress >= abandonAfter {
                queues[client] = nil
                events.append(.abandoned(client, messages: queue.count))
            } else {
                if queue.head > 4096 {
                    queue.items.removeFirst(queue.head)
                    queue.head = 0
                }
                queues[client] = queue
            }
        }
        return events
    }
}
