import Foundation
import Numerics
import TestSupport
import Testing

/// 16-bit weights widened in registers give exactly the bits of the same layer over float32 weights widened at load
/// (issue 11, item 3), under every kernel variant this CPU runs, on the step path and the BLAS path.
@Suite struct HalfWeightTests {
    static let formats: [HalfMatrix.Format] = [.float16, .bfloat16]

    /// `count` bit patterns of `format` for values in [-1, 1) with some subnormals, zeros of both signs and large
    /// magnitudes mixed in.
    static func bits(_ count: Int, format: HalfMatrix.Format, seed: UInt64) -> [UInt16] {
        values(count, seed: seed).enumerated().map { index, value in
            let scaled: Float =
                switch index % 11 {
                case 3: value * 1e-6  // float16 subnormals
                case 5: index % 2 == 0 ? 0 : -0.0
                case 7: value * 300
                default: value
                }
            return format == .float16
                ? HalfPrecision.float16Bits(from: scaled) : HalfPrecision.bfloat16Bits(from: scaled)
        }
    }

    /// Every finite bit pattern of `format`, non-finite ones replaced by zero.
    static func allFiniteBits(format: HalfMatrix.Format) -> [UInt16] {
        (0...UInt16.max).map { bits in
            let value =
                format == .float16
                ? HalfPrecision.float(fromFloat16Bits: bits) : HalfPrecision.float(fromBFloat16Bits: bits)
            return value.isFinite ? bits : 0
        }
    }

    /// Step rows and BLAS rows of `half` and of the layer over its widened weight, compared with `==`.
    func expectIdentical(
        _ matrix: HalfMatrix, layout: Linear.Layout, rows: Int, variant: KernelVariant, _ comment: Comment
    ) throws {
        let half = Linear(halfWeight: matrix, layout: layout)
        let widened = Linear(weight: matrix.widened(), layout: layout)
        #expect(half.halfFormat == matrix.format)
        let x = values(rows * half.inputCount, seed: 77)
        let start = values(rows * half.outputCount, seed: 78)
        for step in [true, false] {
            for accumulate in [false, true] {
                var a = start
                var b = start
                KernelVariant.withVariant(variant) {
                    half.apply(x, rows: rows, into: &a, accumulate: accumulate, step: step)
                    widened.apply(x, rows: rows, into: &b, accumulate: accumulate, step: step)
                }
                #expect(a == b, "\(comment) step \(step) accumulate \(accumulate)")
            }
        }
    }

    @Test(arguments: formats, KernelVariant.supported)
    func halfWeightsGiveTheBitsOfWidenedWeights(format: HalfMatrix.Format, variant: KernelVariant) throws {
        for (inputs, outputs, rows) in [(1, 3, 1), (19, 7, 5), (64, 40, 8), (300, 29, 3)] {
            let matrix = try HalfMatrix(
                format: format, shape: [outputs, inputs], bits: Self.bits(outputs * inputs, format: format, seed: 5))
            try expectIdentical(matrix, layout: .outputsByInputs, rows: rows, variant: variant, "\(inputs)x\(outputs)")
            // The same matrix read as a GPT-2 Conv1D weight [in, out], transposed (still 16-bit) at construction.
            try expectIdentical(
                matrix, layout: .inputsByOutputs, rows: rows, variant: variant, "conv \(inputs)x\(outputs)")
        }
    }

    @Test(arguments: formats, KernelVariant.supported)
    func everyFiniteBitPatternWidensExactly(format: HalfMatrix.Format, variant: KernelVariant) throws {
        let all = Self.allFiniteBits(format: format)
        // 16 inputs: every value goes through the vector widening; 1 input: through the scalar tail.
        try expectIdentical(
            try HalfMatrix(format: format, shape: [4096, 16], bits: all), layout: .outputsByInputs, rows: 1,
            variant: variant, "vector")
        try expectIdentical(
            try HalfMatrix(format: format, shape: [65536, 1], bits: all), layout: .outputsByInputs, rows: 2,
            variant: variant, "scalar")
    }

    @Test(arguments: formats) func halfEmbeddingRowsEqualWidenedRows(format: HalfMatrix.Format) throws {
        let matrix = try HalfMatrix(format: format, shape: [9, 5], bits: Self.bits(45, format: format, seed: 8))
        let ids: [Int32] = [3, 0, 8, 3]
        var half = [Float](repeating: .nan, count: ids.count * 5)
        var wide = [Float](repeating: .nan, count: ids.count * 5)
        try EmbeddingTable.half(matrix).lookup(ids, into: &half)
        try EmbeddingTable.float32(matrix.widened()).lookup(ids, into: &wide)
        #expect(half == wide)
        #expect(throws: NumericsError.indexOutOfRange(index: 9, rows: 9)) {
            try EmbeddingTable.half(matrix).lookup([9], into: &half)
        }
        #expect(EmbeddingTable.half(matrix).tiedHead(rowKernel: .batchInvariant).halfFormat == format)
    }

    @Test func borrowedBitsGiveTheProductsOfOwnedBits() throws {
        let bits = Self.bits(29 * 40, format: .float16, seed: 6)
        let owner = NSObject()  // the array below outlives every use of the borrowed pointer
        try bits.withUnsafeBufferPointer { buffer in
            let borrowed = try HalfMatrix(
                format: .float16, shape: [29, 40],
                borrowing: BorrowedHalves(base: buffer.baseAddress!, count: buffer.count, owner: owner))
            let owned = try HalfMatrix(format: .float16, shape: [29, 40], bits: bits)
            #expect(borrowed.isBorrowed && !owned.isBorrowed)
            #expect(borrowed.widened() == owned.widened())
            for variant in KernelVariant.supported {
                try expectIdentical(borrowed, layout: .outputsByInputs, rows: 5, variant: variant, "borrowed")
            }
        }
        #expect(throws: NumericsError.shapeMismatch(shape: [2, 2], expectedCount: 4, actualCount: 3)) {
            try bits.withUnsafeBufferPointer {
                try HalfMatrix(
                    format: .float16, shape: [2, 2],
                    borrowing: BorrowedHalves(base: $0.baseAddress!, count: 3, owner: owner))
            }
        }
    }

    @Test func halfMatrixChecksItsShapeAndReadsLittleEndianBytes() throws {
        #expect(throws: NumericsError.shapeMismatch(shape: [2, 2], expectedCount: 4, actualCount: 3)) {
            try HalfMatrix(format: .float16, shape: [2, 2], bits: [1, 2, 3])
        }
        let bytes: [UInt8] = [0x00, 0x3C, 0x00, 0xC0]  // float16 1, -2
        let matrix = try bytes.withUnsafeBytes {
            try HalfMatrix(format: .float16, shape: [1, 2], littleEndianBytes: $0)
        }
        #expect(matrix.widened().scalars == [1, -2])
        let bfloat = try HalfMatrix(format: .bfloat16, shape: [1, 2], bits: [0x3F80, 0xC0A0])
        #expect(bfloat.widened().scalars == [1, -5])
    }
}
