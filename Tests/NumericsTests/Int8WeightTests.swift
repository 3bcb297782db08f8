import Foundation
import Numerics
import TestSupport
import Testing

/// int8 weights with per-row scales (issue 11, item 4): the kernel sums the integers in the float32 kernel's fixed
/// order and multiplies by the scale once, so each value equals, bit for bit, the float32 kernel over the integers
/// times the scale, under every kernel variant; quantisation itself is checked on known values.
@Suite struct Int8WeightTests {
    /// `int8` applied to x, against the float32 row-wise product over its integers as floats, times each scale.
    func expectScaledIntegerSums(_ int8: Linear, _ matrix: Int8Matrix, rows: Int, variant: KernelVariant) throws {
        let (inputs, outputs) = (matrix.shape[1], matrix.shape[0])
        let integers = Linear(weight: try Tensor(shape: matrix.shape, scalars: matrix.values.map { Float($0) }))
        let x = values(rows * inputs, seed: 91)
        let start = values(rows * outputs, seed: 92)
        for step in [true, false] {
            for accumulate in [false, true] {
                var actual = start
                var sums = [Float](repeating: .nan, count: rows * outputs)
                KernelVariant.withVariant(variant) {
                    int8.apply(x, rows: rows, into: &actual, accumulate: accumulate, step: step)
                    integers.apply(x, rows: rows, into: &sums, step: true)
                }
                let expected = sums.indices.map { index in
                    let scaled = sums[index] * matrix.scales[index % outputs]
                    return accumulate ? start[index] + scaled : scaled
                }
                #expect(actual == expected, "\(inputs)x\(outputs) rows \(rows) step \(step) accumulate \(accumulate)")
            }
        }
    }

    @Test(arguments: KernelVariant.supported)
    func int8ProductsAreScaledIntegerSums(variant: KernelVariant) throws {
        for (inputs, outputs, rows) in [(1, 3, 1), (19, 7, 5), (64, 40, 8), (300, 29, 3), (48, 13, 70)] {
            let weight = try Tensor(
                shape: [outputs, inputs], scalars: values(outputs * inputs, seed: 9).map { $0 * 3 })
            let layer = try Linear(int8Weight: weight)
            #expect(layer.isInt8 && layer.halfFormat == nil)
            try expectScaledIntegerSums(layer, try Int8Matrix(quantizing: weight), rows: rows, variant: variant)
            // A GPT-2 Conv1D weight [in, out] is transposed before it is quantised row by row.
            let conv = try Linear(int8Weight: weight.transposed(), layout: .inputsByOutputs)
            try expectScaledIntegerSums(conv, try Int8Matrix(quantizing: weight), rows: rows, variant: variant)
        }
    }

    @Test(arguments: KernelVariant.supported)
    func int8RowsDoNotDependOnTheirBatch(variant: KernelVariant) throws {
        let (inputs, outputs) = (77, 50)
        let layer = try Linear(
            int8Weight: try Tensor(shape: [outputs, inputs], scalars: values(outputs * inputs, seed: 3)),
            bias: try Tensor(shape: [outputs], scalars: values(outputs, seed: 4)))
        let x = values(9 * inputs, seed: 5)
        var batched = [Float](repeating: 0, count: 9 * outputs)
        KernelVariant.withVariant(variant) { layer.apply(x, rows: 9, into: &batched) }
        for row in 0..<9 {
            var alone = [Float](repeating: 0, count: outputs)
            KernelVariant.withVariant(variant) {
                layer.apply(Array(x[(row * inputs)..<((row + 1) * inputs)]), rows: 1, into: &alone, step: true)
            }
            #expect(alone == Array(batched[(row * outputs)..<((row + 1) * outputs)]), "row \(row)")
        }
    }

    @Test func quantisationUsesOneSymmetricScalePerRow() throws {
        let weight = try Tensor(shape: [3, 4], scalars: [0.5, -1.27, 0, 0.004, 0, 0, 0, 0, 127, 127, -127, 63.5])
        let matrix = try Int8Matrix(quantizing: weight)
        #expect(matrix.scales[0] == Float(1.27) / 127)
        #expect(matrix.values[0..<4] == [50, -127, 0, 0])
        // An all-zero row gets scale 0 and zeros, never a division by zero.
        #expect(matrix.scales[1] == 0 && matrix.values[4..<8].allSatisfy { $0 == 0 })
        #expect(matrix.scales[2] == 1 && matrix.values[8..<12] == [127, 127, -127, 64])  // 63.5: ties to even
        // Dequantised, every weight is within half a step of its row's scale.
        for (index, (value, original)) in zip(matrix.dequantized().scalars, weight.scalars).enumerated() {
            #expect(abs(value - original) <= matrix.scales[index / 4] * 0.5001, "weight \(index)")
        }
        #expect(throws: NumericsError.nonFinite(row: 1, column: 2)) {
            try Int8Matrix(quantizing: try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, .infinity]))
        }
        #expect(throws: NumericsError.shapeMismatch(shape: [2], expectedCount: 2, actualCount: 1)) {
            try Int8Matrix(shape: [2, 1], values: [1, 2], scales: [1])
        }
    }
}
