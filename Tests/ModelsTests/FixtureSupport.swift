import Foundation
import Models
import Numerics
import TestSupport

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
