import Digest

/// The encoding-cache key of a prompt: SHA-256 over the LLM and projector fingerprints, the tokenizer
/// fingerprint, the prompt (token ids or exact text) and an optional tenant salt. The encoder is
/// bidirectional, so the key covers the whole prompt, never a prefix.
public struct PromptKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// A key received on the wire (`prompt_hash`); nil unless it is exactly 32 bytes.
    public init?(digest: [UInt8]) {
        guard digest.count == 32 else { return nil }
        bytes = digest
    }

    /// The key of a prompt given as text, which the encoder will tokenize with the tokenizer `tokenizer` names.
    public init(llm: String, projector: String, tokenizer: String, text: String, tenantSalt: [UInt8] = [])
        throws(DigestError)
    {
        var message = PromptKey.header(llm: llm, projector: projector, tokenizer: tokenizer, tenantSalt: tenantSalt)
        message.append(0x54)  // "T": the prompt is text
        message.append(contentsOf: Array(text.utf8))
        bytes = try SHA256.digest(message)
    }

    /// The key of a prompt given as LLM token ids.
    public init(llm: String, projector: String, tokenizer: String, tokenIds: [Int32], tenantSalt: [UInt8] = [])
        throws(DigestError)
    {
        var message = PromptKey.header(llm: llm, projector: projector, tokenizer: tokenizer, tenantSalt: tenantSalt)
        message.append(0x49)  // "I": the prompt is token ids, little-endian int32 each
        for id in tokenIds {
            withUnsafeBytes(of: id.littleEndian) { message.append(contentsOf: $0) }
        }
        bytes = try SHA256.digest(message)
    }

    /// Length-prefixed fields, so that no two different inputs produce the same message.
    private static func header(llm: String, projector: String, tokenizer: String, tenantSalt: [UInt8]) -> [UInt8] {
        var message: [UInt8] = Array("l2s-prompt-key-v1".utf8)
        for field in [Array(llm.utf8), Array(projector.utf8), Array(tokenizer.utf8), tenantSalt] {
            withUnsafeBytes(of: UInt32(field.count).littleEndian) { message.append(contentsOf: $0) }
            message.append(contentsOf: field)
        }
        return message
    }

    public var description: String { SHA256.hex(bytes) }
}
