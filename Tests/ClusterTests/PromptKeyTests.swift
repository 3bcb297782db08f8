import Cluster
import Testing

@Suite struct PromptKeyTests {
    /// The expected digests are computed outside Swift (Python's hashlib over the layout PromptKey documents:
    /// "l2s-prompt-key-v1", then each of llm, projector, tokenizer and tenant salt as a little-endian UInt32 length
    /// and its bytes, then "T" + UTF-8 text or "I" + little-endian int32 ids), so a change of layout or hash fails.
    @Test func knownDigestAndSensitivity() throws {
        let base = try PromptKey(llm: "l", projector: "p", tokenizer: "t", text: "hello")
        #expect(base.description == "60e3bfc7935aa19e087289a0ff86a1c176b820de519b55bbff1346be3f90df80")
        #expect(
            try PromptKey(llm: "l", projector: "p", tokenizer: "t", tokenIds: [104, 101]).description
                == "a8584536dd34bbed83a40ede67ddc3c72315e524ed9d0d8584c8f3422040f0e5")
        #expect(base == (try PromptKey(llm: "l", projector: "p", tokenizer: "t", text: "hello")))
        let variants = [
            try PromptKey(llm: "l2", projector: "p", tokenizer: "t", text: "hello"),
            try PromptKey(llm: "l", projector: "p2", tokenizer: "t", text: "hello"),
            try PromptKey(llm: "l", projector: "p", tokenizer: "t2", text: "hello"),
            try PromptKey(llm: "l", projector: "p", tokenizer: "t", text: "hello "),
            try PromptKey(llm: "l", projector: "p", tokenizer: "t", text: "hello", tenantSalt: [1]),
            try PromptKey(llm: "l", projector: "p", tokenizer: "t", tokenIds: [104, 101]),
        ]
        for variant in variants { #expect(variant != base) }
        // Field boundaries are length-prefixed: moving a character between fields changes the key.
        #expect(
            try PromptKey(llm: "ab", projector: "c", tokenizer: "", text: "")
                != PromptKey(llm: "a", projector: "bc", tokenizer: "", text: ""))
    }
}
