import Foundation
import Wire

/// `l2s keygen`: a CURVE key pair for a router whose links leave the machine.
struct KeygenCommand: Subcommand {
    static let name = "keygen"
    static let summary = "print a new CURVE key pair (router: --curve-secret-file; peers: --curve-server-key)"
    static let usage = "l2s keygen"
    static let discussion = """
        Prints one JSON line {"public": KEY, "secret": KEY} (Z85, 40 characters each). Save it to a file readable
        only by the router and start `l2s router --curve-secret-file FILE`; give the public key to encoders,
        decoders and clients with --curve-server-key (or L2S_CURVE_SERVER_KEY). Every message on the three router
        sockets is then encrypted and only peers that know the public key can connect.
        """
    static let options: [OptionSpec] = []

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else { throw UsageError("unexpected argument '\(arguments.positionals[0])'") }
        guard CurveKeyPair.isAvailable else { throw UsageError("this libzmq was built without CURVE support") }
    }

    func run() throws -> Int32 {
        let pair = try CurveKeyPair.generate()
        printLine(#"{"public":"\#(pair.publicKey)","secret":"\#(pair.secretKey)"}"#)
        return ExitStatus.success
    }
}
