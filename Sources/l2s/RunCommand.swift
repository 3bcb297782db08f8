import Foundation
import Generation
import Models
import Numerics

/// `l2s run`: in-process generation from a Hugging Face checkpoint or an LLM-to-SLM bundle, no cluster.
struct RunCommand: Subcommand {
    static let name = "run"
    static let summary = "generate in-process from a model directory or an LLM-to-SLM bundle (no cluster)"
    static let usage = """
        l2s run --model DIR --input-ids 1,2,3 | --bundle DIR [PROMPT | --input-ids 1,2,3] [--max-new-tokens N]
                      [--min-new-tokens N] [--greedy | --temperature T --top-k K --top-p P --seed S]
                      [--json] [--repetition-penalty F] [--no-repeat-ngram-size N] [--presence-penalty F]
                      [--frequency-penalty F] [--stop TEXT]... [--num-beams N [--length-penalty F]
                      [--early-stopping false|true|never] [--num-return-sequences K]] [--stream] [--dump-logits]
                      [--n N] [--logprobs N] [--threads N] [--weights W] [--batch N] [--repeat N] [--timings]
        """
    static let discussion = """
        Loads the checkpoint in DIR (config.json + safetensors; model_type t5 or gpt2), feeds the prompt ids and
        generates until an EOS id of the config or --max-new-tokens. Greedy unless a sampling flag is given.
        --json prints one result object {"text","ids","finish_reason","usage"}; --dump-logits adds "logits", one
        row of raw vocabulary-size logits per generated token (and implies --json).
        --bundle runs LLM-to-SLM (docs/bundle.md): PROMPT ('-' reads stdin) is tokenized by the LLM tokenizer (or
        --input-ids are LLM token ids), encoded, rounded to the bundle's wire dtype and projected exactly as the
        cluster does (projector.runs_on says on which side of the rounding), and the SLM generates until the
        bundle's eos_token_id. "ids" include that EOS; "text" is the SLM tokenizer's decoding without it (special
        tokens skipped). --stop TEXT (repeatable) ends the job where the text first contains one of them, as OpenAI's
        stop does: the text ends before it, nothing after it is printed, finish_reason is "stop". --stream prints
        {"delta","ids"} per token before the result.
        --num-beams N runs beam search as transformers' generate does (docs/generation.md): greedy, no --stop; the
        best sequence is the result (with --stream, one delta at the end: nothing is known before), and
        --num-return-sequences K prints the K best results, best first, one per line. --n N runs the job N times,
        sample j seeded S + j (OpenAI's n), and prints N results in order. --logprobs N adds "logprobs" to the result
        (and to each --stream delta): per generated id {"id","logprob","top":[[id,logprob],...]}, the N most likely
        ids of the step, from the log-softmax after the penalties and before temperature/top-k/top-p (implies --json).
        --batch N (with --model) starts N copies of the prompt and decodes them together through the batched step
        path of the decoder worker; the result printed is copy 0's. With the batch-invariant kernels every copy is
        identical, and a copy that differs is an error. --timings then counts batched steps and adds "batch".
        """
    static let options =
        [
            OptionSpec("--model", value: "DIR", help: "Hugging Face checkpoint directory", env: "L2S_MODEL"),
            OptionSpec("--bundle", value: "DIR", help: "LLM-to-SLM bundle directory (l2s.json)", env: "L2S_BUNDLE"),
            OptionSpec("--input-ids", value: "IDS", help: "prompt token ids, comma-separated"),
            OptionSpec(
                "--max-prompt-tokens", value: "N", help: "longest prompt accepted with --bundle, in LLM tokens",
                default: "\(PromptEncoder.defaultMaxPromptTokens)"),
            OptionSpec("--stream", help: "with --bundle: print {\"delta\",\"ids\"} per token, then the result (JSON)"),
            OptionSpec("--json", help: "print the result as one JSON object"),
            OptionSpec("--dump-logits", help: "add each step's raw logits to the JSON result"),
            OptionSpec(
                "--threads", value: "N", help: "compute threads (they do not change the numbers)",
                default: "cores", env: "L2S_THREADS"),
            OptionSpec(
                "--kernels", value: "K",
                help: "batch-invariant (steps bit-identical to batched decoding) or blas (OpenBLAS gemv/gemm)",
                default: "batch-invariant", env: "L2S_KERNELS"),
            OptionSpec(
                "--repeat", value: "N", help: "run the job N times (benchmarks; the result is printed once)",
                default: "1"),
            OptionSpec("--timings", help: "print the fastest run's prefill and decode times as JSON on stderr"),
            OptionSpec(
                "--batch", value: "N",
                help: "with --model: decode N copies of the prompt as one batch (benchmarks; default: one sequence)"),
            WeightFlags.option,
        ] + GenerationFlags.options

