import CKernels
import Foundation
import Numerics
import TestSupport
import Testing

/// One call of the C row-wise kernel: y[rows, outputs] for outputs [begin, end), as `RowwiseProduct` makes it.
private func rowwise(
    _ variant: KernelVariant, w: [Float], inputs: Int, outputs: Int, range: Range<Int>, x: ArraySlice<Float>,
    rows: Int, into y: inout [Float], accumulate: Bool = false
) {
    precondition(x.count == rows * inputs && y.count == rows * outputs)
    x.withUnsafeBufferPointer { xs in
        l2s_rowwise_product(
            variant.code, w, inputs, outputs, range.lowerBound, range.upperBound, xs.baseAddress!, rows, &y,
            accumulate ? 1 : 0)
    }
}

/// The hand-written kernels under every variant this CPU runs (the CI machine's ISA is unknown, so the list is too).
@Suite struct KernelVariantTests {
    static let variants = KernelVariant.supported
    /// (inputs, outputs, rows): whole 4-row blocks, 1-3 remaining rows, remaining outputs, scalar input tails.
    static let shapes = [(1, 1, 1), (7, 5, 3), (8, 13, 4), (33, 6, 9), (300, 37, 17), (515, 26, 6)]

    @Test(arguments: variants) func rowwiseProductMatchesADoubleReference(variant: KernelVariant) {
        for (inputs, outputs, rows) in Self.shapes {
            let w = values(outputs * inputs, seed: 21)
            let x = values(rows * inputs, seed: 22)
            let start = values(rows * outputs, seed: 23)
            var y = [Float](repeating: .nan, count: rows * outputs)
            rowwise(
                variant, w: w, inputs: inputs, outputs: outputs, range: 0..<outputs, x: x[...], rows: rows, into: &y)
            var added = start
            rowwise(
                variant, w: w, inputs: inputs, outputs: outputs, range: 0..<outputs, x: x[...], rows: rows,
                into: &added, accumulate: true)
            for b in 0..<rows {
                for j in 0..<outputs {
                    var exact = 0.0
                    for k in 0..<inputs { exact += Double(x[b * inputs + k]) * Double(w[j * inputs + k]) }
                    let index = b * outputs + j
                    #expect(abs(Double(y[index]) - exact) <= 1e-5 * Double(inputs), "\(variant) \(inputs)x\(outputs)")
                    #expect(added[index] == start[index] + y[index], "\(variant) accumulate")
                }
            }
        }
    }

