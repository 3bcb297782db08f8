import CMicroHTTPD
import Foundation

/// One HTTP request as the server hands it over: method, path, body, and its headers by (case-insensitive) name.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, ...
    public let method: String
    /// The path without the query string.
    public let path: String
    /// The whole request body.
    public let body: [UInt8]
    /// Header values by lowercased name.
    public let headers: [String: String]
}

/// What a handler answers: a whole body, or a stream whose pieces come from `next` until it returns nil.
public enum HTTPResponse: Sendable {
    /// A complete response.
    case full(status: Int, headers: [(String, String)], body: [UInt8])
    /// A chunked response: `next` is called (on the connection's thread) for each piece and may block until one
    /// is ready; `clientGone` tells it when the client has closed the connection. nil ends the stream. `end` is
    /// called once when the response is released, whether it was sent whole or the connection broke.
    case stream(
        status: Int, headers: [(String, String)], next: @Sendable (_ clientGone: () -> Bool) -> [UInt8]?,
        end: @Sendable () -> Void)
}

/// An HTTP/1.1 server on libmicrohttpd, one thread per connection (so handlers may block while a job runs). The
/// handler gets the request and a `clientGone` check; it runs on the connection's thread.
public final class HTTPServer: @unchecked Sendable {
    // @unchecked: `daemon` is set once in init and only read by `stop`; the handler is immutable.
    /// What answers each request: the request and a check of whether its client has gone, to the response.
    public typealias Handler = @Sendable (HTTPRequest, _ clientGone: @escaping () -> Bool) -> HTTPResponse

    /// Largest request body accepted; larger ones get 413.
    public static let maxBodyBytes = 4 << 20

    private var daemon: OpaquePointer?
    fileprivate let handler: Handler
    /// The port it listens on (resolved when started on port 0).
    public private(set) var port: UInt16 = 0

    /// Starts listening on `address` (IPv4) and `port` (0 = any free port).
    public init(address: String, port: UInt16, handler: @escaping Handler) throws {
        self.handler = handler
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard let daemon = l2s_http_start(address, port, accessHandler, context, completedHandler, context, 600) else {
            throw HTTPServerError.startFailed(address: "\(address):\(port)", reason: String(cString: strerror(errno)))
        }
        self.daemon = daemon
        self.port = l2s_http_port(daemon)
    }

    /// Stops accepting and closes every connection; returns once the daemon's threads ended.
    public func stop() {
        if let daemon { MHD_stop_daemon(daemon) }
        daemon = nil
    }

    deinit { stop() }
}

/// The server could not start.
public enum HTTPServerError: Error, CustomStringConvertible {
    case startFailed(address: String, reason: String)

    public var description: String {
        switch self {
        case .startFailed(let address, let reason): return "cannot listen for HTTP on \(address): \(reason)"
        }
    }
}

/// A request being received: its body so far.
private final class RequestState {
    var body: [UInt8] = []
    var tooLarge = false
}

/// A streamed response being sent: the bytes of the current piece not yet handed to libmicrohttpd.
private final class StreamState {
    let next: @Sendable (_ clientGone: () -> Bool) -> [UInt8]?
    let end: @Sendable () -> Void
    let connection: OpaquePointer
    var pending: [UInt8] = []
    var offset = 0

    init(
        next: @escaping @Sendable (_ clientGone: () -> Bool) -> [UInt8]?, end: @escaping @Sendable () -> Void,
        connection: OpaquePointer
    ) {
        self.next = next
        self.end = end
        self.connection = connection
    }
}

// libmicrohttpd's closed C enums, by value (Swift imports them as enums whose case names vary by importer).
private let mhdNo = MHD_Result(rawValue: 0)!
private let mhdYes = MHD_Result(rawValue: 1)!
private let headerKind = MHD_ValueKind(rawValue: 1)!  // MHD_HEADER_KIND
private let mustCopy = MHD_ResponseMemoryMode(rawValue: 2)!  // MHD_RESPMEM_MUST_COPY

