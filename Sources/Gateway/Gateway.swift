import Cluster
import Foundation
import Generation
import HTTP
import Metrics
import Synchronization
import Wire

/// `l2s gateway`: the OpenAI-compatible HTTP front end. It holds no state of its own beyond requests in flight
/// (several can run behind one load balancer): each HTTP request becomes router jobs over one shared connection
/// (`RouterLink`), and their chunks become an OpenAI response or Server-Sent Events. docs/http.md has the API.
public final class Gateway: Sendable {
    /// Where to listen and what to serve.
    public struct Settings: Sendable {
        /// The router's clients endpoint.
        public var router: String
        /// The router's CURVE public key, when it requires CURVE.
        public var curveServerKey: String?
        /// IPv4 address and port to listen on (port 0 = any free port).
        public var address: String
        public var port: UInt16
        /// The model name clients must use (or omit), and the bundle fingerprint `/v1/models` shows.
        public var modelName: String
        public var fingerprint: String

        /// Settings from their fields.
        public init(
            router: String, curveServerKey: String?, address: String, port: UInt16, modelName: String,
            fingerprint: String
        ) {
            self.router = router
            self.curveServerKey = curveServerKey
            self.address = address
            self.port = port
            self.modelName = modelName
            self.fingerprint = fingerprint
        }
    }

    private let settings: Settings
    private let link: RouterLink
    private let server: Mutex<HTTPServer?> = Mutex(nil)
    private let counter = Atomic<UInt64>(0)
    private let log: ServiceLog
    private let metrics = MetricsRegistry()
    /// The port it listens on.
    public let port: UInt16

    /// Connects to the router and starts serving HTTP.
    public init(settings: Settings, log: ServiceLog) throws {
        self.settings = settings
        self.log = log
        link = try RouterLink(router: settings.router, curveServerKey: settings.curveServerKey, log: log)
        metrics.declare(
            "l2s_gateway_requests_total", .counter, help: "HTTP requests by route and status",
            labels: ["route", "status"])
        metrics.declare(
            "l2s_gateway_response_start_seconds", .histogram,
            help: "Request arrival to the response's status (the first token, for streams)", labels: ["route"],
            buckets: MetricsRegistry.latencyBuckets)
        let handler = Handler()
        let server = try HTTPServer(address: settings.address, port: settings.port) { request, clientGone in
            handler.gateway?.handle(request, clientGone: clientGone)
                ?? .full(status: 503, headers: [], body: Array("stopping".utf8))
        }
        port = server.port
        self.server.withLock { $0 = server }
        handler.gateway = self
    }

    /// Stops serving HTTP, then the router link.
    public func stop() {
        server.withLock { server in
            server?.stop()
            server = nil
        }
        link.stop()
    }

    /// Breaks the cycle server -> handler -> gateway -> server.
    private final class Handler: @unchecked Sendable {
        weak var gateway: Gateway?
    }

