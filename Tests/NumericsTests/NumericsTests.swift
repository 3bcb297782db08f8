import Foundation
import Numerics
import TestSupport
import Testing

/// Deterministic pseudo-random floats in [-1, 1) for kernel checks.
func values(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

/// Naive C = op(A) op(B) for checking the BLAS calls.
private func naiveProduct(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeB: Bool) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var sum: Float = 0
            for p in 0..<k { sum += a[i * k + p] * (transposeB ? b[j * k + p] : b[p * n + j]) }
            c[i * n + j] = sum
        }
    }
    return c
}

@Suite struct NumericsTests {
    @Test func tensorRejectsWrongScalarCount() {
        #expect(throws: NumericsError.shapeMismatch(shape: [2, 3], expectedCount: 6, actualCount: 5)) {
            try Tensor(shape: [2, 3], scalars: [Float](repeating: 0, count: 5))
        }
    }

    @Test(arguments: [1, 5]) func linearMatchesNaiveProductInBothLayouts(rows: Int) throws {
        let (inputs, outputs) = (7, 9)
        let x = values(rows * inputs, seed: 1)
        let w = values(outputs * inputs, seed: 2)
        let bias = values(outputs, seed: 3)
        let torchLayout = Linear(
            weight: try Tensor(shape: [outputs, inputs], scalars: w), bias: try Tensor(shape: [outputs], scalars: bias))
        var expected = naiveProduct(x, w, m: rows, n: outputs, k: inputs, transposeB: true)
        for r in 0..<rows { for o in 0..<outputs { expected[r * outputs + o] += bias[o] } }
        var y = [Float](repeating: 0, count: rows * outputs)
        torchLayout.apply(x, rows: rows, into: &y)
        #expect(Tolerance.maxAbsDifference(y, expected) < 1e-5)

        // The same matrix stored transposed ([in, out], GPT-2 Conv1D) must give the same product.
        var transposed = [Float](repeating: 0, count: w.count)
        for o in 0..<outputs { for i in 0..<inputs { transposed[i * outputs + o] = w[o * inputs + i] } }
        let conv = Linear(
            weight: try Tensor(shape: [inputs, outputs], scalars: transposed),
            bias: try Tensor(shape: [outputs], scalars: bias), layout: .inputsByOutputs)
        var z = [Float](repeating: 0, count: rows * outputs)
        conv.apply(x, rows: rows, into: &z)
        #expect(Tolerance.maxAbsDifference(z, expected) < 1e-5)
    }

    /// A prompt pass's products run as fixed column tiles shared by the kernel threads, so `--threads` never changes
    /// a bit (OpenBLAS's own threading did, on Zen); each tile is the product's columns, accumulated onto C or not.
    @Test(arguments: [false, true]) func tiledProductsDoNotDependOnTheThreadCount(transposeB: Bool) {
        let (m, n, k) = (33, 2 * MatrixProduct.columnTile + 44, 70)
        let a = values(m * k, seed: 11)
        let b = values(k * n, seed: 12)
        let start = values(m * n, seed: 13)
        var expected = naiveProduct(a, b, m: m, n: n, k: k, transposeB: transposeB)
        for index in expected.indices { expected[index] += start[index] }
        let results = [1, 2, 3].map { threads in
            var c = start
            MatrixProduct.tiledGemm(
                transposeB: transposeB, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: transposeB ? k : n, beta: 1,
                c: &c, ldc: n, threads: threads)
            return c
        }
        #expect(Tolerance.maxAbsDifference(results[0], expected) < 1e-4)
        #expect(results[1] == results[0])
        #expect(results[2] == results[0])
    }
    @Test func softmaxSumsToOneAndMasksNegativeInfinity() {
        var x: [Float] = [1, 2, -.infinity, 3]
        Kernels.softmax(&x, count: 4)
        #expect(x[2] == 0)
        #expect(abs(x.reduce(0, +) - 1) < 1e-6)
        #expect(abs(x[3] - 0.66524096) < 1e-6)
        var masked: [Float] = [-.infinity, -.infinity]
        Kernels.softmax(&masked, count: 2)
        #expect(masked == [0, 0])
    }

    @Test func rmsNormAndLayerNormMatchTheirDefinitions() {
        let x: [Float] = [1, -2, 3, 0.5, 2, -1, 4, 1, 0, 3]
        let weight: [Float] = (0..<10).map { 0.5 + Float($0) * 0.1 }
        let bias: [Float] = (0..<10).map { Float($0) * 0.01 }
        var y = [Float](repeating: 0, count: 10)
        Kernels.rmsNorm(x, weight: weight, epsilon: 1e-6, rows: 1, width: 10, into: &y)
        let rms = (x.map { $0 * $0 }.reduce(0, +) / 10 + 1e-6).squareRoot()
        #expect(Tolerance.maxAbsDifference(y, zip(x, weight).map { $0 / rms * $1 }) < 1e-6)
        Kernels.layerNorm(x, weight: weight, bias: bias, epsilon: 1e-5, rows: 1, width: 10, into: &y)
        let mean = x.reduce(0, +) / 10
        let std = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10 + 1e-5).squareRoot()
        let expected = (0..<10).map { (x[$0] - mean) / std * weight[$0] + bias[$0] }
        #expect(Tolerance.maxAbsDifference(y, expected) < 1e-6)
    }

    @Test func activationsMatchReferenceValues() {
        // Values from torch.nn.functional.gelu (exact and approximate="tanh") and relu.
        var exact: [Float] = [-1, 0.5, 2]
        Activation.gelu.apply(&exact, count: 3)
        #expect(Tolerance.maxAbsDifference(exact, [-0.15865526, 0.34573123, 1.9544997]) < 1e-6)
        var tanh: [Float] = [-1, 0.5, 2]
        Activation.geluNew.apply(&tanh, count: 3)
        #expect(Tolerance.maxAbsDifference(tanh, [-0.15880801, 0.34571401, 1.9545977]) < 1e-6)
        var gate: [Float] = [-1, 2]
        Activation.relu.applyGated(&gate, times: [3, 4], count: 2)
        #expect(gate == [0, 8])
    }

    @Test func vectorisedPathsMatchScalarFormulas() {
        // 8-lane loops plus a scalar tail: 37 values over a wide range, including extremes.
        let inputs: [Float] = (0..<37).map { Float($0 - 18) * 0.7 } + [-100, 100, -.infinity]
        var gelu = inputs
        Activation.geluNew.apply(&gelu, count: gelu.count)
        for (x, y) in zip(inputs, gelu) where x.isFinite {
            let expected = Float(
                0.5 * Double(x) * (1 + Foundation.tanh(0.7978845608 * (Double(x) + 0.044715 * pow(Double(x), 3)))))
            #expect(abs(y - expected) <= 1e-5 * max(1, abs(expected)), "gelu_new(\(x))")
        }
        var probabilities = inputs.map { $0 / 4 }
        Kernels.softmax(&probabilities, count: probabilities.count)
        let scaled = inputs.map { Double($0) / 4 }
        let top = scaled.max()!
        let total = scaled.map { Foundation.exp($0 - top) }.reduce(0, +)
        for (index, p) in probabilities.enumerated() {
            #expect(abs(Double(p) - Foundation.exp(scaled[index] - top) / total) <= 1e-7, "softmax[\(index)]")
        }
    }

    @Test func halfPrecisionConversionsAreExact() {
        #expect(HalfPrecision.float(fromFloat16Bits: 0x3C00) == 1)
        #expect(HalfPrecision.float(fromFloat16Bits: 0xC000) == -2)
        #expect(HalfPrecision.float(fromFloat16Bits: 0x0001) == Float(bitPattern: 0x3380_0000))
        #expect(HalfPrecision.float(fromBFloat16Bits: 0x3F80) == 1)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0xC0A0) == -5)
        #expect(HalfPrecision.bfloat16Bits(from: 1.00390625) == 0x3F80)
        #expect(HalfPrecision.float16Bits(from: 0.5) == 0x3800)
        let bytes: [UInt8] = [0x00, 0x3C, 0x00, 0xC0]
        #expect(bytes.withUnsafeBytes { HalfPrecision.floats(fromFloat16: $0) } == [1, -2])
    }

    @Test func embeddingRejectsOutOfRangeIds() throws {
        let table: [Float] = [0, 1, 2, 3, 4, 5]
        var out = [Float](repeating: 0, count: 4)
        try Kernels.embedding(table, rows: 3, width: 2, ids: [2, 0], into: &out)
        #expect(out == [4, 5, 0, 1])
        #expect(throws: NumericsError.indexOutOfRange(index: 3, rows: 3)) {
            try Kernels.embedding(table, rows: 3, width: 2, ids: [3], into: &out)
        }
    }

    @Test(arguments: [1, 4]) func attentionMatchesNaiveComputation(queryCount: Int) {
        let (heads, headDim, keyCount) = (3, 2, 5)
        let stride = heads * headDim
        let q = values(queryCount * stride, seed: 4)
        let k = values(keyCount * stride, seed: 5)
        let v = values(keyCount * stride, seed: 6)
        let bias = values(heads * queryCount * keyCount, seed: 7)
        let mask = [true, true, false, true, true]
        let offset = keyCount - queryCount
        var scores = [Float](repeating: 0, count: queryCount * keyCount)
        var output = [Float](repeating: 0, count: queryCount * stride)
        Attention.attend(
            query: q, queryStride: stride, queryCount: queryCount, keys: k, values: v, keyValueStride: stride,
            keyCount: keyCount, heads: heads, headDim: headDim, scale: 0.7, causalOffset: offset, keyMask: mask,
            positionBias: bias, scores: &scores, output: &output, outputStride: stride)
        var expected = [Float](repeating: 0, count: queryCount * stride)
        for h in 0..<heads {
            for i in 0..<queryCount {
                var row = (0..<keyCount).map { j -> Float in
                    guard mask[j], j <= offset + i else { return -.infinity }
                    var dot: Float = 0
                    for d in 0..<headDim { dot += q[i * stride + h * headDim + d] * k[j * stride + h * headDim + d] }
                    return 0.7 * dot + bias[(h * queryCount + i) * keyCount + j]
                }
                let top = row.max()!
                row = row.map { $0 == -.infinity ? 0 : expf($0 - top) }
                let total = row.reduce(0, +)
                for d in 0..<headDim {
                    expected[i * stride + h * headDim + d] =
                        (0..<keyCount).map { row[$0] / total * v[$0 * stride + h * headDim + d] }.reduce(0, +)
                }
            }
        }
        #expect(Tolerance.maxAbsDifference(output, expected) < 1e-5)
        // The heads shared by 2 or 3 threads (each with its own scores) give the very same bits.
        for workers in [2, 3] {
            var shared = [Float](repeating: 0, count: queryCount * stride)
            Attention.attend(
                query: q, queryStride: stride, queryCount: queryCount, keys: k, values: v, keyValueStride: stride,
                keyCount: keyCount, heads: heads, headDim: headDim, scale: 0.7, causalOffset: offset, keyMask: mask,
                positionBias: bias, scores: &scores, output: &shared, outputStride: stride, headWorkers: workers)
            #expect(shared == output, "\(workers) head workers")
        }
    }
}
