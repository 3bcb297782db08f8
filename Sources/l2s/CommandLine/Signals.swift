import Foundation

/// Turns SIGINT and SIGTERM into calls of a handler (one per signal received), so services can stop cleanly:
/// drain, close sockets, say goodbye to peers, stop child processes.
///
/// No signal is lost, however early it comes: `blockEarly()` blocks both signals before the process starts any
/// thread (every thread inherits the mask), so a signal that arrives before the handler exists stays pending, and
/// a dedicated thread takes pending and later ones with `sigwait`. (A dispatch source armed after `SIG_IGN`, the
/// earlier design, dropped a signal that came between the two.)
final class TerminationSignals {
    private static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    /// Blocks SIGINT and SIGTERM in the calling thread and in every thread it starts from now on. Call it before
    /// the process starts threads (at the top of `main`), for subcommands that install `TerminationSignals`.
    static func blockEarly() {
        var set = Self.set
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Starts the thread that calls `handler` for every SIGINT/SIGTERM, pending ones first.
    init(_ handler: @escaping @Sendable () -> Void) {
        Self.blockEarly()
        let thread = Thread {
            var set = Self.set
            var number: Int32 = 0
            while true {
                guard sigwait(&set, &number) == 0 else { continue }
                handler()
            }
        }
        thread.name = "l2s-signals"
        thread.start()
    }
}
