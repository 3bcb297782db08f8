/// Everything that can go wrong on the wire: malformed input from a peer, or a ZeroMQ call that failed.
/// Every case carries the field or operation involved and the actual values, so a log line or an
/// `Error` reply to the peer says exactly what was wrong.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A message arrived with no frames at all.
    case noFrames
    /// The envelope frame is larger than the configured limit.
    case frameTooLarge(frame: String, bytes: Int, limit: Int)
    /// The envelope frame is not a valid protobuf `l2s.Envelope` (truncated, bad tags, bad lengths).
    case invalidProtobuf(bytes: Int)
    /// The envelope names a protocol version this build does not speak.
    case unsupportedVersion(expected: UInt32, got: UInt32)
    /// The envelope's `body` oneof is not set.
    case noBody
    /// A required field (message or oneof) is absent.
    case missingField(String)
    /// An enum field holds a number the schema does not define.
    case unknownEnumValue(field: String, value: Int32)
    /// A tensor's dtype is unspecified or unknown.
    case unknownDType(field: String, value: Int32)
    /// A string field is not valid UTF-8 (protobuf-c does not check this for proto3 strings).
    case invalidUTF8(field: String, bytes: Int)
    /// A string to be sent contains a NUL byte, which protobuf-c's C strings cannot carry.
    case stringContainsNUL(field: String)
    /// The body carries a `TensorInfo` but no tensor frame follows the envelope.
    case missingTensorFrame(body: String)
    /// More frames arrived than the body accounts for.
    case extraFrames(body: String, expected: Int, got: Int)
    /// A tensor has more dimensions than allowed.
    case tooManyDimensions(field: String, rank: Int, limit: Int)
    /// A tensor dimension is negative or larger than allowed.
    case invalidDimension(field: String, index: Int, value: String, limit: Int)
    /// The byte count of a tensor does not match dtype and shape.
    case tensorSizeMismatch(field: String, dtype: DType, shape: [Int], expectedBytes: String, gotBytes: Int)
    /// A tensor's shape disagrees with another field of the same message.
    case shapeMismatch(field: String, expected: String, got: [Int])
    /// A message of an unexpected kind arrived on a socket that does not handle it.
    case unexpectedMessage(got: MessageKind, expected: [MessageKind])
    /// A ROUTER socket received a message without the identity frame and a payload.
    case missingIdentityFrame
    /// The context was terminated; the socket can no longer be used.
    case contextTerminated
    /// A ROUTER socket with `ZMQ_ROUTER_MANDATORY` was asked to send to a peer it does not know.
    case hostUnreachable(peer: String)
    /// A ZeroMQ call failed with the given errno.
    case zmq(operation: String, errno: Int32, message: String)

    /// A one-line English description with the field and values involved.
    public var description: String {
        switch self {
        case .noFrames: return "no frames in message"
        case .frameTooLarge(let frame, let bytes, let limit):
            return "\(frame) frame is \(bytes) bytes, limit is \(limit)"
        case .invalidProtobuf(let bytes): return "envelope frame (\(bytes) bytes) is not a valid l2s.Envelope protobuf"
        case .unsupportedVersion(let expected, let got):
            return "unsupported protocol version: expected \(expected), got \(got)"
        case .noBody: return "envelope has no body set"
        case .missingField(let field): return "required field \(field) is not set"
        case .unknownEnumValue(let field, let value): return "\(field): unknown enum value \(value)"
        case .unknownDType(let field, let value):
            return "\(field): unknown dtype \(value) (expected 1 float32, 2 float16 or 3 bfloat16)"
        case .invalidUTF8(let field, let bytes): return "\(field): \(bytes) bytes are not valid UTF-8"
        case .stringContainsNUL(let field): return "\(field): string contains a NUL byte"
        case .missingTensorFrame(let body): return "\(body) carries a tensor but no tensor frame follows the envelope"
        case .extraFrames(let body, let expected, let got):
            return "\(body): expected \(expected) frame(s), got \(got)"
        case .tooManyDimensions(let field, let rank, let limit):
            return "\(field): rank \(rank) exceeds the limit of \(limit)"
        case .invalidDimension(let field, let index, let value, let limit):
            return "\(field): dimension \(index) is \(value), must be in 0...\(limit)"
        case .tensorSizeMismatch(let field, let dtype, let shape, let expectedBytes, let gotBytes):
            return "\(field): dtype \(dtype) shape \(shape) needs \(expectedBytes) bytes, tensor frame has \(gotBytes)"
        case .shapeMismatch(let field, let expected, let got): return "\(field): expected \(expected), got shape \(got)"
        case .unexpectedMessage(let got, let expected):
            return "unexpected message \(got), expected one of \(expected.map(\.rawValue))"
        case .missingIdentityFrame: return "ROUTER message lacks the identity frame or a payload"
        case .contextTerminated: return "ZeroMQ context terminated"
        case .hostUnreachable(let peer): return "peer \(peer) is not connected"
        case .zmq(let operation, let errno, let message): return "\(operation) failed: \(message) (errno \(errno))"
        }
    }
}
