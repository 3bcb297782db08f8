import Foundation

/// One line per event on standard error. As text (the default): the time, the component, the level and the
/// message, so the logs of several services started together stay readable. As JSON (`L2S_LOG_FORMAT=json`,
/// `--log-format json`): one object per line with `ts`, `level`, `service`, `pid`, `msg`, and `request_id` when the
/// event concerns one job, for log collectors (with `service`, `pid`).
public struct ServiceLog: Sendable {
    /// How lines are written.
    public enum Format: String, Sendable { case text, json }

    /// The least severe lines printed.
    public enum Level: String, Sendable, Comparable {
        case debug, info, warning

        private var rank: Int { self == .debug ? 0 : self == .info ? 1 : 2 }
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
    }

    /// The component name (`router`, `encoder`, `decoder 2`).
    public let component: String
    /// Lines below this level are not printed (`--log-level`, `L2S_LOG`).
    public let level: Level
    /// Text or JSON lines (`--log-format`, `L2S_LOG_FORMAT`).
    public let format: Format

    /// Whether `debug` lines are printed.
    public var verbose: Bool { level == .debug }

    /// A log for `component`; level from `L2S_LOG` (default info), format from `L2S_LOG_FORMAT` (default text).
    public init(
        component: String,
        level: Level = Level(rawValue: ProcessInfo.processInfo.environment["L2S_LOG"] ?? "") ?? .info,
        format: Format = Format(rawValue: ProcessInfo.processInfo.environment["L2S_LOG_FORMAT"] ?? "") ?? .text
    ) {
        self.component = component
        self.level = level
        self.format = format
    }

    /// An event an operator wants to see (start, peers joining or leaving, failures).
    public func info(_ text: @autoclosure () -> String, requestID: String? = nil) {
        if level <= .info { write("info", text(), requestID) }
    }
    /// Something went wrong but the service carries on.
    public func warning(_ text: @autoclosure () -> String, requestID: String? = nil) {
        write("warning", text(), requestID)
    }
    /// Per-message detail, off unless the level is debug.
    public func debug(_ text: @autoclosure () -> String, requestID: String? = nil) {
        if level <= .debug { write("debug", text(), requestID) }
    }

    private func write(_ level: String, _ text: String, _ requestID: String?) {
        let line: String
        switch format {
        case .text:
            let stamp = Date().formatted(.iso8601.time(includingFractionalSeconds: true))
            line = "\(stamp) \(component) \(level): \(text)" + (requestID.map { " [\($0)]" } ?? "") + "\n"
        case .json:
            var object: [String: Any] = [
                "ts": Date().formatted(.iso8601), "level": level, "service": component,
                "pid": Int(ProcessInfo.processInfo.processIdentifier), "msg": text,
            ]
            if let requestID { object["request_id"] = requestID }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self) + "\n"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }
}
