import Foundation
import Generation
import Models
import Numerics

/// `l2s run`: in-process generation from a Hugging Face checkpoint, no cluster.
struct RunCommand: Subcommand {
    static let name = "run"
    static let summary = "generate in-process from a model directory (no cluster)"
    static let usage = """
        l2s run --model DIR --input-ids 1,2,3 [--max-new-tokens N] [--min-new-tokens N]
                      [--greedy | --temperature T --top-k K --top-p P --seed S] [--json] [--dump-logits] [--threads N]
        """
    static let discussion = """
        Loads the checkpoint in DIR (config.json + safetensors; model_type t5 or gpt2), feeds the prompt ids and
        generates until an EOS id of the config or --max-new-tokens. Greedy unless a sampling flag is given.
        --json prints one result object {"text","ids","finish_reason","usage"}; --dump-logits adds "logits", one
        row of raw vocabulary-size logits per generated token (and implies --json).
        """
    static let options = [
        OptionSpec("--model", value: "DIR", help: "Hugging Face checkpoint directory", env: "L2S_MODEL"),
        OptionSpec("--input-ids", value: "IDS", help: "prompt token ids, comma-separated"),
        OptionSpec("--max-new-tokens", value: "N", help: "stop after N new tokens", default: "20"),
        OptionSpec("--min-new-tokens", value: "N", help: "suppress EOS until N tokens exist", default: "0"),
        OptionSpec("--greedy", help: "always take the most likely token (the default)"),
        OptionSpec("--temperature", value: "T", help: "sampling temperature", default: "1"),
        OptionSpec("--top-k", value: "K", help: "sample among the K most likely tokens (0 = all)", default: "0"),
        OptionSpec("--top-p", value: "P", help: "sample within probability mass P (1 = all)", default: "1"),
        OptionSpec("--seed", value: "S", help: "seed of the sampler", default: "0"),
        OptionSpec("--json", help: "print the result as one JSON object"),
        OptionSpec("--dump-logits", help: "add each step's raw logits to the JSON result"),
        OptionSpec("--threads", value: "N", help: "OpenBLAS threads", default: "cores", env: "L2S_THREADS"),
        OptionSpec(
            "--kernels", value: "K",
            help: "batch-invariant (steps bit-identical to batched decoding) or blas (OpenBLAS gemv/gemm)",
            default: "batch-invariant", env: "L2S_KERNELS"),
        OptionSpec(
            "--repeat", value: "N", help: "run the job N times (benchmarks; the result is printed once)",
            default: "1"),
        OptionSpec("--timings", help: "print the fastest run's prefill and decode times as JSON on stderr"),
    ]

    let model: URL
    let inputIDs: [Int32]
    let options: GenerationOptions
    let json: Bool
    let threads: Int
    let repeats: Int
    let rowKernel: RowKernel
    let timings: Bool

    init(_ arguments: ParsedArguments) throws {
        if let word = arguments.positionals.first {
            throw UsageError("text prompts need a tokenizer; give token ids with --input-ids (got '\(word)')")
        }
        model = URL(fileURLWithPath: try arguments.required("--model"))
        guard let ids = try arguments.intList("--input-ids") else {
            throw UsageError("missing required option '--input-ids'")
        }
        guard !ids.isEmpty else { throw UsageError("option '--input-ids' needs at least one id") }
        if let bad = ids.first(where: { $0 < 0 || $0 > Int(Int32.max) }) {
            throw UsageError("option '--input-ids': id \(bad) is not in 0...\(Int32.max)")
        }
        inputIDs = ids.map { Int32($0) }
        let maxNew = try arguments.int("--max-new-tokens", in: 0...1_000_000) ?? 20
        let minNew = try arguments.int("--min-new-tokens", in: 0...1_000_000) ?? 0
        let samplingFlags = ["--temperature", "--top-k", "--top-p", "--seed"].filter { arguments.isExplicit($0) }
        if arguments.flag("--greedy"), let first = samplingFlags.first {
            throw UsageError("option '\(first)' cannot be combined with '--greedy'")
        }
        let sampling = SamplingParameters(
            greedy: samplingFlags.isEmpty,
            temperature: Float(try arguments.double("--temperature", in: 0...100) ?? 1),
            topK: try arguments.int("--top-k", in: 0...Int(Int32.max)) ?? 0,
            topP: Float(try arguments.double("--top-p", in: 0...1) ?? 1),
            seed: UInt64(try arguments.int("--seed", in: 0...Int.max) ?? 0))
        if let problem = sampling.validationError { throw UsageError(problem) }
        let dumpLogits = arguments.flag("--dump-logits")
        options = GenerationOptions(
            maxNewTokens: maxNew, minNewTokens: minNew, sampling: sampling, recordLogits: dumpLogits)
        json = arguments.flag("--json") || dumpLogits
        repeats = try arguments.int("--repeat", in: 1...1000) ?? 1
        switch arguments.string("--kernels") ?? "batch-invariant" {
        case "blas": rowKernel = .blas
        case "batch-invariant": rowKernel = .batchInvariant
        case let other: throw UsageError("option '--kernels' must be batch-invariant or blas, got '\(other)'")
        }
        timings = arguments.flag("--timings")
        if arguments.string("--threads") == "cores" {
            threads = ProcessInfo.processInfo.activeProcessorCount
        } else {
            threads = try arguments.int("--threads", in: 1...1024) ?? 1
        }
    }

    func run() throws -> Int32 {
        BLASThreads.set(threads)
        let languageModel = try ModelRegistry.load(directory: model, rowKernel: rowKernel)
        if !languageModel.ignoredTensors.isEmpty {
            printError(
                "l2s run: ignored \(languageModel.ignoredTensors.count) checkpoint tensor(s): "
                    + languageModel.ignoredTensors.joined(separator: ", "))
        }
        var result = try Generator.generate(model: languageModel, promptIDs: inputIDs, options: options)
        var fastest = result.timings
        for _ in 1..<repeats {
            result = try Generator.generate(model: languageModel, promptIDs: inputIDs, options: options)
            fastest.prefillSeconds = min(fastest.prefillSeconds, result.timings.prefillSeconds)
            fastest.decodeSeconds = min(fastest.decodeSeconds, result.timings.decodeSeconds)
        }
        if timings {
            printError(
                #"{"prefill_s":\#(fastest.prefillSeconds),"decode_s":\#(fastest.decodeSeconds),"#
                    + #""decode_steps":\#(fastest.decodeSteps),"prompt_tokens":\#(inputIDs.count),"threads":\#(threads)}"#
            )
        }
        if json {
            printLine(result.jsonLine)
        } else {
            printLine(result.ids.map(String.init).joined(separator: " "))
            printError(
                "finish_reason: \(result.finishReason.rawValue), prompt_tokens: \(result.usage.promptTokens), "
                    + "completion_tokens: \(result.usage.completionTokens)")
        }
        return ExitStatus.success
    }
}
