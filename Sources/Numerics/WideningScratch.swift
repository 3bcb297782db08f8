import Foundation

/// A float32 buffer per thread into which a 16-bit weight is widened for a float32 product (a prompt pass), reused
/// by every such product on that thread: widening costs a pass over the weight, never an allocation.
enum WideningScratch {
    private static let key = "l2s.widening-scratch"

    /// Calls `body` with this thread's scratch, grown to at least `count` floats.
    static func withBuffer<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let dictionary = Thread.current.threadDictionary
        let buffer: FloatBuffer
        if let existing = dictionary[key] as? FloatBuffer {
            buffer = existing
        } else {
            buffer = FloatBuffer()
            dictionary[key] = buffer
        }
        buffer.reserve(count)
        return body(buffer.pointer)
    }
}
