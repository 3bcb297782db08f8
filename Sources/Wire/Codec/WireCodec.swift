/// Frames <-> `Message`: one envelope frame, then one raw tensor frame exactly when the body carries a tensor.
public enum WireCodec {
    /// The frames that carry `message`: the packed envelope, then the tensor's own frame (shared, not copied).
    public static func encode(_ message: Message) throws(WireError) -> [Frame] {
        let envelope = try EnvelopeEncoder.pack(message)
        if let tensor = message.tensor { return [envelope, tensor.bytes] }
        return [envelope]
    }

    /// The message in `frames`, fully validated against the schema and `limits`; never traps on bad input.
    public static func decode(_ frames: [Frame], limits: WireLimits = .standard) throws(WireError) -> Message {
        try EnvelopeDecoder.decode(frames, limits: limits)
    }

    /// The request id a client's message names, read as far as the envelope still parses: a message refused for one
    /// bad field is answered with its request id, so the client knows which request failed. Empty when none.
    public static func requestID(in frames: [Frame]) -> String {
        guard let frame = frames.first else { return "" }
        return EnvelopeDecoder.requestID(in: frame)
    }

    /// The schema's contract for `Encoding`: a rank-2 tensor with one row per prompt id.
    static func checkRows(of encoding: Encoding, field: String) throws(WireError) {
        let shape = encoding.tensor.shape
        guard shape.count == 2, shape[0] == encoding.promptIDs.count else {
            throw .shapeMismatch(
                field: field + ".tensor.shape",
                expected: "[\(encoding.promptIDs.count) (one row per prompt id), width]", got: shape)
        }
    }
}
