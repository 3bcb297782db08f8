/// `--drain-seconds`, shared by the router, the encoder and the decoder: how long SIGTERM lets work in hand
/// finish before the service exits (a second SIGTERM or SIGINT exits at once).
enum DrainFlag {
    static func option(_ what: String) -> OptionSpec {
        OptionSpec("--drain-seconds", value: "S", help: what, default: "25", env: "L2S_DRAIN_SECONDS")
    }

    /// The bound, 0 to 3600 s (fractions allowed; 0 stops at once).
    static func parse(_ arguments: ParsedArguments) throws -> Duration {
        .milliseconds(Int64((try arguments.double("--drain-seconds", in: 0...3600)! * 1000).rounded()))
    }
}
