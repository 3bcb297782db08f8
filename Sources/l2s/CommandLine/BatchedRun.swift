import Generation
import Models

/// `l2s run --batch N`: N copies of one prompt decoded together through `LanguageModel.step`, the batched step path
/// the decoder worker takes, so the batched kernels can be measured without a cluster.
enum BatchedRun {
    /// Starts `copies` sequences of `promptIDs` and steps the unfinished ones together until every job ends.
    /// Each result carries the shared timings: prefill of all copies, the batched steps and their count.
    static func generate(
        model: any LanguageModel, promptIDs: [Int32], copies: Int, options: GenerationOptions
    ) throws -> [GenerationResult] {
        let clock = ContinuousClock()
        let start = clock.now
        let sequences = try (0..<copies).map { _ in try model.startSequence(promptIDs: promptIDs) }
        let prefillSeconds = (clock.now - start).inSeconds
        var (decodeSeconds, decodeSteps) = (0.0, 0)
        var jobs = sequences.map { _ in GenerationJob(options: options, eosTokenIDs: model.eosTokenIDs) }
        var logits = [[[Float]]](repeating: [], count: copies)
        var logprobs = [[TokenLogprob]](repeating: [], count: copies)
        while true {
            var tokens: [Int32] = []
            var stepping: [any DecodingSequence] = []
            for index in jobs.indices where jobs[index].finishReason == nil {
                if options.recordLogits { logits[index].append(sequences[index].logits) }
                let (token, logprob) = jobs[index].chooseWithLogprob(from: sequences[index].logits)
                if let logprob { logprobs[index].append(logprob) }
                if jobs[index].accept(token) == nil {
                    tokens.append(token)
                    stepping.append(sequences[index])
                }
            }
            if stepping.isEmpty { break }
            let stepStart = clock.now
            try model.step(tokens, sequences: stepping)
            decodeSeconds += (clock.now - stepStart).inSeconds
            decodeSteps += 1
        }
        return jobs.indices.map { index in
            var result = GenerationResult(
                ids: jobs[index].ids, finishReason: jobs[index].finishReason ?? .length,
                usage: Usage(promptTokens: promptIDs.count, completionTokens: jobs[index].ids.count),
                logits: options.recordLogits ? logits[index] : nil)
            if options.logprobs != nil { result.logprobs = logprobs[index] }
            result.timings.prefillSeconds = prefillSeconds
            result.timings.decodeSeconds = decodeSeconds
            result.timings.decodeSteps = decodeSteps
            return result
        }
    }

    /// A copy of the batch came out different from copy 0 under batch-invariant kernels.
    struct Mismatch: Error, CustomStringConvertible {
        /// The copy that differs.
        let copy: Int
        var description: String { "copy \(copy) of the batch differs from copy 0 under batch-invariant kernels" }
    }

    /// The index of the first copy whose result differs from copy 0's, if any. Batch-invariant kernels make every
    /// copy identical (greedy or seeded sampling alike), so a difference there is a bug.
    static func firstDifference(_ results: [GenerationResult]) -> Int? {
        results.indices.dropFirst().first { results[$0] != results[0] }
    }
}
