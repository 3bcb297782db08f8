import Cluster
import Foundation
import Generation
import Wire

/// `l2s generate`: a client of the cluster; prints what `l2s run --bundle` prints for the same prompt and flags.
struct GenerateCommand: Subcommand {
    static let name = "generate"
    static let summary = "send prompts to a running cluster and print the generated text"
    static let usage = """
        l2s generate --router EP [PROMPT | --input-ids 1,2,3 | --file prompts.jsonl] [--max-new-tokens N]
                     [--greedy | --temperature T --top-k K --top-p P --seed S] [--stop TEXT] [--json] [--stream]
                     [--repetition-penalty F] [--no-repeat-ngram-size N] [--presence-penalty F]
                     [--frequency-penalty F] [--num-beams N [--length-penalty F] [--early-stopping WHEN]] [--n N]
                     [--logprobs N]
        """
    static let discussion = """
        Submits jobs to the router's clients endpoint. One PROMPT (or --input-ids, LLM token ids) prints its
        text, or with --json the result object {"text","ids","finish_reason","usage"} that `l2s run --bundle`
        prints; --stream prints each piece as it arrives ({"delta","ids"} lines before the result with --json).
        --file reads JSON lines {"prompt": TEXT} or {"input_ids": [..]} (optional "max_new_tokens") and keeps up to
        --concurrency of them in flight; results come out in input order, one JSON line each ({"error": ...}
        for a failed one). Exit status 1 when any job failed.
        --num-beams N runs beam search on a decoder (N of its slots); the job streams nothing before it ends and
        returns the best sequence (the cluster returns one: --num-return-sequences above 1 is refused).
        --n N sends each prompt N times, sample j seeded S + j, and prints N result lines per prompt, in order.
        --logprobs N adds "logprobs" to results and deltas as `l2s run` prints them (implies --json).
        """
    static let options =
        ClientFlags.options + [
            OptionSpec("--input-ids", value: "IDS", help: "prompt as LLM token ids, comma-separated"),
            OptionSpec("--file", value: "PATH", help: "JSON lines of prompts ('-' = standard input)"),
            OptionSpec("--concurrency", value: "N", help: "jobs in flight at once with --file", default: "16"),
            OptionSpec("--json", help: "print JSON lines"),
            OptionSpec("--stream", help: "print text as it is generated"),
            OptionSpec(
                "--timeout-ms", value: "MS", help: "give up on a job after this long without news",
                default: "120000", env: "L2S_TIMEOUT_MS"),
        ] + GenerationFlags.options

    let connection: ClientFlags
    let prompts: [Prompt]
    let perPromptMaxTokens: [Int?]
    let flags: GenerationFlags
    let stop: [String]
    let json: Bool
    let stream: Bool
    let fromFile: Bool
    let concurrency: Int
    let timeout: Duration

    init(_ arguments: ParsedArguments) throws {
        connection = try ClientFlags(arguments)
        flags = try GenerationFlags(arguments)
        json = arguments.flag("--json") || arguments.isExplicit("--logprobs")
        stream = arguments.flag("--stream")
        stop = flags.stop
        if flags.samples > 1, stream { throw UsageError("option '--n' cannot be combined with '--stream'") }
        concurrency = try arguments.int("--concurrency", in: 1...10_000)!
        timeout = .milliseconds(try arguments.int("--timeout-ms", in: 1...86_400_000)!)
        let sources = [
            !arguments.positionals.isEmpty, arguments.string("--input-ids") != nil,
            arguments.string("--file") != nil,
        ].filter { $0 }.count
        guard sources == 1 else { throw UsageError("give exactly one of PROMPT, --input-ids or --file") }
        if arguments.positionals.count > 1 {
            throw UsageError("one PROMPT only (quote it); got \(arguments.positionals.count) words")
        }
        if let path = arguments.string("--file") {
            fromFile = true
            if stream { throw UsageError("--stream cannot be combined with --file") }
            (prompts, perPromptMaxTokens) = try PromptFile.read(path)
        } else if let ids = try arguments.tokenIDs("--input-ids") {
            fromFile = false
            prompts = [.tokenIDs(ids)]
            perPromptMaxTokens = [nil]
        } else {
            fromFile = false
            prompts = [.text(arguments.positionals[0])]
            perPromptMaxTokens = [nil]
        }
    }

