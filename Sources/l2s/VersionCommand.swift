import Foundation
import Wire

/// `l2s version`: the software and wire-protocol versions, for bug reports and compatibility checks.
struct VersionCommand: Subcommand {
    static let name = "version"
    static let summary = "print the l2s version and the wire protocol version"
    static let usage = "l2s version [--json]"
    static let options = [OptionSpec("--json", help: "print one JSON object")]

    let json: Bool

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        json = arguments.flag("--json")
    }

    func run() throws -> Int32 {
        if json {
            printLine(#"{"software":"\#(L2SVersion.software)","protocol":\#(L2SVersion.protocolVersion)}"#)
        } else {
            printLine("\(L2SVersion.software) (wire protocol \(L2SVersion.protocolVersion))")
        }
        return ExitStatus.success
    }
}
