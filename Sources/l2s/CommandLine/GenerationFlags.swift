import Generation

/// The generation flags `l2s run` and `l2s generate` share, parsed one way so both print the same result
/// for the same flags.
struct GenerationFlags {
    static let options = [
        OptionSpec("--max-new-tokens", value: "N", help: "stop after N new tokens", default: "20"),
        OptionSpec("--min-new-tokens", value: "N", help: "suppress EOS until N tokens exist", default: "0"),
        OptionSpec("--greedy", help: "always take the most likely token (the default)"),
        OptionSpec("--temperature", value: "T", help: "sampling temperature", default: "1"),
        OptionSpec("--top-k", value: "K", help: "sample among the K most likely tokens (0 = all)", default: "0"),
        OptionSpec("--top-p", value: "P", help: "sample within probability mass P (1 = all)", default: "1"),
        OptionSpec("--seed", value: "S", help: "seed of the sampler", default: "0"),
        OptionSpec(
            "--repetition-penalty", value: "F",
            help: "divide the logits of ids already in the context by F (transformers' repetition_penalty; 1 = off)",
            default: "1"),
        OptionSpec(
            "--no-repeat-ngram-size", value: "N", help: "never repeat an n-gram of N ids (0 = off)", default: "0"),
        OptionSpec(
            "--presence-penalty", value: "F",
            help: "subtract F from the logit of every id generated so far (OpenAI's presence_penalty)", default: "0"),
        OptionSpec(
            "--frequency-penalty", value: "F",
            help: "subtract F per earlier occurrence from an id's logit (OpenAI's frequency_penalty)", default: "0"),
        OptionSpec(
            "--stop", value: "TEXT",
            help: "stop where the text contains TEXT, which is cut off with what follows (repeatable, at most 4)"),
        OptionSpec(
            "--num-beams", value: "N",
            help: "beam search over N beams (greedy; transformers' num_beams, at most \(BeamOptions.maxBeams))",
            default: "1"),
        OptionSpec(
            "--length-penalty", value: "F",
            help: "beam scores are divided by length^F (> 0 favours longer answers)", default: "1"),
        OptionSpec(
            "--early-stopping", value: "WHEN",
            help: "false: stop when no beam can improve; true: when N are finished; never: the canonical rule",
            default: "false"),
        OptionSpec(
            "--num-return-sequences", value: "K", help: "return the K best beams, best first (K <= N)",
            default: "1"),
        OptionSpec(
            "--n", value: "N", help: "N independent samples (OpenAI's n), sample j seeded S + j, one result each",
            default: "1"),
        OptionSpec(
            "--logprobs", value: "N",
            help: "add each token's log-probability and the N most likely alternatives (0-\(TokenLogprob.maxTop))"),
    ]

    let maxNewTokens: Int
    let minNewTokens: Int
    let sampling: SamplingParameters
    /// Stop strings, in the order given.
    let stop: [String]
    /// Beam search settings (off unless `--num-beams` > 1).
    let beams: BeamOptions
    /// Independent samples per prompt (`--n`).
    let samples: Int
    /// Alternatives per token with its log-probability (`--logprobs`); nil = off.
    let logprobs: Int?

    init(_ arguments: ParsedArguments) throws {
        maxNewTokens = try arguments.int("--max-new-tokens", in: 0...1_000_000) ?? 20
        minNewTokens = try arguments.int("--min-new-tokens", in: 0...1_000_000) ?? 0
        let samplingFlags = ["--temperature", "--top-k", "--top-p", "--seed"].filter { arguments.isExplicit($0) }
        if arguments.flag("--greedy"), let first = samplingFlags.first {
            throw UsageError("option '\(first)' cannot be combined with '--greedy'")
        }
        sampling = SamplingParameters(
            greedy: samplingFlags.isEmpty,
            temperature: Float(try arguments.double("--temperature", in: 0...100) ?? 1),
            topK: try arguments.int("--top-k", in: 0...Int(Int32.max)) ?? 0,
            topP: Float(try arguments.double("--top-p", in: 0...1) ?? 1),
            seed: UInt64(try arguments.int("--seed", in: 0...Int.max) ?? 0),
            repetitionPenalty: Float(try arguments.double("--repetition-penalty", in: 0...10) ?? 1),
            noRepeatNGramSize: try arguments.int("--no-repeat-ngram-size", in: 0...64) ?? 0,
            presencePenalty: Float(try arguments.double("--presence-penalty", in: -2...2) ?? 0),
            frequencyPenalty: Float(try arguments.double("--frequency-penalty", in: -2...2) ?? 0))
        if let problem = sampling.validationError { throw UsageError(problem) }
        stop = arguments.strings("--stop")
        if stop.count > GenerationOptions.maxStopStrings {
            throw UsageError("option '--stop' may be given at most \(GenerationOptions.maxStopStrings) times")
        }
        if let bad = stop.first(where: { $0.isEmpty || $0.utf8.count > GenerationOptions.maxStopBytes }) {
            throw UsageError("option '--stop': '\(bad)' is not 1-\(GenerationOptions.maxStopBytes) UTF-8 bytes")
        }
        let stopping = arguments.string("--early-stopping") ?? "false"
        guard let earlyStopping = BeamOptions.EarlyStopping(rawValue: stopping) else {
            throw UsageError("option '--early-stopping' must be false, true or never, got '\(stopping)'")
        }
        let numBeams = try arguments.int("--num-beams", in: 1...BeamOptions.maxBeams) ?? 1
        beams = BeamOptions(
            numBeams: numBeams, lengthPenalty: Float(try arguments.double("--length-penalty", in: -100...100) ?? 1),
            earlyStopping: earlyStopping,
            numReturnSequences: try arguments.int("--num-return-sequences", in: 1...numBeams) ?? 1)
        if beams.isOn, let first = samplingFlags.first {
            throw UsageError("option '\(first)' cannot be combined with '--num-beams' (beam search is greedy)")
        }
        if beams.isOn, !stop.isEmpty { throw UsageError("option '--stop' cannot be combined with '--num-beams'") }
        samples = try arguments.int("--n", in: 1...64) ?? 1
        if samples > 1, beams.isOn { throw UsageError("option '--n' cannot be combined with '--num-beams'") }
        logprobs = try arguments.int("--logprobs", in: 0...TokenLogprob.maxTop)
        if logprobs != nil, beams.isOn {
            throw UsageError("option '--logprobs' cannot be combined with '--num-beams'")
        }
    }
}

extension SamplingParameters {
    /// The parameters of sample `index` of `--n`: the seed advanced by `index` (greedy jobs ignore it).
    func sample(_ index: Int) -> SamplingParameters {
        var copy = self
        copy.seed &+= UInt64(index)
        return copy
    }
}
