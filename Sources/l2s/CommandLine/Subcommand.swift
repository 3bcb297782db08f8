import Foundation

/// One `l2s` subcommand: parse (done by `ParsedArguments`) -> validate (`init`) -> run.
/// Subcommands hold no logic of their own beyond turning flags into calls on the library targets.
protocol Subcommand {
    /// The word after `l2s`.
    static var name: String { get }
    /// One line for `l2s --help`.
    static var summary: String { get }
    /// The synopsis line(s) after `usage:`.
    static var usage: String { get }
    /// Paragraphs explaining the subcommand, shown by `l2s NAME --help`.
    static var discussion: String { get }
    /// Every flag the subcommand accepts.
    static var options: [OptionSpec] { get }
    /// Whether `run` creates `TerminationSignals` (services): `main` then installs the signal handler first thing, so
    /// a SIGINT/SIGTERM that arrives before `run` gets there waits for it rather than being lost.
    static var handlesTermination: Bool { get }
    /// Validates the parsed arguments; throws `UsageError` for anything a user typed wrong.
    init(_ arguments: ParsedArguments) throws
    /// Does the work and returns the exit status (0 success, 1 failure).
    func run() throws -> Int32
}

extension Subcommand {
    static var discussion: String { "" }
    static var handlesTermination: Bool { false }

    /// The text `l2s NAME --help` prints.
    static var helpText: String {
        var lines = ["\(summary)", "", "usage: \(usage)"]
        if !discussion.isEmpty { lines += ["", discussion] }
        if !options.isEmpty {
            lines += ["", "options (a flag wins over its environment variable, which wins over the default):"]
            for option in options {
                let head = option.value.map { "\(option.name) \($0)" } ?? option.name
                var details: [String] = []
                if let environment = option.environment { details.append("env \(environment)") }
                if let value = option.defaultValue { details.append("default \(value)") }
                let suffix = details.isEmpty ? "" : " [\(details.joined(separator: ", "))]"
                let column = head.padding(toLength: max(head.count, 26), withPad: " ", startingAt: 0)
                lines.append("  \(column) \(option.help)\(suffix)")
            }
        }
        lines.append("  --help                     show this help")
        return lines.joined(separator: "\n")
    }
}

/// Exit statuses shared by every subcommand (sysexits.h for usage errors).
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64
}

/// Writes text to standard error with a trailing newline.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Writes one line to standard output and flushes, so streamed output reaches pipes at once.
func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
