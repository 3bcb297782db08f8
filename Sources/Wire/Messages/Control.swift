/// What a peer is; values match `l2s.Role`.
public enum Role: Int32, Sendable, CaseIterable {
    /// Not set.
    case unspecified = 0
    /// A client submitting jobs.
    case client = 1
    /// An encoder service (LLM encoder + projector).
    case encoder = 2
    /// A decoder worker (SLM).
    case decoder = 3
    /// The router.
    case router = 4
}

/// Hex SHA-256 fingerprints of what a worker serves (`l2s.Fingerprints`); empty strings when not applicable.
public struct Fingerprints: Sendable, Equatable, Hashable {
    /// Frozen LLM encoder weights.
    public var llm: String
    /// Projector weights.
    public var projector: String
    /// SLM weights.
    public var slm: String
    /// LLM tokenizer files.
    public var tokenizer: String

    /// Fingerprints from their hex strings.
    public init(llm: String = "", projector: String = "", slm: String = "", tokenizer: String = "") {
        self.llm = llm
        self.projector = projector
        self.slm = slm
        self.tokenizer = tokenizer
    }
}

/// What an encoding of a bundle looks like on the wire (`l2s.EncodingSpec`): the router checks every encoding an
/// encoder returns against the spec the cluster is pinned to.
public struct EncodingSpec: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The bundle's wire dtype; nil when the peer sent none (or an unknown value, refused at decoding).
    public var dtype: DType?
    /// Columns of the encoding: d_slm when projected, d_llm when the decoder projects.
    public var width: UInt32
    /// Whether the projector ran on the encoder (Z) or runs on the decoder (H).
    public var projected: Bool

    /// A spec from its fields.
    public init(dtype: DType?, width: UInt32, projected: Bool) {
        self.dtype = dtype
        self.width = width
        self.projected = projected
    }

    /// E.g. `float16 [m, 32], projected`.
    public var description: String {
        "\(dtype.map { "\($0)" } ?? "no dtype") [m, \(width)], \(projected ? "projected" : "not projected")"
    }
}

/// First message of a worker after (re)connecting (`l2s.Hello`).
public struct Hello: Sendable, Equatable {
    /// What the sender is.
    public var role: Role
    /// A stable id for logs and stats.
    public var workerID: String
    /// What the worker serves; jobs only go to workers whose fingerprints match.
    public var fingerprints: Fingerprints
    /// Job slots in total.
    public var capacity: UInt32
    /// How often this peer sends heartbeats, in milliseconds.
    public var heartbeatIntervalMs: UInt32
    /// Software release, e.g. `L2SVersion.software`.
    public var software: String
    /// The encodings the worker ships (encoder) or accepts (decoder); nil when the peer sent none.
    public var encoding: EncodingSpec?
    /// A decoder's kernel variant (`avx512`, `avx2`, `baseline`): part of its numeric identity, so a job resumes
    /// after failover only on a decoder of the same variant. Empty when the peer sent none.
    public var kernels: String

    /// A hello from its fields.
    public init(
        role: Role, workerID: String, fingerprints: Fingerprints = Fingerprints(), capacity: UInt32 = 0,
        heartbeatIntervalMs: UInt32 = 0, software: String = L2SVersion.software, encoding: EncodingSpec? = nil,
        kernels: String = ""
    ) {
        self.encoding = encoding
        self.kernels = kernels
        self.role = role
        self.workerID = workerID
        self.fingerprints = fingerprints
        self.capacity = capacity
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.software = software
    }
}

/// Liveness signal, both ways (`l2s.Heartbeat`).
public struct Heartbeat: Sendable, Equatable {
    /// Sender's wall clock in Unix milliseconds.
    public var sentAtUnixMs: UInt64

    /// A heartbeat stamped with `sentAtUnixMs`.
    public init(sentAtUnixMs: UInt64) { self.sentAtUnixMs = sentAtUnixMs }
}

/// Flow control: the worker grants this many more jobs (`l2s.Credit`).
public struct Credit: Sendable, Equatable {
    /// Additional jobs the sender accepts.
    public var credits: UInt32

    /// A grant of `credits` jobs.
    public init(credits: UInt32) { self.credits = credits }
}

/// Sent before a clean shutdown (`l2s.Goodbye`); with `draining`, the notice that one will follow.
public struct Goodbye: Sendable, Equatable {
    /// Why the peer leaves.
    public var reason: String
    /// The peer is leaving soon: send it no new work; it finishes what it holds, then says goodbye again.
    public var draining: Bool

    /// A goodbye with a reason (`draining`: not yet gone, finishing what it holds).
    public init(reason: String, draining: Bool = false) {
        self.reason = reason
        self.draining = draining
    }
}

/// Cancels a job everywhere it is (`l2s.Cancel`).
public struct Cancel: Sendable, Equatable {
    /// The job to cancel.
    public var requestID: String

    /// A cancel for `requestID`.
    public init(requestID: String) { self.requestID = requestID }
}

/// Error categories; values match `l2s.ErrorCode`.
public enum ErrorCode: Int32, Sendable, CaseIterable {
    /// Not set.
    case unspecified = 0
    /// The request is malformed or violates a limit.
    case badRequest = 1
    /// The peer speaks another protocol version.
    case unsupportedVersion = 2
    /// The queue is full; retry later.
    case overloaded = 3
    /// The job was cancelled.
    case cancelled = 4
    /// The job's deadline passed.
    case deadlineExceeded = 5
    /// A bug or unexpected failure on the sender's side.
    case `internal` = 6
    /// The fingerprints of job and worker differ.
    case bundleMismatch = 7
    /// The prompt exceeds what the models accept.
    case promptTooLong = 8
    /// A frame exceeded the size limit.
    case messageTooLarge = 9
    /// No worker can take the job.
    case unavailable = 10
}

/// An error reply (`l2s.Error`; renamed so it does not shadow Swift's `Error`).
public struct ErrorReply: Sendable, Equatable {
    /// Category.
    public var code: ErrorCode
    /// Human-readable detail naming what, where and the values.
    public var message: String
    /// The job concerned; empty when the error is not about one request.
    public var requestID: String

    /// An error reply from its fields.
    public init(code: ErrorCode, message: String, requestID: String = "") {
        self.code = code
        self.message = message
        self.requestID = requestID
    }
}
