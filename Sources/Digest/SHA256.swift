import CCrypto

// libcrypto wrapped once (as swift-nio wraps its system calls): the EVP context is owned by one final class that
// frees it in deinit, every EVP return code goes through `check`, and a failure becomes a `DigestError` carrying
// the call and libcrypto's own reason. Nothing else in the package calls libcrypto.

/// A libcrypto call that failed while computing a digest: which call, and libcrypto's reason.
public struct DigestError: Error, Equatable, CustomStringConvertible {
    /// The EVP function that failed.
    public let call: String
    /// libcrypto's error text (its error queue), or "no reason given" when the queue was empty.
    public let reason: String

    public var description: String { "libcrypto \(call) failed: \(reason)" }

    /// The error for `call`, reading (and clearing) this thread's libcrypto error queue.
    static func last(_ call: String) -> DigestError {
        var texts: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            texts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return DigestError(call: call, reason: texts.isEmpty ? "no reason given" : texts.joined(separator: "; "))
    }
}

/// SHA-256 (FIPS 180-4) through libcrypto's EVP interface: feed bytes with `update`, read the digest with
/// `finish`, or hash one buffer with `SHA256.digest`. Used for weight, projector and tokenizer fingerprints and
/// for the encoding-cache key.
public final class SHA256 {
    /// Bytes in a digest.
    public static let byteCount = 32

    /// The EVP context, owned here and freed in deinit.
    private let context: OpaquePointer
    private var finished = false

    /// A fresh SHA-256 computation.
    public init() throws(DigestError) {
        guard let context = EVP_MD_CTX_new() else { throw DigestError.last("EVP_MD_CTX_new") }
        self.context = context
        try Self.check(EVP_DigestInit_ex(context, EVP_sha256(), nil), "EVP_DigestInit_ex")
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to the message.
    public func update(_ bytes: UnsafeRawBufferPointer) throws(DigestError) {
        precondition(!finished, "SHA256.update after finish")
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        try Self.check(EVP_DigestUpdate(context, base, bytes.count), "EVP_DigestUpdate")
    }

    /// Adds `bytes` to the message.
    public func update(_ bytes: [UInt8]) throws(DigestError) {
        // withUnsafeBytes rethrows untyped errors, so carry the typed one out by hand.
        let failure: DigestError? = bytes.withUnsafeBytes { buffer in
            do throws(DigestError) { try update(buffer) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// The 32-byte digest of everything added; the computation cannot be updated afterwards.
    public func finish() throws(DigestError) -> [UInt8] {
        precondition(!finished, "SHA256.finish called twice")
        finished = true
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        try Self.check(EVP_DigestFinal_ex(context, &digest, &length), "EVP_DigestFinal_ex")
        guard Int(length) == Self.byteCount else {
            throw DigestError(
                call: "EVP_DigestFinal_ex", reason: "returned \(length) bytes, expected \(Self.byteCount)")
        }
        return Array(digest.prefix(Self.byteCount))
    }

    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) throws(DigestError) -> [UInt8] {
        let hash = try SHA256()
        try hash.update(bytes)
        return try hash.finish()
    }

    /// Lower-case hexadecimal text of a digest.
    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(digest.count * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The one place that decides what an EVP return code means: 1 is success, anything else a `DigestError`.
    private static func check(_ result: Int32, _ call: String) throws(DigestError) {
        guard result == 1 else { throw DigestError.last(call) }
    }
}
