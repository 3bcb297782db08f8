import Digest

/// SHA-256 over files concatenated in order, streamed from memory mappings so a multi-gigabyte checkpoint is never
/// copied into memory at once.
public enum BundleFingerprint {
    /// Bytes handed to the digest per update.
    static let chunkSize = 4 << 20

    /// Lowercase hex SHA-256 of the concatenated bytes of `files`.
    public static func sha256(files: [String]) throws -> String {
        let hash: SHA256
        do { hash = try SHA256() } catch {
            throw ModelError.cannotOpen(path: files.first ?? "", reason: "SHA-256: \(error)")
        }
        for path in files {
            let file = try MappedFile(path: path)
            var offset = 0
            while offset < file.bytes.count {
                let count = min(chunkSize, file.bytes.count - offset)
                do { try hash.update(UnsafeRawBufferPointer(rebasing: file.bytes[offset..<offset + count])) } catch {
                    throw ModelError.cannotOpen(path: path, reason: "SHA-256: \(error)")
                }
                offset += count
            }
        }
        do { return SHA256.hex(try hash.finish()) } catch {
            throw ModelError.cannotOpen(path: files.last ?? "", reason: "SHA-256: \(error)")
        }
    }
}
