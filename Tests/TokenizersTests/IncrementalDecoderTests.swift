import Testing

@testable import Tokenizers

@Suite("Streaming decoding never splits a character")
struct IncrementalDecoderTests {
    /// Deltas of feeding `ids` one by one, plus the final flush.
    func deltas(_ tokenizer: any Tokenizer, _ ids: [Int32], skip: Bool = false) throws -> [String] {
        var decoder = tokenizer.makeIncrementalDecoder(skipSpecialTokens: skip)
        var result = try ids.map { try decoder.add($0) }
        result.append(decoder.finish())
        return result
    }

    @Test func byteFallbackPiecesAreHeldUntilTheCharacterIsComplete() throws {
        let tokenizer = try loadFixtureTokenizer("spm-byte-fallback")
        // U+29E3D is not in the tiny vocabulary: sentencepiece emits its four UTF-8 bytes as <0x..> pieces.
        let ids = try tokenizer.encode("a 𩸽 b")
        let bytePieces = ids.filter { tokenizer.token(for: $0)?.hasPrefix("<0x") == true }
        #expect(bytePieces.count == 4)
        let parts = try deltas(tokenizer, ids)
        #expect(parts.joined() == (try tokenizer.decode(ids, skipSpecialTokens: false)))
        #expect(parts.joined() == "a 𩸽 b</s>")
        #expect(parts.contains("𩸽"), "the character arrives whole, in one delta: \(parts)")
        #expect(!parts.joined().contains("\u{FFFD}"))
    }

    @Test func byteLevelEmojiSplitAcrossIdsArrivesWhole() throws {
        let tokenizer = try loadFixtureTokenizer("gpt2-vocab-merges")
        // One id per byte: the most extreme split of a 4-byte character.
        let ids = try Array("🦜".utf8).map { byte in
            try #require(tokenizer.id(for: String(ByteLevelAlphabet.characters[Int(byte)])))
        }
        #expect(try deltas(tokenizer, ids) == ["", "", "", "🦜", ""])
    }

    @Test func invalidBytesBecomeReplacementCharactersExactlyAsInFullDecode() throws {
        let tokenizer = try loadFixtureTokenizer("gpt2-vocab-merges")
        func byteID(_ byte: UInt8) throws -> Int32 {
            try #require(tokenizer.id(for: String(ByteLevelAlphabet.characters[Int(byte)])))
        }
        let sequences: [[UInt8]] = [
            [0xE6, 0x61],  // lead byte then ASCII: U+FFFD then "a", emitted once the "a" shows the lead is dead
            [0x80, 0x61],  // lone continuation byte
            [0xE0, 0x80, 0x61],  // overlong prefix: invalid at the second byte
            [0x61, 0xF0, 0x9F],  // truncated at the end of the stream: finish() flushes U+FFFD
            [0xED, 0xA0, 0x80],  // surrogate encoding
        ]
        for bytes in sequences {
            let ids = try bytes.map(byteID)
            let full = try tokenizer.decode(ids, skipSpecialTokens: false)
            #expect(try deltas(tokenizer, ids).joined() == full, "\(bytes)")
            #expect(full == String(decoding: bytes, as: UTF8.self))
        }
    }

    @Test func sentencePieceLeadingSpaceIsDroppedOnlyForTheFirstToken() throws {
        let tokenizer = try loadFixtureTokenizer("t5-spiece")
        let ids = try tokenizer.encode("Hello world")
        #expect(try deltas(tokenizer, ids).joined() == "Hello world</s>")
        // Skipping a leading special token makes the next token the first one, as transformers does.
        #expect(try deltas(tokenizer, [0] + ids, skip: true).joined() == "Hello world")
        #expect(try tokenizer.decode([0] + ids, skipSpecialTokens: true) == "Hello world")
    }

    @Test(
        "the UTF-8 boundary helper",
        arguments: [
            ([UInt8](), 0), ([0x61], 1), ([0x61, 0xE6], 1), ([0x61, 0xE6, 0x97], 1), ([0x61, 0xE6, 0x97, 0xA5], 4),
            ([0xF0, 0x9F, 0xA6], 0), ([0xE0, 0x80], 2), ([0xC3], 0), ([0xFF], 1), ([0x80, 0x80, 0x80, 0x80, 0x80], 5),
        ])
    func boundary(bytes: [UInt8], stable: Int) {
        #expect(UTF8Boundary.stablePrefixLength(bytes) == stable)
    }
}
