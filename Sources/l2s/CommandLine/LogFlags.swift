import Cluster

/// `--log-format` and `--log-level` of the services: how their log lines look and which are printed.
enum LogFlags {
    static let options = [
        OptionSpec(
            "--log-format", value: "text|json", help: "log lines for people, or one JSON object per line",
            default: "text", env: "L2S_LOG_FORMAT"),
        OptionSpec(
            "--log-level", value: "debug|info|warning", help: "the least severe log lines printed",
            default: "info", env: "L2S_LOG"),
    ]

    /// The log of `component` as the flags ask; a usage error names a bad value.
    static func log(_ arguments: ParsedArguments, component: String) throws -> ServiceLog {
        let formatText = arguments.string("--log-format") ?? "text"
        guard let format = ServiceLog.Format(rawValue: formatText) else {
            throw UsageError("option '--log-format': expected text or json, got '\(formatText)'")
        }
        let levelText = arguments.string("--log-level") ?? "info"
        guard let level = ServiceLog.Level(rawValue: levelText) else {
            throw UsageError("option '--log-level': expected debug, info or warning, got '\(levelText)'")
        }
        return ServiceLog(component: component, level: level, format: format)
    }
}
