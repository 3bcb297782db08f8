import Foundation
import Models
import Numerics
import TestSupport
import Testing

/// Greedy-decodes `sequence` one step per row of `reference` (a reference model's logits for each step), expecting
/// each step's logits within `tolerance` of its row; `label` names the case in a failure. Returns the generated ids.
func greedyDecode(
    _ sequence: any DecodingSequence, against reference: [[Float]], tolerance: Float = 1e-4,
    label: String = ""
) throws -> [Int32] {
    var generated: [Int32] = []
    for (step, logits) in reference.enumerated() {
        #expect(Tolerance.maxAbsDifference(sequence.logits, logits) <= tolerance, "\(label)step \(step)")
        let next = argmax(sequence.logits)
        generated.append(next)
        try sequence.append(next)
    }
    return generated
}

/// Bytes of a safetensors file with the given header JSON and data section.
/// Starts `prompts` on `model` twice (stepped one by one, and batched) and on `reference`, then steps all of them
/// `steps` times on `reference`'s greedy tokens, expecting `model`'s logits, alone and batched, to equal
/// `reference`'s bit for bit at every step (weights kept 16-bit against the same weights widened, say).
func expectLogitsEqual(
    _ model: any LanguageModel, _ reference: any LanguageModel, prompts: [[Int32]], steps: Int
) throws {
    let alone = try prompts.map { try model.startSequence(promptIDs: $0) }
    let batched = try prompts.map { try model.startSequence(promptIDs: $0) }
    let expected = try prompts.map { try reference.startSequence(promptIDs: $0) }
    for step in 0..<steps {
        for index in prompts.indices {
            #expect(alone[index].logits == expected[index].logits, "step \(step) prompt \(index)")
            #expect(batched[index].logits == expected[index].logits, "step \(step) prompt \(index) batched")
        }
        let tokens = expected.map { argmax($0.logits) }
        for (sequence, token) in zip(alone + expected, tokens + tokens) { try sequence.append(token) }
        try model.step(tokens, sequences: batched)
    }
}

func safetensorsBytes(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    let length = declaredLength ?? UInt64(headerBytes.count)
    return withUnsafeBytes(of: length.littleEndian) { Array($0) } + headerBytes + data
}

/// How a fixture test computes decoding steps: OpenBLAS, or the batch-invariant kernel on one kernel variant
/// (every variant this CPU runs, so each passes the transformers fixtures).
enum StepKernel: Sendable, CustomTestStringConvertible {
    case blas
    case invariant(KernelVariant)

    static var all: [StepKernel] { [.blas] + KernelVariant.supported.map { .invariant($0) } }
    static var invariantVariants: [StepKernel] { KernelVariant.supported.map { .invariant($0) } }

    var rowKernel: RowKernel {
        if case .blas = self { return .blas }
        return .batchInvariant
    }

    /// Runs `body` with the kernels of this choice.
    func run<T>(_ body: () throws -> T) rethrows -> T {
        switch self {
        case .blas: try body()
        case .invariant(let variant): try KernelVariant.withVariant(variant, body)
        }
    }

    var testDescription: String {
        switch self {
        case .blas: "blas"
        case .invariant(let variant): "batch-invariant \(variant.rawValue)"
        }
    }
}
