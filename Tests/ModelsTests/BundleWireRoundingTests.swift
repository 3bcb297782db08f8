import Digest
import Foundation
import Models
import TestSupport
import Testing

/// Rounding to the wire dtype as torch's `.to(float16/bfloat16)` does (nearest, ties to even), and the
/// little-endian byte conversions the encoder and decoder services use.
@Suite struct BundleWireRoundingTests {
    @Test(arguments: [
        // (value, float16 result): ties go to the even mantissa, overflow goes to infinity, subnormals round too.
        (Float(1) + 0x1p-11, Float(1)),
        (Float(1) + 3 * 0x1p-11, Float(1) + 0x1p-9),
        (Float(-1) - 0x1p-11, Float(-1)),
        (Float(65519), Float(65504)),
        (Float(65520), Float.infinity),
        (Float(0x1p-25), Float(0)),
        (Float(3 * 0x1p-26), Float(0x1p-24)),
        (Float(0.1), Float(0.0999755859375)),
    ])
    func float16RoundsToNearestEven(value: Float, expected: Float) {
        #expect(WireRounding.round(value, to: .float16) == expected)
    }

    @Test(arguments: [
        (Float(1) + 0x1p-8, Float(1)),
        (Float(1) + 3 * 0x1p-8, Float(1) + 0x1p-6),
        (Float(0.1), Float(0.10009765625)),
        (Float.greatestFiniteMagnitude, Float.infinity),
    ])
    func bfloat16RoundsToNearestEven(value: Float, expected: Float) {
        #expect(WireRounding.round(value, to: .bfloat16) == expected)
    }

    @Test func narrowWritesLittleEndianBytes() {
        #expect(WireRounding.narrow([1, -2], to: .float16) == [0x00, 0x3C, 0x00, 0xC0])
        #expect(WireRounding.narrow([1, -2], to: .bfloat16) == [0x80, 0x3F, 0x00, 0xC0])
        #expect(WireRounding.narrow([1], to: .float32) == [0x00, 0x00, 0x80, 0x3F])
        #expect(WireRounding.narrow([], to: .float16) == [])
    }

    @Test(arguments: WireDType.allCases) func widenOfNarrowIsRound(dtype: WireDType) throws {
        var generator = SystemRandomNumberGenerator()
        let values =
            (0..<4096).map { _ in Float.random(in: -70000...70000, using: &generator) }
            + [0, -0, 1e-8, -3e-5, .infinity, -.infinity]
        let bytes = WireRounding.narrow(values, to: dtype)
        #expect(bytes.count == values.count * dtype.elementSize)
        let widened = try WireRounding.widen(bytes: bytes, dtype: dtype)
        #expect(widened.map(\.bitPattern) == WireRounding.round(values, to: dtype).map(\.bitPattern))
        #expect(try WireRounding.widen(bytes: Data(bytes), dtype: dtype) == widened)
        // Rounding is idempotent: a second trip over the wire changes nothing.
        #expect(WireRounding.round(widened, to: dtype) == widened)
    }

    @Test func widenRejectsAPartialElement() {
        #expect(throws: ModelError.wireByteCount(dtype: "float16", byteCount: 3, elementSize: 2)) {
            try WireRounding.widen(bytes: [UInt8](repeating: 0, count: 3), dtype: .float16)
        }
        #expect(throws: ModelError.wireByteCount(dtype: "float32", byteCount: 6, elementSize: 4)) {
            try WireRounding.widen(bytes: [UInt8](repeating: 0, count: 6), dtype: .float32)
        }
    }

    @Test func fingerprintsStreamLargeFilesInChunks() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-fingerprint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let bytes = (0..<(9 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try Data(bytes).write(to: url)
        let whole = SHA256.hex(try SHA256.digest(bytes))
        #expect(try BundleFingerprint.sha256(files: [url.path]) == whole)
        let twice = SHA256.hex(try SHA256.digest(bytes + bytes))
        #expect(try BundleFingerprint.sha256(files: [url.path, url.path]) == twice)
        let abc = url.appendingPathExtension("abc")
        defer { try? FileManager.default.removeItem(at: abc) }
        try Data("abc".utf8).write(to: abc)
        #expect(
            try BundleFingerprint.sha256(files: [abc.path])
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
