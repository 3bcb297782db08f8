import Foundation

/// The feed-forward activations of the supported families, named as transformers' `ACT2FN` names them.
public enum Activation: String, Sendable, Codable, CaseIterable {
    /// max(0, x).
    case relu
    /// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
    case gelu
    /// The tanh approximation ("gelu_new", GPT-2 and T5 v1.1's gated-gelu).
    case geluNew = "gelu_new"
    /// The same tanh approximation under PyTorch's name.
    case geluPyTorchTanh = "gelu_pytorch_tanh"
    /// x * sigmoid(x).
    case silu

    /// Applies the activation to `count` values in place.
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .relu:
            for index in 0..<count { x[index] = max(x[index], 0) }
        case .gelu:
            let inverseRoot2: Float = 0.70710678118654752
            for index in 0..<count {
                let v = x[index]
                x[index] = 0.5 * v * (1 + erff(v * inverseRoot2))
            }
        case .geluNew, .geluPyTorchTanh:
            let root2OverPi: Float = 0.79788456080286536
            let raw = UnsafeMutableRawPointer(x)
            var start = 0
            while start + 8 <= count {
                let v = raw.loadUnaligned(fromByteOffset: start * 4, as: SIMD8<Float>.self)
                let inner = root2OverPi * (v + 0.044715 * v * v * v)
                raw.storeBytes(
                    of: 0.5 * v * (1 + VectorMath.tanh(inner)), toByteOffset: start * 4, as: SIMD8<Float>.self)
                start += 8
            }
            for index in start..<count {
                let v = x[index]
                x[index] = 0.5 * v * (1 + tanhf(root2OverPi * (v + 0.044715 * v * v * v)))
            }
        case .silu:
            for index in 0..<count {
                let v = x[index]
                x[index] = v / (1 + expf(-v))
            }
        }
    }

    /// Gated activation (T5 v1.1 `T5DenseGatedActDense`): gate[i] = act(gate[i]) * linear[i], written into `gate`.
    public func applyGated(_ gate: UnsafeMutablePointer<Float>, times linear: UnsafePointer<Float>, count: Int) {
        apply(gate, count: count)
        for index in 0..<count { gate[index] *= linear[index] }
    }
}
