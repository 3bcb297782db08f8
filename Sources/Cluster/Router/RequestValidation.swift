import Foundation
import Generation
import Wire

/// The bounds a request must keep: the router's flags, or a decoder's view of what the router may send.
public struct RequestLimits: Sendable {
    /// Largest `max_new_tokens`.
    public var maxNewTokens: UInt32 = 4096
    /// Largest prompt, in UTF-8 bytes of text or 4 bytes per token id.
    public var maxPromptBytes: Int = 256 << 10
    /// Largest number of stop sequences (OpenAI's limit, which generation enforces too).
    public var maxStopSequences: Int = GenerationOptions.maxStopStrings
    /// Largest `no_repeat_ngram_size` (each step scans the context for the n-gram).
    public var maxNoRepeatNGramSize: UInt32 = 64

    /// The defaults (those of `l2s router`).
    public init() {}
}

/// The checks a request must pass before it costs anything, on the router (from a client) and again on a
/// decoder (from the router: every hop is untrusted); each names the field and the values.
enum RequestValidation {
    struct Problem: Error, CustomStringConvertible {
        let code: ErrorCode
        let message: String
        var description: String { message }
    }

    static func problem(with request: GenerateRequest, limits configuration: RequestLimits) -> Problem? {
        if request.requestID.isEmpty { return Problem(code: .badRequest, message: "request_id is empty") }
        if request.requestID.utf8.count > 256 {
            return Problem(code: .badRequest, message: "request_id is \(request.requestID.utf8.count) bytes; limit 256")
        }
        switch request.prompt {
        case .text(let text):
            if text.isEmpty { return Problem(code: .badRequest, message: "the prompt text is empty") }
            if text.utf8.count > configuration.maxPromptBytes {
                return Problem(
                    code: .promptTooLong,
                    message: "the prompt is \(text.utf8.count) bytes; the router accepts at most "
                        + "\(configuration.maxPromptBytes)"
                )
            }
        case .tokenIDs(let ids):
            if ids.isEmpty { return Problem(code: .badRequest, message: "prompt token_ids is empty") }
            if ids.count * 4 > configuration.maxPromptBytes {
                return Problem(
                    code: .promptTooLong,
                    message: "the prompt has \(ids.count) token ids; the router accepts at most "
                        + "\(configuration.maxPromptBytes / 4)"
                )
            }
            if let index = ids.firstIndex(where: { $0 < 0 }) {
                return Problem(code: .badRequest, message: "prompt token_ids[\(index)] is negative (\(ids[index]))")
            }
        }
        if request.maxNewTokens == 0 || request.maxNewTokens > configuration.maxNewTokens {
            return Problem(
                code: .badRequest,
                message: "max_new_tokens must be in 1...\(configuration.maxNewTokens), got \(request.maxNewTokens)")
        }
        if request.minNewTokens > request.maxNewTokens {
            return Problem(
                code: .badRequest,
                message: "min_new_tokens (\(request.minNewTokens)) exceeds max_new_tokens (\(request.maxNewTokens))")
        }
        if request.stop.count > configuration.maxStopSequences {
            return Problem(
                code: .badRequest,
                message: "\(request.stop.count) stop sequences; at most \(configuration.maxStopSequences) are allowed")
        }
        if let index = request.stop.firstIndex(where: \.isEmpty) {
            return Problem(code: .badRequest, message: "stop[\(index)] is an empty string")
        }
        if let index = request.stop.firstIndex(where: { $0.utf8.count > GenerationOptions.maxStopBytes }) {
            return Problem(
                code: .badRequest,
                message:
                    "stop[\(index)] is \(request.stop[index].utf8.count) bytes; limit \(GenerationOptions.maxStopBytes)"
            )
        }
        if !TraceID.isValid(request.traceID) {
            return Problem(
                code: .badRequest,
                message: "trace_id must be at most \(TraceID.maxBytes) printable ASCII characters, got "
                    + "\(request.traceID.utf8.count) bytes")
        }
        if request.tenantSalt.count > 256 {
            return Problem(code: .badRequest, message: "tenant_salt is \(request.tenantSalt.count) bytes; limit 256")
        }
        if let sampling = request.sampling, let message = SamplingConversion.parameters(sampling).validationError {
            return Problem(code: .badRequest, message: "sampling: \(message)")
        }
        if let size = request.sampling?.noRepeatNGramSize, size > configuration.maxNoRepeatNGramSize {
            return Problem(
                code: .badRequest,
                message:
                    "sampling: no_repeat_ngram_size must be in 0...\(configuration.maxNoRepeatNGramSize), got \(size)")
        }
        if let top = request.logprobs {
            if top > TokenLogprob.maxTop {
                return Problem(code: .badRequest, message: "logprobs must be in 0...\(TokenLogprob.maxTop), got \(top)")
            }
            if let beams = request.beams, beams.numBeams > 1 {
                return Problem(
                    code: .badRequest,
                    message: "logprobs cannot be combined with beam search (beams.num_beams \(beams.numBeams))")
            }
        }
        return beamProblem(with: request)
    }

