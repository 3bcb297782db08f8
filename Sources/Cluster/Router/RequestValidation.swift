import Foundation
import Generation
import Wire

/// The checks a client request must pass before it costs anything; each names the field and the values.
enum RequestValidation {
    struct Problem {
        let code: ErrorCode
        let message: String
    }

    static func problem(with request: GenerateRequest, configuration: RouterConfiguration) -> Problem? {
        if request.requestID.isEmpty { return Problem(code: .badRequest, message: "request_id is empty") }
        if request.requestID.utf8.count > 256 {
            return Problem(code: .badRequest, message: "request_id is \(request.requestID.utf8.count) bytes; limit 256")
        }
        switch request.prompt {
        case .text(let text):
            if text.isEmpty { return Problem(code: .badRequest, message: "the prompt text is empty") }
            if text.utf8.count > configuration.maxPromptBytes {
                return Problem(code: .promptTooLong,
                    message: "the prompt is \(text.utf8.count) bytes; the router accepts at most \(configuration.maxPromptBytes)")
            }
        case .tokenIDs(let ids):
            if ids.isEmpty { return Problem(code: .badRequest, message: "prompt token_ids is empty") }
            if ids.count * 4 > configuration.maxPromptBytes {
                return Problem(code: .promptTooLong,
                    message: "the prompt has \(ids.count) token ids; the router accepts at most \(configuration.maxPromptBytes / 4)")
            }
            if let index = ids.firstIndex(where: { $0 < 0 }) {
                return Problem(code: .badRequest, message: "prompt token_ids[\(index)] is negative (\(ids[index]))")
            }
        }
        if request.maxNewTokens == 0 || request.maxNewTokens > configuration.maxNewTokensLimit {
            return Problem(code: .badRequest,
                message: "max_new_tokens must be in 1...\(configuration.maxNewTokensLimit), got \(request.maxNewTokens)")
        }
        if request.minNewTokens > request.maxNewTokens {
            return Problem(code: .badRequest,
                message: "min_new_tokens (\(request.minNewTokens)) exceeds max_new_tokens (\(request.maxNewTokens))")
        }
        if request.stop.count > configuration.maxStopSequences {
            return Problem(code: .badRequest,
                message: "\(request.stop.count) stop sequences; at most \(configuration.maxStopSequences) are allowed")
        }
        if let index = request.stop.firstIndex(where: \.isEmpty) {
            return Problem(code: .badRequest, message: "stop[\(index)] is an empty string")
        }
        if request.tenantSalt.count > 256 {
            return Problem(code: .badRequest, message: "tenant_salt is \(request.tenantSalt.count) bytes; limit 256")
        }
        if let sampling = request.sampling, let message = SamplingConversion.parameters(sampling).validationError {
            return Problem(code: .badRequest, message: "sampling: \(message)")
        }
        return nil
    }
}

/// Wire sampling settings <-> the Generation module's, in one place (the wire says 0 where Generation says "off").
public enum SamplingConversion {
    /// The Generation parameters for wire settings (nil = greedy).
    public static func parameters(_ wire: SamplingParams?) -> SamplingParameters {
        guard let wire, !wire.greedy else { return .greedy }
        return SamplingParameters(greedy: false, temperature: wire.temperature, topK: Int(wire.topK),
            topP: wire.topP == 0 ? 1 : wire.topP, seed: wire.seed)
    }

    /// The wire settings for Generation parameters.
    public static func wire(_ parameters: SamplingParameters) -> SamplingParams {
        SamplingParams(greedy: parameters.greedy, temperature: parameters.temperature, topK: UInt32(max(0, parameters.topK)),
            topP: parameters.topP, seed: parameters.seed)
    }
}

/// Compares the bundle a worker announces with the cluster's.
enum FingerprintCheck {
    /// A description of the first field that differs, or nil when every field both sides set agrees.
    static func mismatch(pinned: Fingerprints?, announced: Fingerprints) -> String? {
        guard let pinned else { return nil }
        let fields = [("llm", pinned.llm, announced.llm), ("projector", pinned.projector, announced.projector),
            ("slm", pinned.slm, announced.slm), ("tokenizer", pinned.tokenizer, announced.tokenizer)]
        for (name, expected, got) in fields where !expected.isEmpty && !got.isEmpty && expected != got {
            return "\(name) fingerprint \(got.prefix(16))… differs from the cluster's \(expected.prefix(16))…"
        }
        return nil
    }

    /// The pinned fingerprints completed with what the worker announced (encoders know the tokenizer,
    /// decoders the SLM).
    static func merge(pinned: Fingerprints?, announced: Fingerprints) -> Fingerprints? {
        var result = pinned ?? Fingerprints()
        if result.llm.isEmpty { result.llm = announced.llm }
        if result.projector.isEmpty { result.projector = announced.projector }
        if result.slm.isEmpty { result.slm = announced.slm }
        if result.tokenizer.isEmpty { result.tokenizer = announced.tokenizer }
        return result.llm.isEmpty ? nil : result
    }
}

/// Wall-clock milliseconds, for deadlines and heartbeats that cross machines.
enum WallClock {
    static func unixMilliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}
