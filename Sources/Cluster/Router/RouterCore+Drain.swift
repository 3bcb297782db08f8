import Wire

/// Shutting the router down without cutting streams: `beginDrain` refuses new jobs, the jobs in flight run on
/// (queued ones are still placed), and what has not finished when the service's drain bound passes is ended
/// with `failUnfinished`, each client told why.
extension RouterCore {
    /// From now on new jobs are refused with `UNAVAILABLE`; running and queued jobs go on.
    public func beginDrain() {
        guard !isDraining else { return }
        isDraining = true
        notices.append("draining: new jobs are refused; \(jobs.count) jobs in flight run on")
    }

    /// Jobs not yet finished (on a decoder, waiting for one, or for their encoding).
    public var unfinishedJobs: Int { jobs.count }

    /// Ends every unfinished job with `UNAVAILABLE` saying the router shut down and after how many tokens.
    public func failUnfinished(after bound: Duration, now: ContinuousClock.Instant) -> [Outgoing] {
        var out: [Outgoing] = []
        let unfinished = jobs.values.sorted(by: { $0.internalID < $1.internalID })
        for job in unfinished {
            out += finish(
                job, reason: .unspecified,
                error: ErrorReply(
                    code: .unavailable,
                    message: "the router shut down: this job was unfinished after the drain bound of \(bound) "
                        + "(\(job.streamed.count) tokens generated); submit it again"), now: now)
        }
        if !unfinished.isEmpty {
            notices.append("drain bound \(bound) passed: ended \(unfinished.count) unfinished jobs")
        }
        return out
    }
}