    /// Beam settings the Generation module would refuse, or that the cluster does not serve (it returns one
    /// sequence per job).
    private static func beamProblem(with request: GenerateRequest) -> Problem? {
        guard let beams = request.beams else { return nil }
        if beams.numReturnSequences > 1 {
            return Problem(
                code: .badRequest,
                message: "beams: num_return_sequences must be 1 (the cluster returns the best sequence; "
                    + "l2s run --num-return-sequences returns more), got \(beams.numReturnSequences)")
        }
        let options = GenerationOptions(
            maxNewTokens: Int(request.maxNewTokens), sampling: SamplingConversion.parameters(request.sampling),
            stop: request.stop, beams: BeamConversion.options(beams))
        do {
            try options.validate()
        } catch {
            return Problem(code: .badRequest, message: "beams: \(error)")
        }
        return nil
    }

    /// The checks a decode job from the router must pass on a decoder: its request as a client's, and resume ids
    /// that leave something to generate. The encoding is checked against the bundle by the decoder itself.
    static func problem(with job: DecodeJob) -> Problem? {
        var limits = RequestLimits()
        limits.maxNewTokens = UInt32.max
        limits.maxPromptBytes = Int(Int32.max)
        limits.maxStopSequences = 1024
        if let problem = problem(with: job.request, limits: limits) {
            return Problem(code: problem.code, message: "decode_job.request: " + problem.message)
        }
        if job.resumeIDs.count >= Int(job.request.maxNewTokens) {
            return Problem(
                code: .badRequest,
                message: "decode_job.resume_ids has \(job.resumeIDs.count) ids; "
                    + "max_new_tokens \(job.request.maxNewTokens) leaves nothing to generate")
        }
        if let index = job.resumeIDs.firstIndex(where: { $0 < 0 }) {
            return Problem(
                code: .badRequest,
                message: "decode_job.resume_ids[\(index)] is negative (\(job.resumeIDs[index]))")
        }
        return nil
    }
}

/// Wire sampling settings <-> the Generation module's, in one place (the wire says 0 where Generation says "off").
public enum SamplingConversion {
    /// The Generation parameters for wire settings (nil = greedy without penalties). The penalties hold for greedy
    /// settings too.
    public static func parameters(_ wire: SamplingParams?) -> SamplingParameters {
        guard let wire else { return .greedy }
        var parameters = SamplingParameters(
            repetitionPenalty: wire.repetitionPenalty == 0 ? 1 : wire.repetitionPenalty,
            noRepeatNGramSize: Int(min(wire.noRepeatNGramSize, UInt32(Int32.max))),
            presencePenalty: wire.presencePenalty, frequencyPenalty: wire.frequencyPenalty)
        guard !wire.greedy else { return parameters }
        parameters.greedy = false
        parameters.temperature = wire.temperature
        parameters.topK = Int(wire.topK)
        parameters.topP = wire.topP == 0 ? 1 : wire.topP
        parameters.seed = wire.seed
        return parameters
    }

    /// The wire settings for Generation parameters.
    public static func wire(_ parameters: SamplingParameters) -> SamplingParams {
        SamplingParams(
            greedy: parameters.greedy, temperature: parameters.temperature, topK: UInt32(max(0, parameters.topK)),
            topP: parameters.topP, seed: parameters.seed, repetitionPenalty: parameters.repetitionPenalty,
            noRepeatNGramSize: UInt32(max(0, parameters.noRepeatNGramSize)),
            presencePenalty: parameters.presencePenalty,
            frequencyPenalty: parameters.frequencyPenalty)
    }
}

/// Wire beam settings <-> the Generation module's (the wire says 0 where Generation says 1).
public enum BeamConversion {
    /// The Generation settings for wire settings (nil = no beam search).
    public static func options(_ wire: BeamParams?) -> BeamOptions {
        guard let wire else { return .off }
        let stopping: BeamOptions.EarlyStopping
        switch wire.earlyStopping {
        case .heuristic: stopping = .heuristic
        case .always: stopping = .always
        case .never: stopping = .never
        }
        return BeamOptions(
            numBeams: max(1, Int(wire.numBeams)), lengthPenalty: wire.lengthPenalty, earlyStopping: stopping,
            numReturnSequences: max(1, Int(wire.numReturnSequences)))
    }

    /// The wire settings for Generation settings (nil when beam search is off).
    public static func wire(_ options: BeamOptions) -> BeamParams? {
        guard options.isOn else { return nil }
        let stopping: BeamParams.EarlyStopping
        switch options.earlyStopping {
        case .heuristic: stopping = .heuristic
        case .always: stopping = .always
        case .never: stopping = .never
        }
        return BeamParams(
            numBeams: UInt32(options.numBeams), lengthPenalty: options.lengthPenalty, earlyStopping: stopping,
            numReturnSequences: UInt32(options.numReturnSequences))
    }
}

/// Wall-clock milliseconds, for deadlines and heartbeats that cross machines.
enum WallClock {
    static func unixMilliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}