    @Test(arguments: variants) func rowsDoNotDependOnBatchOrOutputSplit(variant: KernelVariant) {
        let (inputs, outputs, rows) = (300, 41, 17)
        let w = values(outputs * inputs, seed: 31)
        let x = values(rows * inputs, seed: 32)
        var whole = [Float](repeating: 0, count: rows * outputs)
        rowwise(
            variant, w: w, inputs: inputs, outputs: outputs, range: 0..<outputs, x: x[...], rows: rows, into: &whole)
        // Any run of consecutive rows, as a smaller batch, gives exactly the rows of the whole batch.
        for (first, count) in [(0, 1), (16, 1), (5, 2), (3, 3), (8, 4), (1, 5), (9, 8)] {
            var part = [Float](repeating: 0, count: count * outputs)
            let slice = x[(first * inputs)..<((first + count) * inputs)]
            rowwise(
                variant, w: w, inputs: inputs, outputs: outputs, range: 0..<outputs, x: slice, rows: count, into: &part)
            #expect(
                part == Array(whole[(first * outputs)..<((first + count) * outputs)]),
                "\(variant) rows \(first)+\(count)")
        }
        // Outputs split at places that cut blocks (as threads would) give the same values.
        var split = [Float](repeating: 0, count: rows * outputs)
        for range in [0..<5, 5..<19, 19..<20, 20..<outputs] {
            rowwise(variant, w: w, inputs: inputs, outputs: outputs, range: range, x: x[...], rows: rows, into: &split)
        }
        #expect(split == whole, "\(variant) output split")
    }

    @Test func variantsAgreeToRounding() {
        let (inputs, outputs, rows) = (515, 26, 6)
        let w = values(outputs * inputs, seed: 41)
        let x = values(rows * inputs, seed: 42)
        var results: [[Float]] = []
        for variant in Self.variants {
            var y = [Float](repeating: 0, count: rows * outputs)
            rowwise(
                variant, w: w, inputs: inputs, outputs: outputs, range: 0..<outputs, x: x[...], rows: rows, into: &y)
            results.append(y)
        }
        for result in results.dropFirst() { #expect(Tolerance.maxAbsDifference(result, results[0]) <= 1e-4) }
    }

    @Test(arguments: variants) func linearStepsRunTheScopedVariant(variant: KernelVariant) throws {
        let (inputs, outputs, rows) = (300, 260, 5)
        let w = values(outputs * inputs, seed: 51)
        let x = values(rows * inputs, seed: 52)
        let linear = Linear(weight: try Tensor(shape: [outputs, inputs], scalars: w))
        var viaLinear = [Float](repeating: 0, count: rows * outputs)
        KernelVariant.withVariant(variant) {
            #expect(KernelVariant.current == variant)
            linear.apply(x, rows: rows, into: &viaLinear, step: true)
        }
        var direct = [Float](repeating: 0, count: rows * outputs)
        rowwise(
            variant, w: w, inputs: inputs, outputs: outputs, range: 0..<outputs, x: x[...], rows: rows, into: &direct)
        #expect(viaLinear == direct)
    }

    @Test func environmentChoosesALowerVariantOrFallsBackWithANote() {
        let best = KernelVariant.best
        #expect(KernelVariant.supported.first == .baseline)
        #expect(KernelVariant.resolve(nil) == (best, nil))
        #expect(KernelVariant.resolve("") == (best, nil))
        #expect(KernelVariant.resolve("baseline") == (.baseline, nil))
        #expect(KernelVariant.resolve("BASELINE") == (.baseline, nil))
        let unknown = KernelVariant.resolve("sse9")
        #expect(unknown.variant == best)
        #expect(unknown.note == "L2S_ISA='sse9' is not one of baseline, avx2, avx512; using \(best.rawValue)")
        for variant in KernelVariant.allCases where !variant.isSupported {
            let lacking = KernelVariant.resolve(variant.rawValue)
            #expect(lacking.variant == best)
            #expect(lacking.note?.hasPrefix("L2S_ISA=\(variant.rawValue): this CPU lacks it") == true)
        }
        for variant in KernelVariant.supported { #expect(KernelVariant.resolve(variant.rawValue) == (variant, nil)) }
    }

    @Test(arguments: [Linear.Layout.outputsByInputs, .inputsByOutputs], variants)
    func batchInvariantRowsDoNotDependOnBatchSize(layout: Linear.Layout, variant: KernelVariant) throws {
        try KernelVariant.withVariant(variant) {
            let (inputs, outputs) = (300, 260)
            let weight = try Tensor(
                shape: layout == .outputsByInputs ? [outputs, inputs] : [inputs, outputs],
                scalars: values(inputs * outputs, seed: 9))
            let linear = Linear(weight: weight, layout: layout, rowKernel: .batchInvariant)
            let x = values(17 * inputs, seed: 10)
            var alone = [[Float]]()
            for row in 0..<17 {
                var y = [Float](repeating: 0, count: outputs)
                x.withUnsafeBufferPointer {
                    linear.apply($0.baseAddress! + row * inputs, rows: 1, into: &y, step: true)
                }
                alone.append(y)
            }
            for batch in [2, 3, 8, 17] {
                var y = [Float](repeating: 0, count: batch * outputs)
                linear.apply(x, rows: batch, into: &y, step: true)
                for row in 0..<batch {
                    #expect(
                        Array(y[(row * outputs)..<((row + 1) * outputs)]) == alone[row], "batch \(batch) row \(row)")
                }
            }
        }
    }
}
