import Foundation
import Numerics
import TestSupport
import Testing

/// int8 layers (issue 11, item 4): weights quantised per output row, GPT-2's [in, out] weights transposed first, each
/// input row quantised by itself so rows do not depend on their batch; quantisation itself is checked on known
/// values. Int8ProductTests checks the product's sums.
@Suite struct Int8WeightTests {
    @Test(arguments: KernelVariant.supported)
    func aConv1DWeightIsTransposedBeforeItIsQuantised(variant: KernelVariant) throws {
        let (inputs, outputs, rows) = (19, 7, 5)
        let weight = try Tensor(shape: [outputs, inputs], scalars: values(outputs * inputs, seed: 9).map { $0 * 3 })
        let layer = try Linear(int8Weight: weight)
        let conv = try Linear(int8Weight: weight.transposed(), layout: .inputsByOutputs)
        #expect(layer.isInt8 && conv.isInt8 && layer.halfFormat == nil)
        let x = values(rows * inputs, seed: 91)
        var (expected, actual) = (
            [Float](repeating: 0, count: rows * outputs), [Float](repeating: 1, count: rows * outputs)
        )
        KernelVariant.withVariant(variant) {
            layer.apply(x, rows: rows, into: &expected)
            conv.apply(x, rows: rows, into: &actual, step: true)
        }
        #expect(actual == expected)
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
