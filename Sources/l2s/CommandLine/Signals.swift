import Foundation

/// The pipe the signal handler writes one byte to per SIGINT/SIGTERM; read by `TerminationSignals`' thread.
/// Written once by `TerminationSignals.install()` before the handler exists, then only read (by the handler), which
/// is what makes the unchecked access sound.
nonisolated(unsafe) private var signalPipe: (read: Int32, write: Int32) = (-1, -1)

/// Turns SIGINT and SIGTERM into calls of a handler (one per signal received), so services can stop cleanly:
/// drain, close sockets, say goodbye to peers, stop child processes.
///
/// No signal is lost or fatal, however early it comes: `install()`, at the top of `main` before any thread exists,
/// sets a handler that only writes a byte to a pipe (async-signal-safe), and blocks both signals in the main thread
/// (so every thread it starts, the ZeroMQ pollers included, inherits the mask and is never interrupted). The pipe
/// keeps each notice until `TerminationSignals` reads it, whenever that is created; its thread unblocks the signals,
/// so there is always a thread to take them. (A dispatch source armed after `SIG_IGN`, the earlier design, dropped a
/// signal that came between the two.)
final class TerminationSignals {
    /// Installs the handler and blocks SIGINT/SIGTERM in the calling (main) thread. Call it before the process starts
    /// threads, for subcommands that create `TerminationSignals`.
    static func install() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)  // a flood of signals must never block the handler
        signalPipe = (fds[0], fds[1])
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 1
            _ = write(signalPipe.write, &byte, 1)
        }
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        for number in [SIGINT, SIGTERM] { sigaction(number, &action, nil) }
        var set = terminationSet
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private static var terminationSet: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    /// Starts the thread that calls `handler` for every SIGINT/SIGTERM, those that came before first.
    init(_ handler: @escaping @Sendable () -> Void) {
        let descriptor = signalPipe.read
        guard descriptor >= 0 else { return }
        let thread = Thread {
            var set = Self.terminationSet
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            var byte: UInt8 = 0
            while true {
                let count = read(descriptor, &byte, 1)
                if count == 1 { handler() } else if count < 0 && errno == EINTR { continue } else { return }
            }
        }
        thread.name = "l2s-signals"
        thread.start()
    }
}
