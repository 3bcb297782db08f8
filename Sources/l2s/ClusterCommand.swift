import Cluster
import Foundation
import Generation
import Wire

/// `l2s cluster`: router + encoder + N decoders on this machine, for the quick start and the tests.
struct ClusterCommand: Subcommand {
    static let name = "cluster"
    static let handlesTermination = true
    static let summary = "run a router, an encoder and N decoders here as child processes"
    static let usage = "l2s cluster --bundle DIR [--decoders N] [--base-port P] [--slots N] [--prompts FILE]"
    static let discussion = """
        Starts `l2s router` on ports P (clients), P+1 (encoders), P+2 (decoders) of 127.0.0.1, one
        `l2s encoder` and N `l2s decoder` processes on the bundle, waits until all have joined, and prints the
        client endpoint. Without --prompts it runs until SIGINT/SIGTERM and then stops every child. With
        --prompts FILE (one prompt per line, '-' = standard input) it sends each prompt through the cluster,
        prints one JSON result per line in input order, and stops. Children log to standard error. They inherit
        the environment, so the other settings of `l2s router|encoder|decoder` pass through their variables
        (L2S_WEIGHTS=int8, L2S_PREFILL_CACHE_MB, L2S_STREAM_INTERVAL, ...; each command's --help names them).
        """
    static let options = [
        OptionSpec(
            "--bundle", value: "DIR", help: "the LLM-to-SLM bundle", default: "bundles/default",
            env: "L2S_BUNDLE"),
        OptionSpec("--decoders", value: "N", help: "decoder worker processes", default: "2"),
        OptionSpec(
            "--base-port", value: "P", help: "first of three consecutive TCP ports", default: "5555",
            env: "L2S_BASE_PORT"),
        OptionSpec("--slots", value: "N", help: "jobs per decoder", default: "4"),
        OptionSpec(
            "--threads", value: "N",
            help:
                "compute threads of the encoder and of each decoder (N, cores, or split: the encoder all cores, each "
                + "decoder cores / decoders, at least 1, so decoders do not contend for the same cores)",
            default: "split"),
        OptionSpec("--prompts", value: "FILE", help: "send these prompts (one per line), print results, stop"),
        OptionSpec("--max-new-tokens", value: "N", help: "with --prompts: new tokens per prompt", default: "32"),
    ]

    let plan: LocalCluster.Plan
    let promptsPath: String?
    let maxNewTokens: Int

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        let bundle = try arguments.required("--bundle")
        guard FileManager.default.fileExists(atPath: bundle + "/l2s.json") else {
            throw UsageError("option '--bundle': '\(bundle)' has no l2s.json")
        }
        let decoders = try arguments.int("--decoders", in: 1...64)!
        var threads = LocalCluster.Plan.threads(cores: ProcessInfo.processInfo.activeProcessorCount, decoders: decoders)
        if arguments.string("--threads") != "split" {
            let given = try arguments.threads()
            threads = (encoder: given, decoder: given)
        }
        plan = LocalCluster.Plan(
            executable: URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL,
            bundle: bundle, decoders: decoders, basePort: try arguments.int("--base-port", in: 1024...65533)!,
            slots: try arguments.int("--slots", in: 1...1024)!, encoderThreads: threads.encoder,
            decoderThreads: threads.decoder)
        promptsPath = arguments.string("--prompts")
        maxNewTokens = try arguments.int("--max-new-tokens", in: 1...4096)!
    }

    func run() throws -> Int32 {
        let log = ServiceLog(component: "cluster")
        let cluster = LocalCluster(plan: plan, log: log)
        let stopRequested = DispatchSemaphore(value: 0)
        let signals = TerminationSignals { stopRequested.signal() }
        defer { withExtendedLifetime(signals) {} }
        do {
            try cluster.start()
        } catch {
            cluster.stop()
            throw error
        }
        log.info("ready: clients connect to \(plan.clientEndpoint)")
        guard let promptsPath else {
            printLine(#"{"event":"ready","clients":"\#(plan.clientEndpoint)"}"#)
            stopRequested.wait()
            cluster.stop()
            return ExitStatus.success
        }
        defer { cluster.stop() }
        let text = String(decoding: try InputFile.read(promptsPath, option: "--prompts"), as: UTF8.self)
        let client = try ClusterClient(router: plan.clientEndpoint)
        var failed = 0
        for (index, prompt) in text.split(separator: "\n").map(String.init).filter({ !$0.isEmpty }).enumerated() {
            let request = GenerateRequest(
                requestID: "\(index)", prompt: .text(prompt), maxNewTokens: UInt32(maxNewTokens))
            do {
                let final = try client.generate(request)
                printLine(
                    #"{"prompt":\#(GenerationResult.quoted(prompt)),"result":\#(ResultFormat.result(final).jsonLine)}"#)
            } catch {
                failed += 1
                printLine(
                    #"{"prompt":\#(GenerationResult.quoted(prompt)),"error":\#(GenerationResult.quoted("\(error)"))}"#)
            }
        }
        return failed == 0 ? ExitStatus.success : ExitStatus.failure
    }
}
