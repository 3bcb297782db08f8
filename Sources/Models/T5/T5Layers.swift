import Foundation
import Numerics

// Building blocks of T5, mirroring transformers/models/t5/modeling_t5.py (T5LayerNorm, T5DenseActDense,
// T5DenseGatedActDense, T5Attention._relative_position_bucket / compute_bias).

/// T5's relative position bias: an embedding [buckets, heads] indexed by the bucket of (key - query) distance.
struct T5RelativePositionBias: Sendable {
    /// `*.block.0.layer.0.SelfAttention.relative_attention_bias.weight` [buckets, heads]
    let table: Tensor
    let bidirectional: Bool
    let buckets: Int
    let maxDistance: Int
    let heads: Int

    /// `_relative_position_bucket`, with the logarithmic part computed in float32 as PyTorch does.
    func bucket(_ relativePosition: Int) -> Int {
        var result = 0
        var numBuckets = buckets
        var distance: Int
        if bidirectional {
            numBuckets /= 2
            if relativePosition > 0 { result += numBuckets }
            distance = abs(relativePosition)
        } else {
            distance = -min(relativePosition, 0)
        }
        let maxExact = numBuckets / 2
        if distance < maxExact { return result + distance }
        let logRatio = Float(log(Double(maxDistance) / Double(maxExact)))
        let scaled = logf(Float(distance) / Float(maxExact)) / logRatio * Float(numBuckets - maxExact)
        // Clamped before the conversion so that no config can make it trap; the result is capped below anyway.
        let large = maxExact + Int(min(max(scaled, 0), Float(numBuckets)))
        return result + min(large, numBuckets - 1)
    }

    /// Writes the bias [heads, queryCount, keyCount] for queries at positions queryOffset ..< queryOffset + queryCount.
    func fill(_ output: UnsafeMutablePointer<Float>, queryCount: Int, keyCount: Int, queryOffset: Int) {
        table.withUnsafeBufferPointer { table in
            for i in 0..<queryCount {
                for j in 0..<keyCount {
                    let row = bucket(j - (queryOffset + i)) * heads
                    for head in 0..<heads { output[(head * queryCount + i) * keyCount + j] = table[row + head] }
                }
            }
        }
    }
}

extension T5RelativePositionBias {
    /// Loads `{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight` [buckets, heads], which every
    /// block of the `encoder` (bidirectional) or `decoder` (causal) stack shares.
    init(_ loader: WeightLoader, stack: String, bidirectional: Bool, configuration c: T5Configuration) throws {
        self.init(
            table: try loader.tensor(
                "\(stack).block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                shape: [c.relativeAttentionBuckets, c.heads]),
            bidirectional: bidirectional, buckets: c.relativeAttentionBuckets,
            maxDistance: c.relativeAttentionMaxDistance, heads: c.heads)
    }
}

/// `T5LayerFF`: RMSNorm, then wi -> act -> wo (or act(wi_0) * wi_1 -> wo when gated), added to the residual.
struct T5FeedForward: Sendable {
    /// `layer.N.layer_norm.weight` [d_model]
    let norm: Tensor
    /// `DenseReluDense.wi` [d_ff, d_model], or `wi_0` when gated
    let input: Linear
    /// `DenseReluDense.wi_1` [d_ff, d_model] when gated
    let gateLinear: Linear?
    /// `DenseReluDense.wo` [d_model, d_ff]
    let output: Linear
    let activation: Activation
    let epsilon: Float

    /// `steps`: the decoder's block, whose weights may stay 16-bit (`WeightLoader.linear`).
    init(_ loader: WeightLoader, prefix: String, configuration c: T5Configuration, steps: Bool = false) throws {
        norm = try loader.tensor(prefix + ".layer_norm.weight", shape: [c.modelDimension])
        let dense = prefix + ".DenseReluDense"
        let (d, ff) = (c.modelDimension, c.feedForwardDimension)
        if c.isGatedActivation {
            input = try loader.linear(dense + ".wi_0", inputs: d, outputs: ff, steps: steps)
            gateLinear = try loader.linear(dense + ".wi_1", inputs: d, outputs: ff, steps: steps)
        } else {
            input = try loader.linear(dense + ".wi", inputs: d, outputs: ff, steps: steps)
            gateLinear = nil
        }
        output = try loader.linear(dense + ".wo", inputs: ff, outputs: d, steps: steps)
        activation = c.activation
        epsilon = c.layerNormEpsilon
    }