    /// What to run: a plain checkpoint fed token ids, or a bundle fed text or LLM token ids.
    enum Source {
        case model(URL)
        case bundle(URL)
    }

    let source: Source
    let inputIDs: [Int32]?
    let prompt: String?
    let maxPromptTokens: Int
    let stream: Bool
    let options: GenerationOptions
    let json: Bool
    let threads: Int
    let repeats: Int
    let rowKernel: RowKernel
    let weights: WeightStorage
    let timings: Bool
    /// Copies decoded as one batch (`--batch`); nil runs the one-sequence path.
    let batch: Int?
    /// Independent samples (`--n`): the job runs this many times, sample j seeded `seed + j`.
    let samples: Int

    init(_ arguments: ParsedArguments) throws {
        if arguments.isExplicit("--model") && arguments.isExplicit("--bundle") {
            throw UsageError("options '--model' and '--bundle' cannot be combined")
        }
        if arguments.isExplicit("--bundle") || (!arguments.isExplicit("--model") && arguments.string("--model") == nil),
            let bundle = arguments.string("--bundle")
        {
            source = .bundle(URL(fileURLWithPath: bundle))
        } else if let model = arguments.string("--model") {
            source = .model(URL(fileURLWithPath: model))
        } else {
            throw UsageError("missing required option '--model' or '--bundle'")
        }
        let ids = try arguments.tokenIDs("--input-ids")
        let words = arguments.positionals
        let isBundle: Bool
        if case .bundle = source { isBundle = true } else { isBundle = false }
        if !isBundle, let word = words.first {
            throw UsageError("text prompts need a tokenizer; give token ids with --input-ids (got '\(word)')")
        }
        if !isBundle, ids == nil { throw UsageError("missing required option '--input-ids'") }
        if isBundle, ids != nil, !words.isEmpty { throw UsageError("give either a PROMPT or '--input-ids', not both") }
        if isBundle, ids == nil, words.count != 1 {
            throw UsageError("expected one PROMPT or '--input-ids', got \(words.count) prompt words")
        }
        if let ids {
            inputIDs = ids
            prompt = nil
        } else {
            inputIDs = nil
            // Invalid UTF-8 on stdin becomes U+FFFD, as `l2s tokenize -` does.
            prompt =
                arguments.positionals[0] == "-"
                ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                : arguments.positionals[0]
        }
        maxPromptTokens =
            try arguments.int("--max-prompt-tokens", in: 1...1_000_000) ?? PromptEncoder.defaultMaxPromptTokens
        stream = arguments.flag("--stream")
        if stream, case .model = source {
            throw UsageError("option '--stream' needs '--bundle' (a tokenizer for text)")
        }
        let flags = try GenerationFlags(arguments)
        let dumpLogits = arguments.flag("--dump-logits")
        options = GenerationOptions(
            maxNewTokens: flags.maxNewTokens, minNewTokens: flags.minNewTokens, sampling: flags.sampling,
            recordLogits: dumpLogits, stop: flags.stop, beams: flags.beams, logprobs: flags.logprobs)
        if dumpLogits, flags.beams.isOn {
            throw UsageError("option '--dump-logits' cannot be combined with '--num-beams'")
        }
        if !flags.stop.isEmpty, !isBundle {
            throw UsageError("option '--stop' needs '--bundle' (a tokenizer for text)")
        }
        json = arguments.flag("--json") || dumpLogits || stream || flags.logprobs != nil
        repeats = try arguments.int("--repeat", in: 1...1000) ?? 1
        switch arguments.string("--kernels") ?? "batch-invariant" {
        case "blas": rowKernel = .blas
        case "batch-invariant": rowKernel = .batchInvariant
        case let other: throw UsageError("option '--kernels' must be batch-invariant or blas, got '\(other)'")
        }
        timings = arguments.flag("--timings")
        weights = try WeightFlags.storage(arguments)
        threads = try arguments.threads()
        batch = try arguments.int("--batch", in: 1...1024)
        if batch != nil, isBundle { throw UsageError("option '--batch' needs '--model' (bundles decode one prompt)") }
        if batch != nil, options.beams.isOn {
            throw UsageError("option '--batch' cannot be combined with '--num-beams'")
        }
        samples = flags.samples
        if samples > 1, stream || batch != nil || repeats > 1 {
            throw UsageError("option '--n' cannot be combined with '--stream', '--batch' or '--repeat'")
        }
    }