private func header(_ connection: OpaquePointer?, _ name: String) -> String? {
    MHD_lookup_connection_value(connection, headerKind, name).map { String(cString: $0) }
}

private let accessHandler: MHD_AccessHandlerCallback = {
    context, connection, url, method, _, uploadData, uploadSize, requestContext in
    guard let context, let connection, let uploadSize, let requestContext else { return mhdNo }
    let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
    guard let stateRaw = requestContext.pointee else {
        requestContext.pointee = Unmanaged.passRetained(RequestState()).toOpaque()
        return mhdYes
    }
    let state = Unmanaged<RequestState>.fromOpaque(stateRaw).takeUnretainedValue()
    if uploadSize.pointee > 0 {
        if state.body.count + uploadSize.pointee > HTTPServer.maxBodyBytes {
            state.tooLarge = true
        } else if let uploadData {
            uploadData.withMemoryRebound(to: UInt8.self, capacity: uploadSize.pointee) {
                state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: uploadSize.pointee))
            }
        }
        uploadSize.pointee = 0
        return mhdYes
    }
    var names: [String: String] = [:]
    for name in ["content-type", "x-request-id", "authorization", "accept"] {
        if let value = header(connection, name) { names[name] = value }
    }
    let path = String(cString: url!).split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
    let request = HTTPRequest(method: String(cString: method!), path: path, body: state.body, headers: names)
    let response: HTTPResponse
    if state.tooLarge {
        response = .full(
            status: 413, headers: [("Content-Type", "application/json")],
            body: Array(
                (#"{"error":{"message":"request body exceeds 4 MiB","type":"invalid_request_error","#
                    + #""param":null,"code":"request_too_large"}}"#).utf8))
    } else {
        response = server.handler(request) { l2s_http_client_gone(connection) != 0 }
    }
    return queue(response, on: connection)
}

private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let status: Int
    let headers: [(String, String)]
    let made: OpaquePointer?
    switch response {
    case .full(let code, let fields, let body):
        (status, headers) = (code, fields)
        made = body.withUnsafeBytes {
            MHD_create_response_from_buffer(
                body.count, UnsafeMutableRawPointer(mutating: $0.baseAddress),
                mustCopy)
        }
    case .stream(let code, let fields, let next, let end):
        (status, headers) = (code, fields)
        let stream = Unmanaged.passRetained(StreamState(next: next, end: end, connection: connection)).toOpaque()
        made = MHD_create_response_from_callback(UInt64.max, 16 << 10, streamReader, stream, streamFree)
    }
    guard let made else { return mhdNo }
    defer { MHD_destroy_response(made) }
    for (name, value) in headers { MHD_add_response_header(made, name, value) }
    return MHD_queue_response(connection, UInt32(status), made)
}

private let streamReader: MHD_ContentReaderCallback = { context, _, buffer, capacity in
    guard let context, let buffer else { return -2 }
    let stream = Unmanaged<StreamState>.fromOpaque(context).takeUnretainedValue()
    while stream.offset >= stream.pending.count {
        guard let piece = stream.next({ l2s_http_client_gone(stream.connection) != 0 }) else { return -1 }
        stream.pending = piece
        stream.offset = 0
    }
    let count = min(capacity, stream.pending.count - stream.offset)
    stream.pending.withUnsafeBytes { source in
        UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + stream.offset, byteCount: count)
    }
    stream.offset += count
    return count
}

private let streamFree: MHD_ContentReaderFreeCallback = { context in
    guard let context else { return }
    let stream = Unmanaged<StreamState>.fromOpaque(context)
    stream.takeUnretainedValue().end()
    stream.release()
}

private let completedHandler: MHD_RequestCompletedCallback = { _, _, requestContext, _ in
    guard let requestContext, let state = requestContext.pointee else { return }
    Unmanaged<RequestState>.fromOpaque(state).release()
    requestContext.pointee = nil
}