    /// Job `index`: prompt `index / n`, its sample `index % n` (seeded `seed + index % n`).
    func request(_ index: Int) -> GenerateRequest {
        let prompt = index / flags.samples
        return GenerateRequest(
            requestID: "\(index)", prompt: prompts[prompt],
            maxNewTokens: UInt32(perPromptMaxTokens[prompt] ?? flags.maxNewTokens),
            minNewTokens: UInt32(flags.minNewTokens),
            sampling: SamplingConversion.wire(flags.sampling.sample(index % flags.samples)), stop: stop,
            stream: stream, beams: BeamConversion.wire(flags.beams), logprobs: flags.logprobs.map { UInt32($0) })
    }

    func run() throws -> Int32 {
        let client = try connection.connect()
        if !fromFile, flags.samples == 1 {
            var streamedIDs: [Int32] = []
            var streamedText = ""
            var streamedLogprobs: [ChunkLogprob] = []
            var final = try client.generate(request(0), timeout: timeout) { chunk in
                streamedIDs += chunk.ids
                streamedText += chunk.textDelta
                streamedLogprobs += chunk.logprobs
                if json {
                    printLine(ResultFormat.delta(chunk))
                } else {
                    FileHandle.standardOutput.write(Data(chunk.textDelta.utf8))
                }
            }
            // A streamed job's final chunk carries only what was not streamed yet.
            final.ids = streamedIDs + final.ids
            final.textDelta = streamedText + final.textDelta
            final.logprobs = streamedLogprobs + final.logprobs
            if json {
                printLine(ResultFormat.result(final, logprobs: flags.logprobs != nil).jsonLine)
            } else {
                printLine(stream ? "" : final.textDelta)
            }
            return ExitStatus.success
        }
        var lines = [String?](repeating: nil, count: prompts.count * flags.samples)
        var failed = 0
        _ = try client.runWindowed(
            jobs: lines.count, concurrency: concurrency, eventTimeout: timeout,
            request: request
        ) { index, event in
            switch event {
            case .chunk: break
            case .finished(let chunk):
                lines[index] = ResultFormat.result(chunk, logprobs: flags.logprobs != nil).jsonLine
            case .failed(let error):
                lines[index] = ResultFormat.error(error)
                failed += 1
            }
        }
        for line in lines { printLine(line ?? "{}") }
        return failed == 0 ? ExitStatus.success : ExitStatus.failure
    }
}

/// The JSON shapes `l2s generate` prints, equal to `l2s run`'s for the same job.
enum ResultFormat {
    /// The result object of a job's whole chunk; `logprobs` when the job asked for them.
    static func result(_ chunk: TokenChunk, logprobs: Bool = false) -> GenerationResult {
        let reason: Generation.FinishReason
        switch chunk.finishReason {
        case .eos: reason = .eos
        case .stop: reason = .stop
        case .cancelled: reason = .cancelled
        case .length, .unspecified: reason = .length
        }
        var result = GenerationResult(
            text: chunk.textDelta, ids: chunk.ids, finishReason: reason,
            usage: Generation.Usage(
                promptTokens: Int(chunk.usage?.promptTokens ?? 0),
                completionTokens: Int(chunk.usage?.completionTokens ?? 0)))
        if logprobs { result.logprobs = LogprobConversion.generation(chunk.logprobs) }
        return result
    }

    /// A streamed chunk as `l2s run --stream` prints a delta.
    static func delta(_ chunk: TokenChunk) -> String {
        GenerationResult.deltaLine(
            chunk.textDelta, ids: chunk.ids,
            logprobs: chunk.logprobs.isEmpty ? nil : LogprobConversion.generation(chunk.logprobs))
    }

    static func error(_ error: ErrorReply) -> String {
        #"{"error":{"code":"\#(error.code)","message":\#(GenerationResult.quoted(error.message))}}"#
    }
}

/// Reads `l2s generate --file`: one JSON object per line.
enum PromptFile {
    static func read(_ path: String) throws -> ([Prompt], [Int?]) {
        let data = try InputFile.read(path, option: "--file")
        var prompts: [Prompt] = []
        var limits: [Int?] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                throw UsageError("\(path):\(number + 1): not a JSON object")
            }
            if let text = object["prompt"] as? String {
                prompts.append(.text(text))
            } else if let ids = object["input_ids"] as? [Int], ids.allSatisfy({ (0...Int(Int32.max)).contains($0) }) {
                prompts.append(.tokenIDs(ids.map { Int32($0) }))
            } else {
                throw UsageError("\(path):\(number + 1): needs \"prompt\" (text) or \"input_ids\" (non-negative ints)")
            }
            limits.append(object["max_new_tokens"] as? Int)
        }
        guard !prompts.isEmpty else { throw UsageError("--file '\(path)' holds no prompts") }
        return (prompts, limits)
    }
}
