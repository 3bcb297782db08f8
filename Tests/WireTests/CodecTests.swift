import Testing
import Wire

/// Encode/decode without sockets, and every kind of bad input with the exact typed error it must produce.
@Suite("Wire codec")
struct CodecTests {
    /// An `Encoding` envelope body with a raw dtype number and shape, for crafting bad tensor infos.
    static func encodingBody(dtype: UInt64, shape: [UInt64], promptIDs: [UInt64] = [1, 2]) -> [UInt8] {
        var info = ProtoWriter()
        info.field(1, varint: dtype)
        info.field(2, packed: shape)
        var encoding = ProtoWriter()
        encoding.field(1, bytes: Array("req".utf8))
        encoding.field(3, packed: promptIDs)
        encoding.field(4, bytes: info.bytes)
        return ProtoWriter.envelope(body: 16, encoding.bytes)
    }

    static func expectError(_ expected: WireError, _ frames: [Frame], limits: WireLimits = .standard) {
        #expect(throws: expected) { try WireCodec.decode(frames, limits: limits) }
    }

    @Test("every sample message survives encode then decode unchanged")
    func roundTripInMemory() throws {
        for message in try WireSamples.all() {
            let frames = try WireCodec.encode(message)
            #expect(frames.count == (message.kind.carriesTensor ? 2 : 1), "\(message.kind)")
            #expect(try WireCodec.decode(frames) == message, "\(message.kind)")
        }
    }

    @Test("the samples cover every body kind")
    func samplesCoverEveryKind() throws {
        let kinds = Set(try WireSamples.all().map(\.kind))
        #expect(kinds == Set(MessageKind.allCases))
    }

