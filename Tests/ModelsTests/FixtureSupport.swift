import Foundation
import Models
import Numerics
import TestSupport
import Testing

/// The golden values written by scripts/fixtures/models.py for one checkpoint.
struct ModelFixture {
    let directory: URL
    let object: [String: Any]

    init(_ name: String) throws {
        directory = TestPaths.fixture("models/\(name)")
        let data = try Data(contentsOf: directory.appendingPathComponent("expected.json"))
        object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    func floats(_ key: String) -> [Float] {
        (object[key] as? [Any] ?? []).map { ($0 as? NSNumber)?.floatValue ?? .nan }
    }

    func ids(_ key: String) -> [Int32] {
        (object[key] as? [Any] ?? []).map { Int32(($0 as? NSNumber)?.intValue ?? -1) }
    }

    func int(_ key: String) -> Int32 { Int32((object[key] as? NSNumber)?.intValue ?? -1) }

    /// Rows of a list of float lists (one per step).
    func rows(_ key: String) -> [[Float]] {
        (object[key] as? [Any] ?? []).map { row in (row as? [Any] ?? []).map { ($0 as? NSNumber)?.floatValue ?? .nan } }
    }
}

/// The index of the largest value (the first one on ties, as torch.argmax).
func argmax(_ values: [Float]) -> Int32 {
    var best = 0
    for index in values.indices where values[index] > values[best] { best = index }
    return Int32(best)
}

/// Bytes of a safetensors file with the given header JSON and data section.
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
