import Cluster
import Foundation
import Models
import Wire

/// `l2s decoder`: a decoder worker hosting the bundle's SLM.
struct DecoderCommand: Subcommand {
    static let name = "decoder"
    static let handlesTermination = true
    static let summary = "run a decoder worker: the bundle's SLM, --slots jobs at once"
    static let usage = "l2s decoder --router EP --bundle DIR [--slots N] [--threads N] [--weights W]"
    static let discussion = """
        Connects to the router's decoders endpoint, announces the bundle's fingerprints and --slots credits, and
        generates for the jobs it is given, streaming each step's tokens in one message; all active jobs advance
        together in one batched step. A new job's prefill (the SLM over its prompt) runs between steps in units (a
        T5 SLM encoder block; a whole GPT-2 prefill), at most --prefill-tokens-per-step prompt tokens' worth of units
        per step (at least one) while others run, so running jobs are not frozen for a whole prompt pass. Started
        sequences of recent prompts are kept (--prefill-cache-mb), so a repeated prompt skips the prefill too: its
        jobs start from a fork of the cached start, with the same numbers, and jobs of one prompt that arrive
        together share one prefill. Entries are keyed by the router's prompt key (tenants never share one) and serve
        only the exact prompt ids and encoding they were made from.
        A job's first tokens and its final chunk go to the router at once. In between, streamed jobs' tokens go
        every --stream-interval steps, every job's in the same step (1: each token as it comes; N: N times fewer
        messages for the router and the clients, a token up to N - 1 steps later), and a job whose client waits
        for the whole answer keeps its tokens until it ends; no token waits more than 100 ms.
        A job resumed after another decoder died replays the tokens already streamed, so its result is that of an
        uninterrupted run. Reconnects with backoff when the router restarts. Start as many as you like.
        --weights W keeps the SLM's step layers as stored, or converts them at load (int8 and the 16-bit
        conversions change results, so they join the kernel variant in the identity the decoder announces:
        docs/kernels.md).

        SIGTERM/SIGINT drains: the decoder tells the router to send it no new jobs (/ready answers 503), stops
        granting credits, finishes the jobs in hand for up to --drain-seconds, then says goodbye; the router resumes
        any job still unfinished on another decoder from the tokens already streamed, with the same result. A second
        signal ends the drain at once.
        """
    static let options =
        WorkerFlags.options(role: "decoder", routerPort: 5557) + [
            OptionSpec("--slots", value: "N", help: "jobs held at once", default: "4", env: "L2S_SLOTS"),
            OptionSpec(
                "--prefill-tokens-per-step", value: "N",
                help: "prompt tokens' worth of prefill units (T5: encoder blocks) run between two steps",
                default: "256",
                env: "L2S_PREFILL_TOKENS_PER_STEP"),
            OptionSpec(
                "--prefill-cache-mb", value: "N",
                help: "MiB of started sequences kept for repeated prompts (0: none)", default: "256",
                env: "L2S_PREFILL_CACHE_MB"),
            OptionSpec(
                "--stream-interval", value: "N", help: "steps between two sends of streamed jobs' tokens",
                default: "1", env: "L2S_STREAM_INTERVAL"),
            WeightFlags.option,
        ]

    let worker: WorkerFlags
    let slots: Int
    let prefillTokensPerStep: Int
    let prefillCacheBytes: Int
    let streamPolicy: StreamPolicy
    let weights: WeightStorage

    init(_ arguments: ParsedArguments) throws {
        worker = try WorkerFlags(arguments, role: "decoder")
        slots = try arguments.int("--slots", in: 1...4096)!
        prefillTokensPerStep = try arguments.int("--prefill-tokens-per-step", in: 1...1_000_000)!
        prefillCacheBytes = try arguments.int("--prefill-cache-mb", in: 0...1_048_576)! << 20
        streamPolicy = StreamPolicy(interval: try arguments.int("--stream-interval", in: 1...1024)!)
        weights = try WeightFlags.storage(arguments)
    }

    func run() throws -> Int32 {
        let (bundle, log, process) = try worker.loadBundle(weights: weights)
        let slm = try ConditionedSLM(bundle: bundle, weights: weights)
        let kernels = WeightFlags.numericIdentity(weights)
        log.info(
            "loaded \(bundle.directory.path): \(bundle.slmKind.rawValue) SLM, projector on the "
                + "\(bundle.projectorRunsOn.rawValue), \(slots) slots, weights \(weights.rawValue), kernels \(kernels)")
        return try worker.serve(
            role: .decoder, bundle: bundle,
            engine: DecoderEngine(
                slm: slm, slots: slots,
                prefillTokensPerStep: prefillTokensPerStep, prefillCacheBytes: prefillCacheBytes,
                streamPolicy: streamPolicy, metrics: worker.registry, log: log), log: log,
            process: process, kernels: kernels)
    }
}
