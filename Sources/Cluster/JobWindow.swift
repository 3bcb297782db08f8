import Foundation
import Wire

/// How a windowed run ended: how many jobs were sent, and which were still unanswered when the deadline passed
/// (none when every job got its final chunk or error).
public struct JobWindowEnd: Sendable, Equatable {
    /// Jobs submitted, indices `0..<sent`; the rest were never sent.
    public let sent: Int
    /// Submitted jobs without a final answer, in index order.
    public let unanswered: [Int]
}

extension ClusterClient {
    /// Runs `count` jobs with at most `concurrency` in flight: job `i` (request id "i", made by `request`) is sent as
    /// soon as a slot is free, and every event of a job in flight goes to `onEvent` with its index; a final chunk or
    /// an error frees the job's slot. `eventTimeout` bounds each wait for the router (its expiry throws
    /// `Failure.timeout`). With a `deadline`, nothing is sent after it and the run returns at it, leaving the jobs
    /// still in flight in `unanswered` for the caller to cancel or count. An error about no job in flight (a router-
    /// wide error) throws `Failure.server`. `l2s generate --file` and `l2s bench` are both this loop.
    public func runWindowed(
        jobs count: Int, concurrency: Int, eventTimeout: Duration, deadline: ContinuousClock.Instant? = nil,
        request: (Int) -> GenerateRequest, onSubmit: (Int) -> Void = { _ in },
        onEvent: (Int, Event) throws -> Void
    ) throws -> JobWindowEnd {
        var next = 0
        var inFlight = Set<Int>()
        func beforeDeadline() -> Bool { deadline.map { ContinuousClock.now < $0 } ?? true }
        while next < count || !inFlight.isEmpty {
            while inFlight.count < max(1, concurrency) && next < count && beforeDeadline() {
                try submit(request(next))
                onSubmit(next)
                inFlight.insert(next)
                next += 1
            }
            var wait = eventTimeout
            var waitEndsAtDeadline = false
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { break }
                if left <= eventTimeout { (wait, waitEndsAtDeadline) = (left, true) }
            }
            let event: Event
            do {
                event = try nextEvent(timeout: wait)
            } catch Failure.timeout where waitEndsAtDeadline {
                break
            }
            let index: Int?
            switch event {
            case .chunk(let chunk), .finished(let chunk): index = Int(chunk.requestID)
            case .failed(let error): index = Int(error.requestID)
            }
            guard let index, inFlight.contains(index) else {
                if case .failed(let error) = event { throw Failure.server(error) }
                continue  // a chunk of a job this run no longer waits for
            }
            if case .chunk = event {} else { inFlight.remove(index) }
            try onEvent(index, event)
        }
        return JobWindowEnd(sent: next, unanswered: inFlight.sorted())
    }
}
