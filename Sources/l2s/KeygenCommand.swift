import Foundation
import Wire

/// `l2s keygen`: a CURVE key pair for a router whose links leave the machine.
struct KeygenCommand: Subcommand {
    static let name = "keygen"
    static let summary = "print a new CURVE key pair (for the router, or for a worker listed in --worker-keys)"
    static let usage = "l2s keygen"
    static let discussion = """
        Prints one JSON line {"public": KEY, "secret": KEY} (Z85, 40 characters each).
        The router's pair: save it to a file readable only by the router and start `l2s router --curve-secret-file
        FILE --worker-keys LIST`; give its public key to encoders, decoders and clients with --curve-server-key (or
        L2S_CURVE_SERVER_KEY). A worker's pair: save it where only the worker reads it, pass it with the worker's
        --curve-secret-file, and put its public key (or the whole JSON line) in the router's LIST. Every message on
        the router's sockets is then encrypted, only peers that know the router's public key connect, and only
        listed keys join as workers (docs/security.md).
        """
    static let options: [OptionSpec] = []

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        guard CurveKeyPair.isAvailable else { throw UsageError("this libzmq was built without CURVE support") }
    }

    func run() throws -> Int32 {
        let pair = try CurveKeyPair.generate()
        printLine(#"{"public":"\#(pair.publicKey)","secret":"\#(pair.secretKey)"}"#)
        return ExitStatus.success
    }
}
