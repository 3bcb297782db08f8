import Foundation

/// What the link thread hands an engine's compute thread: jobs, cancels, and "the router connection was lost".
/// Thread-safe: every field is read and written with `condition` locked, which is what makes the
/// unchecked Sendable sound.
final class EngineMailbox<Job>: @unchecked Sendable {
    /// One batch of news for the compute thread.
    struct Delivery {
        var jobs: [Job] = []
        var cancels: Set<String> = []
        var abandoned = false
    }

    private let condition = NSCondition()
    private var news = Delivery()
    private var stopping = false

    /// A job from the router.
    func post(_ job: Job) { update { $0.news.jobs.append(job) } }

    /// The router cancelled job `id`.
    func cancel(_ id: String) { update { $0.news.cancels.insert(id) } }

    /// Every job in hand is void: queued ones are dropped, the compute thread drops its active ones.
    func abandon() {
        update {
            $0.news = Delivery()
            $0.news.abandoned = true
        }
    }

    /// Makes `take` return nil from now on.
    func requestStop() { update { $0.stopping = true } }

    /// The news so far, at most `maxJobs` jobs of it (the rest stay queued). With `block`, waits until there is
    /// news; with `fillWait`, then waits up to that long for `maxJobs` jobs to arrive. Nil once stopping.
    func take(maxJobs: Int = .max, block: Bool, fillWait: Duration = .zero) -> Delivery? {
        condition.lock()
        defer { condition.unlock() }
        while block && isEmpty && !stopping { condition.wait() }
        if fillWait > .zero && !news.jobs.isEmpty {
            let until = Date().addingTimeInterval(Double(fillWait.milliseconds) / 1000)
            while news.jobs.count < maxJobs && !stopping && condition.wait(until: until) {}
        }
        if stopping { return nil }
        var delivery = news
        delivery.jobs = Array(news.jobs.prefix(maxJobs))
        let rest = Array(news.jobs.dropFirst(maxJobs))
        news = Delivery()
        news.jobs = rest
        return delivery
    }

    private var isEmpty: Bool { news.jobs.isEmpty && news.cancels.isEmpty && !news.abandoned }

    private func update(_ change: (EngineMailbox) -> Void) {
        condition.lock()
        change(self)
        condition.signal()
        condition.unlock()
    }
}

/// An engine's dedicated compute thread, joined when the engine stops.
final class ComputeThread: @unchecked Sendable {
    // `started` is written once by `start` on the link thread before the thread exists and read by `join` on
    // the same thread, so it needs no lock.
    private let finished = DispatchSemaphore(value: 0)
    private var started = false

    /// Runs `body` on a new thread named `name`.
    func start(name: String, _ body: @escaping @Sendable () -> Void) {
        started = true
        let thread = Thread { [finished] in
            body()
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Waits for `body` to return (at once if never started).
    func join() {
        if started { finished.wait() }
    }
}