    func run() throws -> Int32 {
        BLASThreads.set(threads)
        let generate: (GenerationOptions) throws -> GenerationResult
        let promptTokens: Int
        switch source {
        case .model(let model):
            let languageModel = try ModelRegistry.load(directory: model, rowKernel: rowKernel, weights: weights)
            if !languageModel.ignoredTensors.isEmpty {
                printError(
                    "l2s run: ignored \(languageModel.ignoredTensors.count) checkpoint tensor(s): "
                        + languageModel.ignoredTensors.joined(separator: ", "))
            }
            let ids = inputIDs ?? []
            promptTokens = ids.count
            if let batch {
                let invariant = rowKernel == .batchInvariant
                generate = { options in
                    let results = try BatchedRun.generate(
                        model: languageModel, promptIDs: ids, copies: batch, options: options)
                    if let copy = BatchedRun.firstDifference(results) {
                        guard !invariant else { throw BatchedRun.Mismatch(copy: copy) }
                        printError("l2s run: copy \(copy) of the batch differs from copy 0 (--kernels blas)")
                    }
                    return results[0]
                }
            } else {
                generate = { try Generator.generate(model: languageModel, promptIDs: ids, options: $0) }
            }
        case .bundle(let directory):
            let generator = try BundleGenerator(
                bundle: try L2SBundle.load(directory: directory), maxPromptTokens: maxPromptTokens,
                rowKernel: rowKernel, weights: weights)
            let ids = try inputIDs ?? generator.tokenize(prompt ?? "")
            promptTokens = ids.count
            // With --stream the first run prints its deltas as tokens come and its result is the one printed after
            // them; --repeat's later runs (for --timings) print nothing.
            var streamNextRun = stream
            generate = { options in
                guard streamNextRun else { return try generator.generate(promptIDs: ids, options: options) }
                streamNextRun = false
                return try generator.generate(promptIDs: ids, options: options) { delta, ids, logprobs in
                    printLine(GenerationResult.deltaLine(delta, ids: ids, logprobs: logprobs))
                }
            }
        }
        var result = try generate(options)
        var fastest = result.timings
        for _ in 1..<repeats {
            result = try generate(options)
            fastest.prefillSeconds = min(fastest.prefillSeconds, result.timings.prefillSeconds)
            fastest.decodeSeconds = min(fastest.decodeSeconds, result.timings.decodeSeconds)
        }
        if timings {
            printError(
                #"{"prefill_s":\#(fastest.prefillSeconds),"decode_s":\#(fastest.decodeSeconds),"#
                    + #""decode_steps":\#(fastest.decodeSteps),"prompt_tokens":\#(promptTokens),"threads":\#(threads),"#
                    + #""batch":\#(batch ?? 1),"kernels":"\#(KernelVariant.current.rawValue)","#
                    + #""weights":"\#(weights.rawValue)"}"#
            )
        }
        // Beam search with --num-return-sequences K prints K results, best first; --n N prints N samples.
        var printed = [result] + result.alternatives
        for index in 1..<samples {
            var sample = options
            sample.sampling = options.sampling.sample(index)
            printed.append(try generate(sample))
        }
        for sequence in printed {
            if json {
                printLine(sequence.jsonLine)
            } else {
                printLine(sequence.ids.map(String.init).joined(separator: " "))
                printError(
                    "finish_reason: \(sequence.finishReason.rawValue), prompt_tokens: \(sequence.usage.promptTokens), "
                        + "completion_tokens: \(sequence.usage.completionTokens)")
            }
        }
        return ExitStatus.success
    }

}
