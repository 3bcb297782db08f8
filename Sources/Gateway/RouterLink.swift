import Cluster
import Foundation
import Generation
import Synchronization
import Wire

/// The gateway's one connection to the router: a DEALER owned by a thread of its own and shared by every HTTP
/// request. Requests submit jobs and wait on their `JobEvents`; the link thread sends what they queue and hands each
/// job's chunks and errors to its waiter.
final class RouterLink: @unchecked Sendable {
    // @unchecked: the socket is touched by the link thread only; shared state is behind `state`'s mutex.

    /// The events of one job, in order, for the HTTP thread that waits on them.
    final class JobEvents: @unchecked Sendable {
        // @unchecked: `events` is guarded by `condition`.
        private let condition = NSCondition()
        private var events: [ClusterClient.Event] = []

        func deliver(_ event: ClusterClient.Event) {
            condition.lock()
            events.append(event)
            condition.signal()
            condition.unlock()
        }

        /// The next event, waiting at most `timeout`; nil when none came in time.
        func next(timeout: Duration) -> ClusterClient.Event? {
            let deadline = Date().addingTimeInterval(timeout.inSeconds)
            condition.lock()
            defer { condition.unlock() }
            while events.isEmpty {
                if !condition.wait(until: deadline) { return nil }
            }
            return events.removeFirst()
        }
    }

    private struct State {
        var outgoing: [Message] = []
        var jobs: [String: JobEvents] = [:]
        var statsWaiters: [JobStatsWaiter] = []
    }

    /// A `stats` call waiting for the router's reply.
    private final class JobStatsWaiter: @unchecked Sendable {
        let semaphore = DispatchSemaphore(value: 0)
        var reply: StatsReply?
    }

    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)
    private let wake: WakeChannel
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let done = DispatchSemaphore(value: 0)
    private let log: ServiceLog

    /// Connects to the router's clients endpoint (over CURVE with `curveServerKey`) and starts the link thread.
    init(router endpoint: String, curveServerKey: String?, log: ServiceLog) throws {
        self.log = log
        context = try ZMQContext()
        wake = try WakeChannel(context: context)
        socket = try ZMQSocket(context: context, type: .dealer)
        try socket.set(.linger(milliseconds: 0))
        if let curveServerKey { try CurveKeys.secureClient(socket, serverKey: curveServerKey) }
        do {
            try socket.connect(endpoint)
        } catch {
            throw ClusterError.connectFailed(endpoint: endpoint, reason: error.description)
        }
        let worker = Thread { [self] in
            run()
            done.signal()
        }
        worker.name = "l2s-gateway-router"
        worker.start()
    }

    /// Sends `request` and returns where its events will arrive.
    func submit(_ request: GenerateRequest) -> JobEvents {
        let events = JobEvents()
        state.withLock {
            $0.jobs[request.requestID] = events
            $0.outgoing.append(.generate(request))
        }
        wake.poke()
        return events
    }

    /// Cancels a job (its client went away) and forgets its events.
    func cancel(_ requestID: String) {
        state.withLock {
            $0.jobs[requestID] = nil
            $0.outgoing.append(.cancel(Cancel(requestID: requestID)))
        }
        wake.poke()
    }

    /// Forgets a finished job's events.
    func finished(_ requestID: String) {
        _ = state.withLock { $0.jobs.removeValue(forKey: requestID) }
    }

    /// The router's statistics, or nil when it does not answer within `timeout`.
    func stats(timeout: Duration) -> StatsReply? {
        let waiter = JobStatsWaiter()
        state.withLock {
            $0.statsWaiters.append(waiter)
            $0.outgoing.append(.statsRequest(StatsRequest()))
        }
        wake.poke()
        if waiter.semaphore.wait(timeout: .now() + timeout.inSeconds) == .timedOut {
            state.withLock { $0.statsWaiters.removeAll { $0 === waiter } }
            return nil
        }
        return waiter.reply
    }

    /// Stops the link thread and closes the connection.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.poke()
        done.wait()
    }

    private func run() {
        let poller = ZMQPoller()
        poller.add(socket)
        poller.add(wake.receiver)
        defer {
            socket.close()
            wake.close()
            context.shutdown()
        }
        while !stopped.load(ordering: .relaxed) {
            do {
                let ready = try poller.poll(timeoutMilliseconds: 1000)
                if ready.contains(1) { try wake.drain() }
                for message in state.withLock({ state in
                    defer { state.outgoing = [] }
                    return state.outgoing
                }) {
                    if (try? socket.send(message, blocking: false)) != true {
                        log.warning("the router is not taking messages; dropped a \(message.kind)")
                        // A job that never reached the router is answered here, not left waiting.
                        if case .generate(let request) = message {
                            dispatch(
                                .error(
                                    ErrorReply(
                                        code: .unavailable,
                                        message: "the router at this gateway's endpoint is not taking jobs",
                                        requestID: request.requestID)))
                        }
                    }
                }
                if ready.contains(0) {
                    while let frames = try socket.receive(timeoutMilliseconds: 0) {
                        do {
                            dispatch(try WireCodec.decode(frames))
                        } catch {
                            log.warning("bad message from the router: \(error)")
                        }
                    }
                }
            } catch {
                log.warning("router link: \(error)")
            }
        }
    }

    private func dispatch(_ message: Message) {
        switch message {
        case .tokenChunk(let chunk): deliver(chunk)
        case .tokenChunks(let chunks): chunks.forEach(deliver)
        case .error(let error) where !error.requestID.isEmpty:
            state.withLock { $0.jobs[error.requestID] }?.deliver(.failed(error))
        case .error(let error):
            log.warning("router: \(error.code): \(error.message)")
        case .statsReply(let reply):
            if let waiter = state.withLock({ $0.statsWaiters.isEmpty ? nil : $0.statsWaiters.removeFirst() }) {
                waiter.reply = reply
                waiter.semaphore.signal()
            }
        default:
            break
        }
    }

    private func deliver(_ chunk: TokenChunk) {
        let event: ClusterClient.Event = chunk.finishReason == .unspecified ? .chunk(chunk) : .finished(chunk)
        state.withLock { $0.jobs[chunk.requestID] }?.deliver(event)
    }
}
