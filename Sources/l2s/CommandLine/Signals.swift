import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a call of `handler` (once), so services can stop cleanly: close sockets,
/// say goodbye to peers, stop child processes.
final class TerminationSignals {
    private let sources: [any DispatchSourceSignal]

    /// Installs the handler; keep the returned object alive as long as it should apply.
    init(_ handler: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "l2s.signals")
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }
}
