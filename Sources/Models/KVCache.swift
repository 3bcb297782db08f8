import Numerics

// The self-attention key/value cache of one decoding sequence (llama2.c's `key_cache`/`value_cache` in RunState),
// one type for every family: T5's decoder self-attention and GPT-2's attention cache the same rows the same way.

/// One sequence's cached keys and values: per layer, [length, width] each (width = heads * head_dim), grown as
/// positions are appended. A pass appends its new positions to every layer (`appendAndAttend`), then `advance`s the
/// length once. Not Sendable: it belongs to the one sequence (and thread) running it; `copy` gives a fork its own.
final class KVCache {
    /// Floats per position in each layer: heads * head_dim.
    let width: Int
    /// Positions cached in every layer.
    private(set) var length = 0
    /// Per layer: [capacity, width].
    private let keys: [FloatBuffer]
    /// Per layer: [capacity, width].
    private let values: [FloatBuffer]

    /// An empty cache of `layers` layers, `width` floats per position.
    init(layers: Int, width: Int) {
        self.width = width
        keys = (0..<layers).map { _ in FloatBuffer() }
        values = (0..<layers).map { _ in FloatBuffer() }
    }

    private init(copying other: KVCache) {
        width = other.width
        length = other.length
        keys = other.keys.map { $0.copy(count: other.length * other.width) }
        values = other.values.map { $0.copy(count: other.length * other.width) }
    }

    /// Bytes of the cached keys and values.
    var bytes: Int { (keys + values).map(\.capacity).reduce(0, +) * MemoryLayout<Float>.stride }

    /// An independent copy of the cached positions (beam search forks a sequence with it).
    func copy() -> KVCache { KVCache(copying: self) }

    /// Writes `count` new positions of `layer` after the cached ones, reading each position's key and value from the
    /// rows of `packed` [count, 3 * width] (q | k | v, the fused projection's output), then attends those rows' queries
    /// causally over the layer's `length + count` positions into `output` [count, width]. `positionBias` [heads, count,
    /// length + count] is added to the scores when given (T5); `scores` holds count * (length + count) floats.
    func appendAndAttend(
        layer: Int, packed: UnsafePointer<Float>, count: Int, heads: Int, headDim: Int, scale: Float,
        positionBias: UnsafePointer<Float>? = nil, scores: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>
    ) {
        let (start, total, stride) = (length, length + count, 3 * width)
        let (layerKeys, layerValues) = (keys[layer], values[layer])
        layerKeys.reserve(total * width, preserving: start * width)
        layerValues.reserve(total * width, preserving: start * width)
        for row in 0..<count {
            (layerKeys.pointer + (start + row) * width).update(from: packed + row * stride + width, count: width)
            (layerValues.pointer + (start + row) * width).update(from: packed + row * stride + 2 * width, count: width)
        }
        Attention.attend(
            query: packed, queryStride: stride, queryCount: count, keys: layerKeys.pointer, values: layerValues.pointer,
            keyValueStride: width, keyCount: total, heads: heads, headDim: headDim, scale: scale, causalOffset: start,
            positionBias: positionBias, scores: scores, output: output, outputStride: width)
    }

    /// Marks the `count` positions a pass appended to every layer as cached.
    func advance(by count: Int) { length += count }
}
