import Foundation

/// Element-wise and row-wise kernels. Every kernel writes into memory the caller owns (usually a buffer of a
/// model's run state allocated once), so the hot path allocates nothing. Inner loops use 8-wide SIMD.
public enum Kernels {
    typealias Vector = SIMD8<Float>

    /// y[i] += x[i].
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var index = 0
        let rawX = UnsafeRawPointer(x)
        let rawY = UnsafeMutableRawPointer(y)
        while index + 8 <= count {
            let sum =
                rawX.loadUnaligned(fromByteOffset: index * 4, as: Vector.self)
                + rawY.loadUnaligned(fromByteOffset: index * 4, as: Vector.self)
            rawY.storeBytes(of: sum, toByteOffset: index * 4, as: Vector.self)
            index += 8
        }
        while index < count {
            y[index] += x[index]
            index += 1
        }
    }

    /// y[i] *= factor.
    public static func scale(_ y: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        for index in 0..<count { y[index] *= factor }
    }

    /// The sum of squares of x, accumulated in float32 lanes.
    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = Vector()
        var index = 0
        let raw = UnsafeRawPointer(x)
        while index + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: index * 4, as: Vector.self)
            lanes += v * v
            index += 8
        }
        var total = lanes.sum()
        while index < count {
            total += x[index] * x[index]
            index += 1
        }
        return total
    }

    /// T5's RMSNorm (transformers `T5LayerNorm`): y = weight * x / sqrt(mean(x^2) + eps), no mean subtraction,
    /// no bias, variance in float32. Applies to each of `rows` rows of `width` values.
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float, rows: Int, width: Int,
        into y: UnsafeMutablePointer<Float>
    ) {
        for row in 0..<rows {
            let input = x + row * width
            let output = y + row * width
            let variance = sumOfSquares(input, count: width) / Float(width)
            let inverse = 1 / (variance + epsilon).squareRoot()
            for index in 0..<width { output[index] = weight[index] * (input[index] * inverse) }
        }
    }

    /// LayerNorm (PyTorch `nn.LayerNorm`): y = (x - mean) / sqrt(var + eps) * weight + bias, biased variance.
    public static func layerNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float,
        rows: Int, width: Int, into y: UnsafeMutablePointer<Float>
    ) {
        for row in 0..<rows {
            let input = x + row * width
            let output = y + row * width
            var sum: Float = 0
            for index in 0..<width { sum += input[index] }
            let mean = sum / Float(width)
            var squares: Float = 0
            for index in 0..<width {
                let centered = input[index] - mean
                squares += centered * centered
            }
            let inverse = 1 / (squares / Float(width) + epsilon).squareRoot()
            for index in 0..<width { output[index] = (input[index] - mean) * inverse * weight[index] + bias[index] }
        }
    }

    /// In-place softmax over `count` values; entries equal to -infinity become 0. A row that is entirely
    /// -infinity (every key masked) becomes all zeros rather than NaN.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for index in 0..<count { maximum = max(maximum, x[index]) }
        guard maximum > -Float.infinity else {
            x.update(repeating: 0, count: count)
            return
        }
        let raw = UnsafeMutableRawPointer(x)
        var lanes = Vector()
        var index = 0
        while index + 8 <= count {
            let value = VectorMath.exp(raw.loadUnaligned(fromByteOffset: index * 4, as: Vector.self) - maximum)
            raw.storeBytes(of: value, toByteOffset: index * 4, as: Vector.self)
            lanes += value
            index += 8
        }
        var sum = lanes.sum()
        while index < count {
            let value = expf(x[index] - maximum)
            x[index] = value
            sum += value
            index += 1
        }
        let inverse = 1 / sum
        for index in 0..<count { x[index] *= inverse }
    }

    /// Copies rows `ids` of `table` [rows, width] into `output` [ids.count, width]; throws on an id outside the table.
    public static func embedding(
        _ table: UnsafePointer<Float>, rows: Int, width: Int, ids: [Int32], into output: UnsafeMutablePointer<Float>
    ) throws {
        for (position, id) in ids.enumerated() {
            guard id >= 0, Int(id) < rows else { throw NumericsError.indexOutOfRange(index: id, rows: rows) }
            (output + position * width).update(from: table + Int(id) * width, count: width)
        }
    }
}
