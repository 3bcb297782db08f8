import Foundation
import Wire

/// A client of the router's clients socket (one DEALER): submits jobs, receives their chunks, asks for stats.
/// Used by `l2s generate` and `l2s stats`; like its socket, it belongs to one thread.
public final class ClusterClient {
    /// What went wrong talking to the router.
    public enum Failure: Error, CustomStringConvertible {
        /// The router refused or failed the job.
        case server(ErrorReply)
        /// Nothing arrived for this long; `handshake` says why when the security handshake failed.
        case timeout(endpoint: String, seconds: Double, handshake: String?)

        public var description: String {
            switch self {
            case .server(let error):
                let job = error.requestID.isEmpty ? "" : " (request \(error.requestID))"
                return "router answered \(error.code)\(job): \(error.message)"
            case .timeout(let endpoint, let seconds, let handshake?):
                return "no answer from the router at \(endpoint) within \(seconds) s: \(handshake) (does it require "
                    + "CURVE, is --curve-server-key its public key, and is this client's key allowed?)"
            case .timeout(let endpoint, let seconds, nil):
                return "no answer from the router at \(endpoint) within \(seconds) s (is it running?)"
            }
        }
    }

    /// One event of a job: a streamed chunk, its final chunk, or its error.
    public enum Event {
        case chunk(TokenChunk)
        case finished(TokenChunk)
        case failed(ErrorReply)
    }

    private let context: ZMQContext
    private let socket: ZMQSocket
    /// Handshake results of the socket, to say why a router is silent.
    private let monitor: SocketMonitor
    /// Job events that arrived while `stats` waited for its reply, handed out by `nextEvent` first.
    private var heldEvents: [Event] = []
    /// The router endpoint this client talks to.
    public let endpoint: String

    /// Connects to the router's clients endpoint (the connection itself is made in the background); with
    /// `curveServerKey`, over CURVE.
    public init(router endpoint: String, curveServerKey: String? = nil) throws {
        self.endpoint = endpoint
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, type: .dealer)
        try socket.set(.linger(milliseconds: 0))
        if let curveServerKey { try CurveKeys.secureClient(socket, serverKey: curveServerKey) }
        monitor = try SocketMonitor(socket, context: context, name: "client-\(UUID().uuidString)")
        do {
            try socket.connect(endpoint)
        } catch {
            throw ClusterError.connectFailed(endpoint: endpoint, reason: error.description)
        }
    }

    deinit {
        monitor.close()
        socket.close()
        context.shutdown()
    }

    /// Sends a job; its events come from `nextEvent`.
    public func submit(_ request: GenerateRequest) throws {
        try socket.send(.generate(request))
    }

    /// Asks the router to cancel a job of this client.
    public func cancel(requestID: String) throws {
        try socket.send(.cancel(Cancel(requestID: requestID)))
    }

    /// The next event of any job of this client; throws `timeout` when the router stays silent that long.
    public func nextEvent(timeout: Duration) throws -> Event {
        let deadline = ContinuousClock.now + timeout
        while heldEvents.isEmpty {
            // Heartbeats or replies this client did not ask for carry no event.
            heldEvents += Self.events(try receive(before: deadline, timeout: timeout))
        }
        return heldEvents.removeFirst()
    }

    /// The job events a message carries, in order.
    private static func events(_ message: Message) -> [Event] {
        func event(_ chunk: TokenChunk) -> Event {
            chunk.finishReason == .unspecified ? .chunk(chunk) : .finished(chunk)
        }
        switch message {
        case .tokenChunk(let chunk): return [event(chunk)]
        case .tokenChunks(let chunks): return chunks.map(event)
        case .error(let error): return [.failed(error)]
        default: return []
        }
    }

    /// Runs one job to completion, passing streamed chunks to `onChunk`; returns the final chunk.
    public func generate(
        _ request: GenerateRequest, timeout: Duration = .seconds(120),
        onChunk: (TokenChunk) -> Void = { _ in }
    ) throws -> TokenChunk {
        try submit(request)
        while true {
            switch try nextEvent(timeout: timeout) {
            case .chunk(let chunk) where chunk.requestID == request.requestID:
                onChunk(chunk)
            case .finished(let chunk) where chunk.requestID == request.requestID:
                return chunk
            case .failed(let error) where error.requestID == request.requestID || error.requestID.isEmpty:
                throw Failure.server(error)
            default:
                continue
            }
        }
    }

    /// The router's statistics. Events of this client's jobs that arrive meanwhile are kept for `nextEvent`, so
    /// asking for stats while jobs run loses none of their chunks; only an error about no job (the stats request
    /// itself) fails the call.
    public func stats(timeout: Duration = .seconds(5)) throws -> StatsReply {
        try socket.send(.statsRequest(StatsRequest()))
        let deadline = ContinuousClock.now + timeout
        while true {
            let message = try receive(before: deadline, timeout: timeout)
            if case .statsReply(let reply) = message { return reply }
            if case .error(let error) = message, error.requestID.isEmpty { throw Failure.server(error) }
            heldEvents += Self.events(message)
        }
    }

    /// The next message, or `timeout` (the caller's whole wait, for the message) once `deadline` passes.
    private func receive(before deadline: ContinuousClock.Instant, timeout: Duration) throws -> Message {
        let left = deadline - .now
        guard left > .zero,
            let message = try socket.receiveMessage(timeoutMilliseconds: Int(max(1, left.milliseconds)))
        else {
            var handshake: String?
            while let event = try monitor.next() {
                if event.isHandshakeFailure { handshake = "\(event)" }
            }
            throw Failure.timeout(
                endpoint: endpoint, seconds: Double(timeout.milliseconds) / 1000, handshake: handshake)
        }
        return message
    }
}
