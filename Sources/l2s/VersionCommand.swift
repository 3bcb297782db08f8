import Foundation
import Numerics
import Wire

/// `l2s version`: the software and wire-protocol versions and the kernel variant this process runs (part of a
/// decoder's numeric identity, docs/kernels.md), for bug reports and compatibility checks.
struct VersionCommand: Subcommand {
    static let name = "version"
    static let summary = "print the l2s version, the wire protocol version and the kernel variant"
    static let usage = "l2s version [--json]"
    static let discussion = """
        The kernel variant is the best instruction set this CPU runs (baseline, avx2, avx512) unless L2S_ISA names
        a lower one; a variant the CPU lacks falls back to the best one, with a note on stderr. The JSON also names
        the kernel of --weights int8 products under that variant (vnni, avx2 or portable: the same bits, the later
        ones slower).
        """
    static let options = [OptionSpec("--json", help: "print one JSON object")]

    let json: Bool

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        json = arguments.flag("--json")
    }

    func run() throws -> Int32 {
        let kernels = KernelVariant.process.rawValue
        if json {
            let supported = KernelVariant.supported.map { #""\#($0.rawValue)""# }.joined(separator: ",")
            printLine(
                #"{"software":"\#(L2SVersion.software)","protocol":\#(L2SVersion.protocolVersion),"#
                    + #""kernels":"\#(kernels)","kernels_supported":[\#(supported)],"#
                    + #""int8_product":"\#(PackedInt8Matrix.kernelName(for: KernelVariant.process))"}"#)
        } else {
            printLine("\(L2SVersion.software) (wire protocol \(L2SVersion.protocolVersion), kernels \(kernels))")
        }
        return ExitStatus.success
    }
}
