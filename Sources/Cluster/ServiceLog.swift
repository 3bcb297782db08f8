import Foundation

/// One line per event on standard error. As text (the default): the time, the component, the level and the
/// message, so the logs of several services started together stay readable. As JSON (`L2S_LOG_FORMAT=json`): one
/// object per line with `ts`, `level`, `component`, `msg`, and `request_id` when the event concerns one job, for
/// log collectors.
public struct ServiceLog: Sendable {
    /// How lines are written.
    public enum Format: String, Sendable { case text, json }

    /// The component name (`router`, `encoder`, `decoder 2`).
    public let component: String
    /// Whether `debug` lines are printed (`L2S_LOG=debug`).
    public let verbose: Bool
    /// Text or JSON lines (`L2S_LOG_FORMAT`).
    public let format: Format

    /// A log for `component`; verbosity from `L2S_LOG`, format from `L2S_LOG_FORMAT`.
    public init(component: String, verbose: Bool = ProcessInfo.processInfo.environment["L2S_LOG"] == "debug",
                format: Format = Format(rawValue: ProcessInfo.processInfo.environment["L2S_LOG_FORMAT"] ?? "") ?? .text) {
        self.component = component
        self.verbose = verbose
        self.format = format
    }

    /// An event an operator wants to see (start, peers joining or leaving, failures).
    public func info(_ text: @autoclosure () -> String, requestID: String? = nil) { write("info", text(), requestID) }
    /// Something went wrong but the service carries on.
    public func warning(_ text: @autoclosure () -> String, requestID: String? = nil) {
        write("warning", text(), requestID)
    }
    /// Per-message detail, off unless `L2S_LOG=debug`.
    public func debug(_ text: @autoclosure () -> String, requestID: String? = nil) {
        if verbose { write("debug", text(), requestID) }
    }

    private func write(_ level: String, _ text: String, _ requestID: String?) {
        let stamp = Date().formatted(.iso8601.time(includingFractionalSeconds: true))
        let line: String
        switch format {
        case .text:
            line = "\(stamp) \(component) \(level): \(text)" + (requestID.map { " [\($0)]" } ?? "") + "\n"
        case .json:
            var object: [String: String] = ["ts": Date().formatted(.iso8601), "level": level, "component": component,
                "msg": text]
            if let requestID { object["request_id"] = requestID }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self) + "\n"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }
}