    @Test("the tensor frame is the caller's frame, not a copy")
    func tensorFrameIsShared() throws {
        let message = try WireSamples.all().first { $0.kind == .encoding }
        let tensor = try #require(message?.tensor)
        let frames = try WireCodec.encode(try #require(message))
        #expect(frames[1] === tensor.bytes)
    }

    @Test("no frames") func noFrames() { Self.expectError(.noFrames, []) }

    @Test("truncated protobuf")
    func truncated() throws {
        let frame = try WireCodec.encode(.hello(Hello(role: .encoder, workerID: "encoder-7")))[0]
        Self.expectError(.invalidProtobuf(bytes: frame.count - 3), [Frame(frame.bytes.dropLast(3))])
    }

    @Test("garbage bytes")
    func garbage() { Self.expectError(.invalidProtobuf(bytes: 3), [Frame([0xff, 0xff, 0xff])]) }

    @Test("unsupported protocol version", arguments: [0, 2, 4_294_967_295] as [UInt64])
    func unsupportedVersion(version: UInt64) {
        var credit = ProtoWriter()
        credit.field(1, varint: 3)
        let frame = Frame(ProtoWriter.envelope(version: version, body: 12, credit.bytes))
        Self.expectError(.unsupportedVersion(expected: 1, got: UInt32(version)), [frame])
    }

    @Test("empty envelope has version 0")
    func emptyEnvelope() { Self.expectError(.unsupportedVersion(expected: 1, got: 0), [Frame([])]) }

    @Test("no body set")
    func noBody() {
        var writer = ProtoWriter()
        writer.field(1, varint: 1)
        Self.expectError(.noBody, [Frame(writer.bytes)])
    }

    @Test("tensor frame missing")
    func missingTensorFrame() throws {
        let frames = try WireCodec.encode(try #require(try WireSamples.all().first { $0.kind == .decodeJob }))
        Self.expectError(.missingTensorFrame(body: "decode_job"), [frames[0]])
    }

    @Test("extra frame after a body without tensor")
    func extraFrameWithoutTensor() throws {
        let frames = try WireCodec.encode(.credit(Credit(credits: 1)))
        Self.expectError(.extraFrames(body: "credit", expected: 1, got: 2), frames + [Frame([1, 2, 3])])
    }

    @Test("extra frame after the tensor frame")
    func extraFrameAfterTensor() throws {
        let frames = try WireCodec.encode(try #require(try WireSamples.all().first { $0.kind == .encoding }))
        Self.expectError(.extraFrames(body: "encoding", expected: 2, got: 3), frames + [Frame([])])
    }

    @Test("tensor frame shorter than shape and dtype need")
    func shapeBytesMismatch() {
        let frame = Frame(Self.encodingBody(dtype: 2, shape: [2, 4]))
        Self.expectError(
            .tensorSizeMismatch(
                field: "encoding.tensor", dtype: .float16, shape: [2, 4], expectedBytes: "16", gotBytes: 15),
            [frame, Frame([UInt8](repeating: 0, count: 15))])
    }

    @Test("unknown dtype", arguments: [0, 4, 99] as [UInt64])
    func unknownDType(dtype: UInt64) {
        let frame = Frame(Self.encodingBody(dtype: dtype, shape: [2, 1]))
        Self.expectError(
            .unknownDType(field: "encoding.tensor.dtype", value: Int32(dtype)), [frame, Frame([0, 0, 0, 0])])
    }

    @Test("negative dimension written as int64 -1 arrives as 2^64-1")
    func negativeWireDimension() {
        let frame = Frame(Self.encodingBody(dtype: 1, shape: [UInt64(bitPattern: -1), 4]))
        Self.expectError(
            .invalidDimension(
                field: "encoding.tensor.shape", index: 0, value: "18446744073709551615", limit: Int(Int32.max)),
            [frame, Frame([])])
    }

    @Test("huge dimension")
    func hugeDimension() {
        let frame = Frame(Self.encodingBody(dtype: 1, shape: [2, 1 << 40]))
        Self.expectError(
            .invalidDimension(field: "encoding.tensor.shape", index: 1, value: "1099511627776", limit: Int(Int32.max)),
            [frame, Frame([])])
    }

    @Test("dimensions whose product overflows")
    func overflowingShape() {
        let big = UInt64(Int32.max)
        let frame = Frame(Self.encodingBody(dtype: 1, shape: [2, big, big, big]))
        Self.expectError(
            .tensorSizeMismatch(
                field: "encoding.tensor", dtype: .float32, shape: [2, Int(big), Int(big), Int(big)],
                expectedBytes: "more than \(Int.max)", gotBytes: 8),
            [frame, Frame([UInt8](repeating: 0, count: 8))])
    }

    @Test("too many dimensions")
    func tooManyDimensions() {
        let frame = Frame(Self.encodingBody(dtype: 1, shape: [UInt64](repeating: 1, count: 9)))
        Self.expectError(
            .tooManyDimensions(field: "encoding.tensor.shape", rank: 9, limit: 8), [frame, Frame([0, 0, 0, 0])])
    }

    @Test("negative dimension in a Swift-built tensor")
    func negativeSwiftDimension() {
        #expect(throws: WireError.invalidDimension(field: "tensor", index: 1, value: "-4", limit: Int(Int32.max))) {
            try Tensor(dtype: .float32, shape: [1, -4], bytes: Frame([]))
        }
    }

    @Test("Swift-built tensor with the wrong byte count")
    func swiftTensorSizeMismatch() {
        #expect(
            throws: WireError.tensorSizeMismatch(
                field: "tensor", dtype: .bfloat16, shape: [3], expectedBytes: "6", gotBytes: 4)
        ) { try Tensor(dtype: .bfloat16, shape: [3], bytes: Frame([1, 2, 3, 4])) }
    }

    @Test("tensor rows must match prompt ids")
    func rowsMismatch() {
        let frame = Frame(Self.encodingBody(dtype: 1, shape: [3, 1], promptIDs: [1, 2]))
        Self.expectError(
            .shapeMismatch(
                field: "encoding.tensor.shape", expected: "[2 (one row per prompt id), width]", got: [3, 1]),
            [frame, Frame([UInt8](repeating: 0, count: 12))])
    }

    @Test("invalid UTF-8 in a string field")
    func invalidUTF8() {
        var cancel = ProtoWriter()
        cancel.field(1, bytes: [0x72, 0xc3, 0x28])
        Self.expectError(
            .invalidUTF8(field: "cancel.request_id", bytes: 3), [Frame(ProtoWriter.envelope(body: 14, cancel.bytes))])
    }

    @Test("invalid UTF-8 in a prompt")
    func invalidUTF8Prompt() {
        var request = ProtoWriter()
        request.field(1, bytes: Array("r".utf8))
        request.field(2, bytes: [0xed, 0xa0, 0x80])  // an encoded UTF-16 surrogate, invalid in UTF-8
        Self.expectError(
            .invalidUTF8(field: "generate.text", bytes: 3), [Frame(ProtoWriter.envelope(body: 13, request.bytes))])
    }

    @Test("unknown enum value")
    func unknownEnum() {
        var error = ProtoWriter()
        error.field(1, varint: 99)
        Self.expectError(
            .unknownEnumValue(field: "error.code", value: 99), [Frame(ProtoWriter.envelope(body: 19, error.bytes))])
    }

    @Test("generate request without a prompt")
    func missingPrompt() {
        var request = ProtoWriter()
        request.field(1, bytes: Array("r".utf8))
        Self.expectError(.missingField("generate.prompt"), [Frame(ProtoWriter.envelope(body: 13, request.bytes))])
    }

    @Test("encoding without tensor info")
    func missingTensorInfo() {
        var encoding = ProtoWriter()
        encoding.field(1, bytes: Array("r".utf8))
        Self.expectError(
            .missingField("encoding.tensor"), [Frame(ProtoWriter.envelope(body: 16, encoding.bytes)), Frame([])])
    }

    @Test("decode job without its request")
    func missingRequest() {
        Self.expectError(.missingField("decode_job.request"), [Frame(ProtoWriter.envelope(body: 17, [])), Frame([])])
    }

    @Test("oversize envelope frame")
    func oversizeEnvelope() throws {
        let frames = try WireCodec.encode(.goodbye(Goodbye(reason: String(repeating: "x", count: 100))))
        var limits = WireLimits.standard
        limits.maxEnvelopeBytes = 64
        Self.expectError(.frameTooLarge(frame: "envelope", bytes: frames[0].count, limit: 64), frames, limits: limits)
    }

    @Test("oversize tensor frame")
    func oversizeTensor() throws {
        let frames = try WireCodec.encode(try #require(try WireSamples.all().first { $0.kind == .encoding }))
        var limits = WireLimits.standard
        limits.maxTensorBytes = 16
        Self.expectError(.frameTooLarge(frame: "encoding.tensor", bytes: 24, limit: 16), frames, limits: limits)
    }

    @Test("strings with NUL cannot be sent")
    func nulInString() {
        #expect(throws: WireError.stringContainsNUL(field: "cancel.request_id")) {
            try WireCodec.encode(.cancel(Cancel(requestID: "a\u{0}b")))
        }
    }

    @Test("encoding whose rows disagree with its prompt ids is refused on send")
    func rowsMismatchOnSend() throws {
        let tensor = try Tensor(dtype: .float32, shape: [3, 1], bytes: Frame([UInt8](repeating: 0, count: 12)))
        let encoding = Encoding(requestID: "r", promptHash: [], promptIDs: [1], tensor: tensor)
        #expect(
            throws: WireError.shapeMismatch(
                field: "encoding.tensor.shape", expected: "[1 (one row per prompt id), width]", got: [3, 1])
        ) { try WireCodec.encode(.encoding(encoding)) }
    }

    @Test("a body the socket does not handle")
    func unexpectedBody() {
        #expect(throws: WireError.unexpectedMessage(got: .credit, expected: [.hello, .heartbeat])) {
            try Message.credit(Credit(credits: 1)).expect([.hello, .heartbeat])
        }
    }

    @Test("error descriptions name the field and the values")
    func descriptions() {
        let error = WireError.tensorSizeMismatch(
            field: "encoding.tensor", dtype: .float16, shape: [2, 4], expectedBytes: "16", gotBytes: 15)
        #expect(error.description == "encoding.tensor: dtype float16 shape [2, 4] needs 16 bytes, tensor frame has 15")
        #expect(WireError.unsupportedVersion(expected: 1, got: 2).description.contains("expected 1, got 2"))
    }
}
