import CKernels
import Foundation
import Numerics
import TestSupport
import Testing

/// The int8 product (issue 11, item 4): rows quantised per call, exact int32 sums, one float epilogue. So
/// every variant (AVX-512 VNNI, AVX2 or portable), batch and shape gives exactly the value computed here in plain Swift
/// from the same levels.
@Suite struct Int8ProductTests {
    /// The rows' levels and scales as `l2s_int8_quantize_rows` makes them (level = byte - 128), the same in every
    /// variant.
    func quantizedRows(_ x: [Float], rows: Int, inputs: Int) -> (levels: [[Int]], scales: [Float]) {
        let padded = l2s_int8_padded_inputs(inputs)
        var bytes = [UInt8](repeating: 0, count: rows * padded)
        var scales = [Float](repeating: 0, count: rows)
        l2s_int8_quantize_rows(KernelVariant.baseline.code, x, rows, inputs, &bytes, &scales)
        for variant in KernelVariant.supported {
            var other = [UInt8](repeating: 0, count: rows * padded)
            var otherScales = [Float](repeating: 0, count: rows)
            l2s_int8_quantize_rows(variant.code, x, rows, inputs, &other, &otherScales)
            #expect(other == bytes && otherScales == scales, "\(variant.rawValue)")
        }
        #expect(bytes.enumerated().allSatisfy { $0.offset % padded < inputs || $0.element == 128 }, "padding")
        let levels = (0..<rows).map { row in (0..<inputs).map { Int(bytes[row * padded + $0]) - 128 } }
        return (levels, scales)
    }

    @Test(arguments: KernelVariant.supported)
    func int8ProductsEqualExactIntegerSumsScaledOnce(variant: KernelVariant) throws {
        for (inputs, outputs, rows) in [(1, 1, 1), (7, 17, 3), (64, 48, 8), (130, 50, 9), (33, 100, 17)] {
            let weight = try Tensor(shape: [outputs, inputs], scalars: values(outputs * inputs, seed: 21))
            let bias = try Tensor(shape: [outputs], scalars: values(outputs, seed: 22))
            let layer = try Linear(int8Weight: weight, bias: bias)
            #expect(layer.isInt8)
            let matrix = try Int8Matrix(quantizing: weight)
            let x = values(rows * inputs, seed: 23).map { $0 * 4 }
            let (levels, rowScales) = quantizedRows(x, rows: rows, inputs: inputs)
            let start = values(rows * outputs, seed: 24)
            for accumulate in [false, true] {
                var actual = start
                KernelVariant.withVariant(variant) { layer.apply(x, rows: rows, into: &actual, accumulate: accumulate) }
                var expected = start
                for row in 0..<rows {
                    for output in 0..<outputs {
                        var sum = 0
                        for input in 0..<inputs {
                            sum += levels[row][input] * Int(matrix.values[output * inputs + input])
                        }
                        let value = (Float(sum) * rowScales[row]) * matrix.scales[output]
                        let index = row * outputs + output
                        expected[index] = (accumulate ? expected[index] + value : value) + bias.scalars[output]
                    }
                }
                #expect(actual == expected, "\(inputs)x\(outputs) rows \(rows) accumulate \(accumulate)")
            }
        }
    }

    /// Every level at +-127 on both sides: each pair of products is 2 x 127 x 127, the most an int16 pair sum (the
    /// AVX2 kernel's `vpmaddubsw`) ever holds, and the sums must still be exact.
    @Test(arguments: KernelVariant.supported)
    func extremeLevelsSumExactly(variant: KernelVariant) throws {
        let (inputs, outputs, rows) = (68, 20, 5)
        let sign: (Int) -> Float = { $0 % 3 == 0 ? -1 : 1 }
        let weight = try Tensor(shape: [outputs, inputs], scalars: (0..<outputs * inputs).map { sign($0 / 7) * 0.5 })
        let layer = try Linear(int8Weight: weight)
        let x = (0..<rows * inputs).map { sign($0 / 5) * 2 }
        var actual = [Float](repeating: 0, count: rows * outputs)
        KernelVariant.withVariant(variant) { layer.apply(x, rows: rows, into: &actual, accumulate: false) }
        var expected = [Float](repeating: 0, count: rows * outputs)
        for row in 0..<rows {
            for output in 0..<outputs {
                var sum = 0
                for input in 0..<inputs {
                    sum += Int(sign((row * inputs + input) / 5)) * Int(sign((output * inputs + input) / 7)) * 127 * 127
                }
                expected[row * outputs + output] = (Float(sum) * (Float(2) / 127)) * (Float(0.5) / 127)
            }
        }
        #expect(actual == expected)
    }

    @Test func rowsQuantiseToNearestEvenLevelsWithTheirOwnScale() {
        let (levels, scales) = quantizedRows(
            [0.5, -1, 0.25, .nan, 0, 0, 0, 0, 2e30, -3, 1e-30, 0.4], rows: 3, inputs: 4)
        #expect(levels[0] == [64, -127, 32, 0])  // 63.5 ties to even 64, 31.75 rounds to 32, NaN is level 0
        #expect(scales[0] == Float(1) / 127)
        #expect(levels[1] == [0, 0, 0, 0] && scales[1] == 0)
        #expect(levels[2] == [127, 0, 0, 0] && scales[2] == Float(2e30) / 127)
        // Rows long enough for the 16-wide path, with NaN, -0, ties and an infinite row: the same in every variant
        // (checked inside `quantizedRows`), NaN at level 0, an infinite row all 0.
        var long = (0..<80).map { Float($0 % 17) - 8.5 }
        long[5] = .nan
        long[20] = -0.0
        long[70] = .infinity
        let (wide, wideScales) = quantizedRows(long, rows: 2, inputs: 40)
        #expect(wide[0][5] == 0 && wide[0][20] == 0 && wide[0][1] == -112)  // -7.5 * 127 / 8.5 = -112.06
        #expect(wide[1].allSatisfy { $0 == 0 } && wideScales[1] == .infinity)
    }

    @Test func eachVariantRunsTheInt8KernelItsInstructionsAllow() {
        #expect(PackedInt8Matrix.kernelName(for: .baseline) == "portable")
        if KernelVariant.supported.contains(.avx2) { #expect(PackedInt8Matrix.kernelName(for: .avx2) == "avx2") }
        // VNNI needs AVX-512; an AVX-512 CPU without it runs the AVX2 kernel.
        if KernelVariant.supported.contains(.avx512) {
            #expect(["vnni", "avx2"].contains(PackedInt8Matrix.kernelName(for: .avx512)))
        }
    }
}
