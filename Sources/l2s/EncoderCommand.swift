import Cluster
import Foundation
import Models
import Wire

/// `l2s encoder`: the frozen LLM encoder (+ projector, for `runs_on: encoder`) of a bundle, serving encode requests.
struct EncoderCommand: Subcommand {
    static let name = "encoder"
    static let handlesTermination = true
    static let summary = "run an encoder service: the bundle's frozen LLM encoder (and projector)"
    static let usage =
        "l2s encoder --router EP --bundle DIR [--max-batch N --batch-wait-ms MS] [--threads N] [--weights W]"
    static let discussion = """
        Connects to the router's encoders endpoint, announces the bundle's fingerprints, and answers encode
        requests with the prompt's encoding in the bundle's wire dtype: the projection Z, or the LLM states H when
        the bundle says projector.runs_on decoder (the decoder projects). Concurrent requests are
        batched: up to --max-batch, waiting at most --batch-wait-ms for a batch to fill. The default wait is 0
        (take what is queued): the encoder runs a batch's prompts one by one so that each encoding is bit-identical
        to the prompt encoded alone, so waiting only adds latency (2 ms of it by scripts/bench-cluster.sh at one job
        at a time). --send each (the default) sends each encoding when its pass ends, so decoders start on it while
        the rest of the batch runs; --send batch sends them together at the end, which is better only when the
        decoders share this machine's cores (`l2s cluster` does that). Reconnects with backoff when the router
        restarts.

        SIGTERM/SIGINT drains: the encoder tells the router to send it no new prompts (/ready answers 503), answers
        the prompts in hand (within --drain-seconds; the router re-sends any left to another encoder), then says
        goodbye. A second signal ends the drain at once.
        """
    static let options =
        WorkerFlags.options(role: "encoder", routerPort: 5556) + [
            OptionSpec("--max-batch", value: "N", help: "prompts per forward pass", default: "8", env: "L2S_MAX_BATCH"),
            OptionSpec(
                "--batch-wait-ms", value: "MS", help: "how long a batch may wait to fill", default: "0",
                env: "L2S_BATCH_WAIT_MS"),
            OptionSpec(
                "--max-prompt-tokens", value: "N", help: "longer prompts are refused (prompt_too_long)",
                default: "\(PromptEncoder.defaultMaxPromptTokens)", env: "L2S_MAX_PROMPT_TOKENS"),
            OptionSpec(
                "--send", value: "each|batch",
                help: "send each encoding when its pass ends, or a batch's together when the batch ends",
                default: "each", env: "L2S_ENCODER_SEND"),
            WeightFlags.option,
        ]

    let worker: WorkerFlags
    let maxBatch: Int
    let batchWait: Duration
    let maxPromptTokens: Int
    let weights: WeightStorage
    let send: EncoderEngine.SendPolicy

    init(_ arguments: ParsedArguments) throws {
        worker = try WorkerFlags(arguments, role: "encoder")
        maxBatch = try arguments.int("--max-batch", in: 1...1024)!
        batchWait = .milliseconds(try arguments.int("--batch-wait-ms", in: 0...10_000)!)
        maxPromptTokens = try arguments.int("--max-prompt-tokens", in: 1...1_000_000)!
        weights = try WeightFlags.storage(arguments)
        let policy = arguments.string("--send") ?? "each"
        guard let send = EncoderEngine.SendPolicy(rawValue: policy) else {
            throw UsageError("option '--send' must be each or batch, got '\(policy)'")
        }
        self.send = send
    }

    func run() throws -> Int32 {
        let (bundle, log, process) = try worker.loadBundle(weights: weights)
        let encoder = try PromptEncoder(bundle: bundle, maxPromptTokens: maxPromptTokens, weights: weights)
        log.info(
            "loaded \(bundle.directory.path): projector on the \(bundle.projectorRunsOn.rawValue), wire dtype "
                + "\(bundle.wireDType.rawValue), batches of up to \(maxBatch) (sent \(send.rawValue)), "
                + "weights \(weights.rawValue)")
        let engine = EncoderEngine(
            encoder: encoder, maxBatch: maxBatch, batchWait: batchWait, send: send,
            metrics: worker.registry, log: log)
        return try worker.serve(role: .encoder, bundle: bundle, engine: engine, log: log, process: process)
    }
}
