import Foundation
import TestSupport
import Testing

/// The command-line contract of docs/architecture.md: --help everywhere, exit 64 for usage errors naming the flag.
@Suite struct CommandLineTests {
    let l2s = TestPaths.l2sExecutable

    @Test func topLevelHelpListsSubcommands() throws {
        let result = try ProcessRunner.run(l2s, ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("usage: l2s SUBCOMMAND"))
        #expect(result.stdout.contains("version"))
    }

    @Test func noArgumentsIsAUsageError() throws {
        let result = try ProcessRunner.run(l2s, [])
        #expect(result.status == 64)
    }

    @Test func unknownSubcommandExits64() throws {
        let result = try ProcessRunner.run(l2s, ["frobnicate"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("unknown subcommand 'frobnicate'"))
    }

    @Test func unknownFlagIsNamed() throws {
        let result = try ProcessRunner.run(l2s, ["version", "--bogus"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("unknown option '--bogus'"))
    }

    @Test func versionJSON() throws {
        let result = try ProcessRunner.run(l2s, ["version", "--json"])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["protocol"] as? Int == 1)
    }
}
