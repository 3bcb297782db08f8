import Testing
import Wire

/// `GenerateRequest.logprobs` (field 13, a message so that 0 is distinguishable from absent) and `TokenChunk.logprobs`
/// (field 6) through the codec; a chunk or request without them encodes as before, so old peers read it unchanged.
@Suite("Wire codec: logprobs")
struct LogprobsCodecTests {
    static let chunk = TokenChunk(
        requestID: "req-1", ids: [42, 7], textDelta: "Grüße", finishReason: .length,
        usage: Usage(promptTokens: 3, completionTokens: 2),
        logprobs: [
            ChunkLogprob(
                id: 42, logprob: -0.25,
                top: [ChunkTopLogprob(id: 42, logprob: -0.25, text: "Grü"), ChunkTopLogprob(id: 3, logprob: -2)],
                text: "Grü"),
            ChunkLogprob(id: 7, logprob: -.infinity, text: "ße"),
        ])

    @Test("logprobs 0, 20 and absent survive a round trip as sent")
    func requestRoundTrip() throws {
        for value in [nil, 0, 20] as [UInt32?] {
            let message = Message.generate(
                GenerateRequest(requestID: "r", prompt: .text("hi"), maxNewTokens: 4, logprobs: value))
            #expect(try WireCodec.decode(try WireCodec.encode(message)) == message, "\(String(describing: value))")
        }
    }

    @Test("a chunk's logprobs, texts and -inf survive a round trip, alone and batched")
    func chunkRoundTrip() throws {
        for message in [
            Message.tokenChunk(Self.chunk), .tokenChunks([Self.chunk, TokenChunk(requestID: "j", ids: [1])]),
        ] {
            #expect(try WireCodec.decode(try WireCodec.encode(message)) == message)
        }
    }

    @Test("without logprobs a chunk's bytes are the old ones: no field 6")
    func oldBytesWithoutLogprobs() throws {
        var expected = ProtoWriter()
        expected.field(1, bytes: Array("r".utf8))
        expected.field(2, packed: [5])
        let frames = try WireCodec.encode(.tokenChunk(TokenChunk(requestID: "r", ids: [5])))
        #expect(frames[0].bytes == ProtoWriter.envelope(body: 18, expected.bytes))
    }

    @Test("invalid UTF-8 in a logprob's text is refused, naming the field")
    func invalidUTF8Text() {
        var top = ProtoWriter()
        top.field(1, varint: 3)
        top.field(3, bytes: [0x72, 0xc3, 0x28])
        var entry = ProtoWriter()
        entry.field(1, varint: 5)
        entry.field(3, bytes: top.bytes)
        var chunk = ProtoWriter()
        chunk.field(1, bytes: Array("r".utf8))
        chunk.field(2, packed: [5])
        chunk.field(6, bytes: entry.bytes)
        #expect(throws: WireError.invalidUTF8(field: "token_chunk.logprobs[0].top[0].text", bytes: 3)) {
            try WireCodec.decode([Frame(ProtoWriter.envelope(body: 18, chunk.bytes))])
        }
    }
}
