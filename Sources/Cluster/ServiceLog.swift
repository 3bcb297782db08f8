import Foundation

/// One line per event on standard error, prefixed with the time and the component, so the logs of
/// several services started together stay readable.
public struct ServiceLog: Sendable {
    /// The component name (`router`, `encoder`, `decoder 2`).
    public let component: String
    /// Whether `debug` lines are printed (`L2S_LOG=debug`).
    public let verbose: Bool

    /// A log for `component`; verbosity from `L2S_LOG`.
    public init(component: String, verbose: Bool = ProcessInfo.processInfo.environment["L2S_LOG"] == "debug") {
        self.component = component
        self.verbose = verbose
    }

    /// An event an operator wants to see (start, peers joining or leaving, failures).
    public func info(_ text: @autoclosure () -> String) { write("info", text()) }
    /// Something went wrong but the service carries on.
    public func warning(_ text: @autoclosure () -> String) { write("warning", text()) }
    /// Per-message detail, off unless `L2S_LOG=debug`.
    public func debug(_ text: @autoclosure () -> String) { if verbose { write("debug", text()) } }

    private func write(_ level: String, _ text: String) {
        let stamp = Date().formatted(.iso8601.time(includingFractionalSeconds: true))
        FileHandle.standardError.write(Data("\(stamp) \(component) \(level): \(text)\n".utf8))
    }
}
