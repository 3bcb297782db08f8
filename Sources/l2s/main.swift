import Foundation

/// Every subcommand, in the order `l2s --help` lists them.
let subcommands: [any Subcommand.Type] = [
    RunCommand.self,
    RouterCommand.self,
    GatewayCommand.self,
    StatsCommand.self,
    GenerateCommand.self,
    ClusterCommand.self,
    BenchCommand.self,
    EncoderCommand.self,
    DecoderCommand.self,
    TokenizeCommand.self,
    DetokenizeCommand.self,
    KeygenCommand.self,
    VersionCommand.self,
]

/// One line per subcommand: its name, padded, and its summary.
let subcommandList = subcommands.map { "  \($0.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \($0.summary)" }
    .joined(separator: "\n")

let programHelp = """
    l2s: LLM-to-SLM generation ("Think Big, Generate Quick", arXiv 2402.16844) served over ZeroMQ + protobuf.
    A large frozen encoder reads each prompt once; a small LM generates the answer conditioned on it.

    usage: l2s SUBCOMMAND [OPTIONS]

    subcommands:
    \(subcommandList)

    Run 'l2s SUBCOMMAND --help' for the flags of one subcommand.
    """

@MainActor func runMain() -> Int32 {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard let first = arguments.first, first != "--help", first != "-h", first != "help" else {
        if arguments.count >= 2, arguments[0] == "help",
            let command = subcommands.first(where: { $0.name == arguments[1] })
        {
            printLine(command.helpText)
        } else {
            printLine(programHelp)
        }
        return arguments.isEmpty ? ExitStatus.usage : ExitStatus.success
    }
    guard let command = subcommands.first(where: { $0.name == first }) else {
        printError("l2s: unknown subcommand '\(first)'; run 'l2s --help' for the list")
        return ExitStatus.usage
    }
    // Before any thread exists: a service's SIGTERM then waits in the handler's pipe until it is taken, never lost.
    if command.handlesTermination { TerminationSignals.install() }
    let rest = Array(arguments.dropFirst())
    if rest.contains("--help") || rest.contains("-h") {
        printLine(command.helpText)
        return ExitStatus.success
    }
    do {
        let parsed = try ParsedArguments(rest, specs: command.options)
        let instance: any Subcommand
        do {
            instance = try command.init(parsed)
        }
        return try instance.run()
    } catch let error as UsageError {
        printError(
            "l2s \(command.name): \(error.description)\nusage: \(command.usage)\n"
                + "run 'l2s \(command.name) --help' for details"
        )
        return ExitStatus.usage
    } catch {
        printError("l2s \(command.name): error: \(error)")
        return ExitStatus.failure
    }
}

exit(runMain())
