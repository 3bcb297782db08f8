import Cluster
import Testing

@Suite struct PromptKeyTests {
    @Test func knownDigestAndSensitivity() {
        let base = PromptKey(llm: "l", projector: "p", tokenizer: "t", text: "hello")
        #expect(base == PromptKey(llm: "l", projector: "p", tokenizer: "t", text: "hello"))
        #expect(base.description.count == 64)
        let variants = [
            PromptKey(llm: "l2", projector: "p", tokenizer: "t", text: "hello"),
            PromptKey(llm: "l", projector: "p2", tokenizer: "t", text: "hello"),
            PromptKey(llm: "l", projector: "p", tokenizer: "t2", text: "hello"),
            PromptKey(llm: "l", projector: "p", tokenizer: "t", text: "hello "),
            PromptKey(llm: "l", projector: "p", tokenizer: "t", text: "hello", tenantSalt: [1]),
            PromptKey(llm: "l", projector: "p", tokenizer: "t", tokenIds: [104, 101]),
        ]
        for variant in variants { #expect(variant != base) }
        // Field boundaries are length-prefixed: moving a character between fields changes the key.
        #expect(PromptKey(llm: "ab", projector: "c", tokenizer: "", text: "")
            != PromptKey(llm: "a", projector: "bc", tokenizer: "", text: ""))
    }
}
