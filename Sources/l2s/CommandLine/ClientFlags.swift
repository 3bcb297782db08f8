import Cluster

/// The flags of the commands that talk to a router as its client (`generate`, `stats`, `bench`): where the router's
/// clients endpoint is and, when it requires CURVE, its public key; and the one way they connect.
struct ClientFlags {
    static let options = [
        OptionSpec(
            "--router", value: "EP", help: "the router's clients endpoint", default: "tcp://127.0.0.1:5555",
            env: "L2S_ROUTER"),
        OptionSpec(
            "--curve-server-key", value: "KEY", help: "the router's CURVE public key, when it requires CURVE",
            env: "L2S_CURVE_SERVER_KEY"),
    ]

    let router: String
    let curveServerKey: String?

    init(_ arguments: ParsedArguments) throws {
        router = try arguments.required("--router")
        curveServerKey = try arguments.curveServerKey()
    }

    /// A client connected to the router.
    func connect() throws -> ClusterClient {
        try ClusterClient(router: router, curveServerKey: curveServerKey)
    }
}
