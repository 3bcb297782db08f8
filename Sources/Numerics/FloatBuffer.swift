/// A growable, uninitialised-on-growth float buffer owned by one sequence's run state: activations and KV caches
/// are allocated once and reused by every step, so the decode loop allocates nothing.
/// Not Sendable: a buffer belongs to the one sequence (and thread) that is running it.
public final class FloatBuffer {
    /// The storage; valid for `capacity` floats until the next growing `reserve`.
    public private(set) var pointer: UnsafeMutablePointer<Float>
    /// Floats available.
    public private(set) var capacity: Int

    /// A zero-filled buffer of `capacity` floats.
    public init(capacity: Int = 0) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
        pointer.initialize(repeating: 0, count: self.capacity)
    }

    /// Makes room for `count` floats, growing geometrically; `preserving` keeps the first `preserving` floats.
    public func reserve(_ count: Int, preserving: Int = 0) {
        guard count > capacity else { return }
        let newCapacity = max(count, capacity * 2)
        let grown = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
        grown.initialize(repeating: 0, count: newCapacity)
        if preserving > 0 { grown.update(from: pointer, count: min(preserving, capacity)) }
        pointer.deallocate()
        pointer = grown
        capacity = newCapacity
    }

    /// A new buffer holding a copy of the first `count` floats (beam search forks a KV cache with it).
    public func copy(count: Int) -> FloatBuffer {
        let copy = FloatBuffer(capacity: count)
        copy.pointer.update(from: pointer, count: min(count, capacity))
        return copy
    }

    /// The first `count` floats copied into an array.
    public func array(count: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: min(count, capacity)))
    }

    deinit { pointer.deallocate() }
}
