import Foundation

/// One line per event on standard error. As text (the default): the time, the component, the level and the
/// message, so the logs of several services started together stay readable. As JSON (`L2S_LOG_FORMAT=json`,
/// `--log-format json`): one object per line with `ts`, `level`, `service`, `pid`, `msg`, `request_id` when the
/// event concerns one job, and `event` plus its fields for events a machine reads (a job's end, say), for log
/// collectors. In text, the fields follow the message as `key=value`.
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

    /// A value of an event's field: what a JSON line can hold as it is.
    public enum Value: Sendable, CustomStringConvertible {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)

        var json: Any {
            switch self {
            case .string(let value): return value
            case .int(let value): return value
            case .double(let value): return value
            case .bool(let value): return value
            }
        }

        public var description: String {
            switch self {
            case .string(let value): return value
            case .int(let value): return "\(value)"
            case .double(let value): return "\(value)"
            case .bool(let value): return "\(value)"
            }
        }
    }

    /// An event an operator wants to see (start, peers joining or leaving, failures, jobs ending).
    public func info(
        _ text: @autoclosure () -> String, requestID: String? = nil, event: String? = nil,
        fields: @autoclosure () -> [(String, Value)] = []
    ) {
        if level <= .info { write("info", text(), requestID, event, fields()) }
    }
    /// Something went wrong but the service carries on.
    public func warning(
        _ text: @autoclosure () -> String, requestID: String? = nil, event: String? = nil,
        fields: @autoclosure () -> [(String, Value)] = []
    ) {
        write("warning", text(), requestID, event, fields())
    }
    /// Per-message detail, off unless the level is debug.
    public func debug(
        _ text: @autoclosure () -> String, requestID: String? = nil, event: String? = nil,
        fields: @autoclosure () -> [(String, Value)] = []
    ) {
        if level <= .debug { write("debug", text(), requestID, event, fields()) }
    }

    /// `value` with control characters (line breaks among them) replaced by U+FFFD.
    private static func oneLine(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return value }
        return String(
            String.UnicodeScalarView(
                value.unicodeScalars.map { $0.properties.generalCategory == .control ? "\u{FFFD}" : $0 }))
    }

    private static let reserved: Set<String> = ["ts", "level", "service", "pid", "msg", "request_id", "event"]

    private func write(
        _ level: String, _ text: String, _ requestID: String?, _ event: String?, _ fields: [(String, Value)]
    ) {
        let line: String
        switch format {
        case .text:
            let stamp = Date().formatted(.iso8601.time(includingFractionalSeconds: true))
            // Ids and field values come from peers: a control character in them must not start a line of its own.
            let extra = fields.map { " \($0.0)=\(Self.oneLine($0.1.description))" }.joined()
            line =
                "\(stamp) \(component) \(level): \(text)" + (requestID.map { " [\(Self.oneLine($0))]" } ?? "") + extra
                + "\n"
        case .json:
            var object: [String: Any] = [
                "ts": Date().formatted(.iso8601), "level": level, "service": component,
                "pid": Int(ProcessInfo.processInfo.processIdentifier), "msg": text,
            ]
            // A field never overrides the line's own keys.
            for (key, value) in fields where !Self.reserved.contains(key) { object[key] = value.json }
            if let requestID { object["request_id"] = requestID }
            if let event { object["event"] = event }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self) + "\n"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }
}