    /// hidden[rows, d] += FF(RMSNorm(hidden)); `scratch` holds the normed rows and two [rows, d_ff] buffers.
    func apply(_ hidden: UnsafeMutablePointer<Float>, rows: Int, scratch: T5Scratch, step: Bool = false) {
        let inner = input.outputCount
        norm.rmsNorm(hidden, rows: rows, epsilon: epsilon, into: scratch.normed.pointer)
        input.apply(scratch.normed.pointer, rows: rows, into: scratch.inner.pointer, step: step)
        if let gateLinear {
            gateLinear.apply(scratch.normed.pointer, rows: rows, into: scratch.gate.pointer, step: step)
            activation.applyGated(scratch.inner.pointer, times: scratch.gate.pointer, count: rows * inner)
        } else {
            activation.apply(scratch.inner.pointer, count: rows * inner)
        }
        output.apply(scratch.inner.pointer, rows: rows, into: hidden, accumulate: true, step: step)
    }
}

/// T5's attention sublayer (`T5LayerSelfAttention`, `T5LayerCrossAttention`) with its weights: hidden [rows,
/// d_model] += output(attention(input(RMSNorm(hidden)))), the attention run per segment of consecutive rows (one
/// prompt, or one decoding sequence) by the caller.
struct T5AttentionSublayer {
    /// `layer.N.layer_norm.weight` [d_model]
    let norm: Tensor
    /// The fused q|k|v [3 * inner, d_model] (self-attention) or q [inner, d_model] (cross-attention)
    let input: Linear
    /// `o` [d_model, inner]
    let output: Linear
    let epsilon: Float

    /// Runs the sublayer over `hidden` in `scratch`; `attend(segment, projected, attention)` attends the rows of
    /// segment `segment` (`segmentRows[segment]` of them), reading their projections at `projected` (row stride
    /// `input.outputCount`) and writing [rows, inner] at `attention`.
    func apply(
        _ hidden: UnsafeMutablePointer<Float>, segmentRows: [Int], scratch: T5Scratch, step: Bool = false,
        attend: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) {
        let rows = segmentRows.reduce(0, +)
        norm.rmsNorm(hidden, rows: rows, epsilon: epsilon, into: scratch.normed.pointer)
        input.apply(scratch.normed.pointer, rows: rows, into: scratch.projected.pointer, step: step)
        var firstRow = 0
        for (segment, count) in segmentRows.enumerated() {
            attend(
                segment, scratch.projected.pointer + firstRow * input.outputCount,
                scratch.attention.pointer + firstRow * output.inputCount)
            firstRow += count
        }
        output.apply(scratch.attention.pointer, rows: rows, into: hidden, accumulate: true, step: step)
    }
}

/// Activation buffers for a pass over `rows` positions attending to at most `keys` positions, grown on demand so
/// that single-token steps reuse them without allocating.
final class T5Scratch {
    let normed = FloatBuffer()  // [rows, d_model]
    let projected = FloatBuffer()  // [rows, 3 * inner] (packed q, k, v) or [rows, inner] (cross q)
    let attention = FloatBuffer()  // [rows, inner]
    let inner = FloatBuffer()  // [rows, d_ff]
    let gate = FloatBuffer()  // [rows, d_ff]
    let scores = FloatBuffer()  // [rows, keys]
    let bias = FloatBuffer()  // [heads, rows, keys]

    func reserve(rows: Int, keys: Int, configuration c: T5Configuration) {
        normed.reserve(rows * c.modelDimension)
        projected.reserve(rows * 3 * c.innerDimension)
        attention.reserve(rows * c.innerDimension)
        inner.reserve(rows * c.feedForwardDimension)
        gate.reserve(rows * c.feedForwardDimension)
        scores.reserve(rows * keys)
        bias.reserve(c.heads * rows * keys)
    }
}

extension Tensor {
    /// Runs `body` with the base address of the scalars.
    @inline(__always)
    func withBase<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// `T5LayerNorm` with this tensor as its weight [width]: RMSNorm of `rows` rows of `x` [rows, width] into `output`.
    func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, epsilon: Float, into output: UnsafeMutablePointer<Float>) {
        withBase { Kernels.rmsNorm(x, weight: $0, epsilon: epsilon, rows: rows, width: count, into: output) }
    }
}

extension Optional where Wrapped == [Bool] {
    /// Runs `body` with the base address of the key mask, or nil when there is none (`Attention.attend`'s `keyMask`).
    func withBase<R>(_ body: (UnsafePointer<Bool>?) throws -> R) rethrows -> R {
        guard let mask = self else { return try body(nil) }
        return try mask.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}
