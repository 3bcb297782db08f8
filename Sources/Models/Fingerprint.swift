import CCrypto
import Foundation

/// SHA-256 digests, used for weight fingerprints and the encoding cache key.
public enum SHA256 {
    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = output.withUnsafeMutableBufferPointer { out in
            CCrypto.SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, out.baseAddress)
        }
        return output
    }

    /// The 32-byte digest of `data`.
    public static func digest(_ data: some DataProtocol) -> [UInt8] {
        let contiguous = Array(data)
        return contiguous.withUnsafeBytes { digest($0) }
    }

    /// Lower-case hexadecimal text of a digest.
    public static func hex(_ digest: [UInt8]) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
