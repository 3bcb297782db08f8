/// A least-recently-used cache bounded by bytes, with single-flight bookkeeping: the router keeps prompt
/// encodings here so a repeated prompt never reaches the encoder twice, and identical prompts that arrive
/// while the first is being encoded wait for that one result instead of being encoded again. Decoders keep their
/// started sequences in one (`PrefillCache`), through `value(for:)` and `complete`.
///
/// Not thread-safe: one thread (the router's event loop, a decoder's compute thread) is its only user.
public final class EncodingCache<Key: Hashable, Value> {
    /// Counters reported by `l2s stats`.
    public struct Statistics: Equatable, Sendable {
        public var hits: UInt64 = 0
        public var misses: UInt64 = 0
        public var evictions: UInt64 = 0
        public var coalesced: UInt64 = 0
        public var entries: Int = 0
        public var bytes: Int = 0
        public var capacityBytes: Int = 0
    }

    /// What `lookup` found.
    public enum Lookup {
        /// Cached: use it.
        case hit(Value)
        /// Someone already asked the encoder for this key: wait for `complete`.
        case inFlight
        /// Neither cached nor in flight: the caller must ask the encoder, then call `complete` or `fail`.
        case miss
    }

    private final class Node {
        let key: Key
        let value: Value
        let bytes: Int
        var newer: Node?
        weak var older: Node?
        init(key: Key, value: Value, bytes: Int) {
            self.key = key
            self.value = value
            self.bytes = bytes
        }
    }

    private var nodes: [Key: Node] = [:]
    private var newest: Node?
    private var oldest: Node?
    private var inFlight: Set<Key> = []
    public private(set) var statistics = Statistics()

    /// A cache holding at most `capacityBytes` of values (0 disables caching but keeps single flight).
    public init(capacityBytes: Int) {
        statistics.capacityBytes = max(0, capacityBytes)
    }

    /// Looks `key` up, counting a hit, a coalesced wait, or a miss (which marks the key in flight).
    public func lookup(_ key: Key) -> Lookup {
        if let node = nodes[key] {
            statistics.hits += 1
            touch(node)
            return .hit(node.value)
        }
        if inFlight.contains(key) {
            statistics.coalesced += 1
            return .inFlight
        }
        statistics.misses += 1
        inFlight.insert(key)
        return .miss
    }

    /// The value cached for `key` (counted as a hit and made the most recent) or nil (a miss); unlike `lookup`, a
    /// miss marks nothing in flight, for a user that coalesces identical work itself.
    public func value(for key: Key) -> Value? {
        guard let node = nodes[key] else {
            statistics.misses += 1
            return nil
        }
        statistics.hits += 1
        touch(node)
        return node.value
    }

    /// Whether an encode for `key` is outstanding.
    public func isInFlight(_ key: Key) -> Bool { inFlight.contains(key) }

    /// Stores the result for `key` (in flight or not), replacing any entry it had, and evicts the least recently used
    /// entries until the total fits. A value larger than the whole capacity is not stored.
    public func complete(_ key: Key, value: Value, bytes: Int) {
        inFlight.remove(key)
        if let existing = nodes[key] { remove(existing) }
        guard bytes <= statistics.capacityBytes else { return }
        while statistics.bytes + bytes > statistics.capacityBytes, let victim = oldest {
            remove(victim)
            statistics.evictions += 1
        }
        let node = Node(key: key, value: value, bytes: bytes)
        nodes[key] = node
        pushNewest(node)
        statistics.bytes += bytes
        statistics.entries = nodes.count
    }

    /// Forgets an in-flight key whose encode failed, so the next lookup asks the encoder again.
    public func fail(_ key: Key) {
        inFlight.remove(key)
    }

    /// Drops every entry and every in-flight mark (the cluster's bundle changed, so none can be used again);
    /// counters are kept.
    public func removeAll() {
        while let node = oldest { remove(node) }
        inFlight.removeAll()
    }

    /// Whether `key` is cached (does not count as a hit or change recency).
    public func contains(_ key: Key) -> Bool { nodes[key] != nil }

    private func touch(_ node: Node) {
        guard newest !== node else { return }
        unlink(node)
        pushNewest(node)
    }

    private func pushNewest(_ node: Node) {
        node.older = newest
        node.newer = nil
        newest?.newer = node
        newest = node
        if oldest == nil { oldest = node }
    }

    private func unlink(_ node: Node) {
        if let older = node.older { older.newer = node.newer } else { oldest = node.newer }
        if let newer = node.newer { newer.older = node.older } else { newest = node.older }
        node.newer = nil
        node.older = nil
    }

    private func remove(_ node: Node) {
        unlink(node)
        nodes[node.key] = nil
        statistics.bytes -= node.bytes
        statistics.entries = nodes.count
    }
}