    func handle(_ request: HTTPRequest, clientGone: @escaping () -> Bool) -> HTTPResponse {
        let started = ContinuousClock.now
        let response = route(request, clientGone: clientGone)
        let status: Int
        switch response {
        case .full(let code, _, _), .stream(let code, _, _, _): status = code
        }
        let known = ["/health", "/ready", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions"]
        let route = known.contains(request.path) ? request.path : "other"
        metrics.add("l2s_gateway_requests_total", labels: [route, "\(status)"])
        metrics.observe(
            "l2s_gateway_response_start_seconds", (ContinuousClock.now - started).inSeconds, labels: [route])
        return response
    }

    private func route(_ request: HTTPRequest, clientGone: @escaping () -> Bool) -> HTTPResponse {
        // The client's id when logs and headers can carry it as it is (TraceID: up to 128 printable ASCII), else ours.
        let requestID =
            request.headers["x-request-id"].flatMap { $0.isEmpty || !TraceID.isValid($0) ? nil : $0 }
            ?? "req-\(UUID().uuidString.lowercased())"
        let reply = Reply(requestID: requestID)
        switch (request.method, request.path) {
        case ("GET", "/health"):
            return reply.json(200, ["status": "ok"])
        case ("GET", "/metrics"):
            return .full(
                status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                body: Array(metrics.render().utf8))
        case ("GET", "/ready"):
            guard let stats = link.stats(timeout: .seconds(2)) else {
                return reply.json(503, ["status": "the router does not answer"])
            }
            let encoders = stats.workers.filter { $0.role == .encoder }.count
            let decoders = stats.workers.filter { $0.role == .decoder }.count
            let ready = encoders > 0 && decoders > 0
            return reply.json(
                ready ? 200 : 503,
                [
                    "status": ready ? "ready" : "no workers", "encoders": encoders,
                    "decoders": decoders,
                ])
        case ("GET", "/v1/models"):
            return reply.json(200, ["object": "list", "data": [modelObject]])
        case ("GET", "/v1/models/\(settings.modelName)"):
            return reply.json(200, modelObject)
        case ("POST", "/v1/completions"), ("POST", "/v1/chat/completions"):
            let chat = request.path.hasSuffix("chat/completions")
            do {
                let completion = try CompletionRequest(body: request.body, chat: chat)
                if let model = completion.model, model != settings.modelName {
                    throw APIError(
                        status: 404,
                        message: "the model '\(model)' does not exist; this gateway serves "
                            + "'\(settings.modelName)'", type: "invalid_request_error", param: "model",
                        code: "model_not_found")
                }
                return try complete(completion, chat: chat, reply: reply, clientGone: clientGone)
            } catch {
                return reply.error(error)
            }
        case (_, "/health"), (_, "/ready"), (_, "/v1/models"), (_, "/v1/completions"), (_, "/v1/chat/completions"):
            return reply.error(
                APIError(
                    status: 405, message: "\(request.method) is not allowed on \(request.path)",
                    type: "invalid_request_error", param: nil, code: "method_not_allowed"))
        default:
            return reply.error(
                APIError(
                    status: 404, message: "no route \(request.method) \(request.path)",
                    type: "invalid_request_error", param: nil, code: "not_found"))
        }
    }

    private var modelObject: [String: Any] {
        [
            "id": settings.modelName, "object": "model", "created": 0, "owned_by": "l2s",
            "fingerprint": settings.fingerprint,
        ]
    }

    /// Runs the request's jobs: whole responses wait for every job; streams answer with the first event.
    private func complete(_ completion: CompletionRequest, chat: Bool, reply: Reply, clientGone: @escaping () -> Bool)
        throws(APIError) -> HTTPResponse
    {
        let serial = counter.add(1, ordering: .relaxed).newValue
        let ids = (0..<completion.jobCount).map { "\(reply.requestID)/\(serial)/\($0)" }
        let jobs = ids.indices.map { link.submit(completion.job($0, requestID: ids[$0], traceID: reply.requestID)) }
        let render = CompletionRender(
            id: reply.requestID, model: settings.modelName, chat: chat, logprobs: completion.logprobs != nil)
        let waiter = JobWaiter(link: link, ids: ids, jobs: jobs, clientGone: clientGone)
        guard completion.stream else {
            var choices: [(text: String, chunk: TokenChunk)] = []
            for index in jobs.indices {
                var text = ""
                var logprobs: [ChunkLogprob] = []
                while true {
                    switch waiter.next(index) {
                    case nil: return reply.json(499, ["error": "client closed the connection"])
                    case .chunk(let chunk):
                        text += chunk.textDelta
                        logprobs += chunk.logprobs
                    case .failed(let error):
                        waiter.cancelAll()
                        throw APIError.from(error)
                    case .finished(var chunk):
                        chunk.logprobs = logprobs + chunk.logprobs
                        choices.append((text + chunk.textDelta, chunk))
                    }
                    if choices.count > index { break }
                }
            }
            return reply.json(200, render.whole(choices))
        }
        // The status is decided by the first event: an error before any token is an HTTP error.
        guard let first = waiter.next(0) else { return reply.json(499, ["error": "client closed the connection"]) }
        if case .failed(let error) = first {
            waiter.cancelAll()
            throw APIError.from(error)
        }
        let stream = EventStream(waiter: waiter, render: render, first: first, count: jobs.count)
        return .stream(
            status: 200, headers: reply.headers(type: "text/event-stream") + [("Cache-Control", "no-cache")],
            next: { _ in stream.next() }, end: { stream.end() })
    }
}

/// The headers and bodies of one HTTP exchange: every response carries its `x-request-id`.
struct Reply {
    let requestID: String

    func headers(type: String) -> [(String, String)] { [("Content-Type", type), ("x-request-id", requestID)] }

    func json(_ status: Int, _ object: Any) -> HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return .full(status: status, headers: headers(type: "application/json"), body: Array(data))
    }

    func error(_ error: any Error) -> HTTPResponse {
        let api =
            error as? APIError
            ?? APIError(
                status: 500, message: "\(error)", type: "server_error", param: nil,
                code: nil)
        return json(api.status, api.json)
    }
}
