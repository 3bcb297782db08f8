import Foundation
import Wire

/// An OpenAI-style error: the HTTP status and the `error` object's fields.
struct APIError: Error {
    let status: Int
    let message: String
    let type: String
    let param: String?
    let code: String?

    static func badRequest(_ message: String, param: String?) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: nil)
    }

    /// The error a router refusal or failure becomes, with the status an OpenAI client expects.
    static func from(_ error: ErrorReply) -> APIError {
        let (status, type): (Int, String)
        switch error.code {
        case .badRequest, .unsupportedVersion: (status, type) = (400, "invalid_request_error")
        case .promptTooLong, .messageTooLarge: (status, type) = (413, "invalid_request_error")
        case .overloaded: (status, type) = (429, "rate_limit_error")
        case .unavailable, .bundleMismatch: (status, type) = (503, "service_unavailable")
        case .deadlineExceeded: (status, type) = (504, "timeout")
        case .cancelled: (status, type) = (499, "cancelled")
        case .internal, .unspecified: (status, type) = (500, "server_error")
        }
        return APIError(status: status, message: error.message, type: type, param: nil, code: "\(error.code)")
    }

    var json: [String: Any] {
        [
            "error": [
                "message": message, "type": type, "param": param as Any? ?? NSNull(), "code": code as Any? ?? NSNull(),
            ]
        ]
    }
}

/// A `/v1/completions` or `/v1/chat/completions` body, checked field by field and turned into router jobs.
struct CompletionRequest {
    /// The prompts: one per job (a completion's `prompt` may be a list).
    let prompts: [String]
    let model: String?
    let stream: Bool
    let maxTokens: UInt32
    /// vLLM's extension: end-of-sequence is suppressed until this many tokens exist.
    let minTokens: UInt32
    let sampling: SamplingParams?
    let stop: [String]
    let user: String?
    /// Choices per prompt (OpenAI's `n`): independent jobs, sample j seeded with `seed + j`.
    let n: Int
    /// Beam search (transformers' `num_beams`, `length_penalty`, `early_stopping`, as vLLM extends the API).
    let beams: BeamParams?
    /// Alternatives per token with its log-probability: completions' `logprobs`, chat's `top_logprobs` (with
    /// `logprobs: true`); nil = none.
    let logprobs: UInt32?

    /// The most jobs one request may make (prompts x n).
    static let maxJobs = 64
    /// Jobs this request makes: each prompt `n` times, choice `index` = prompt `index / n`, sample `index % n`.
    var jobCount: Int { prompts.count * n }

    /// Parses `body` for `endpoint` ("completions" or "chat"). Chat messages map to the prompt by one rule: the
    /// content of the last message whose role is "user" (the served bundles translate one text).
    init(body: [UInt8], chat: Bool) throws(APIError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw .badRequest("the body must be a JSON object", param: nil)
        }
        if chat {
            guard let messages = object["messages"] as? [[String: Any]], !messages.isEmpty else {
                throw .badRequest("'messages' must be a non-empty list of {role, content} objects", param: "messages")
            }
            guard let last = messages.last(where: { $0["role"] as? String == "user" }) else {
                throw .badRequest("'messages' has no message with role 'user'", param: "messages")
            }
            guard let content = last["content"] as? String, !content.isEmpty else {
                throw .badRequest("the last user message's 'content' must be a non-empty string", param: "messages")
            }
            prompts = [content]
        } else {
            switch object["prompt"] {
            case let text as String: prompts = [text]
            case let list as [Any]:
                guard !list.isEmpty, list.count <= 64, let texts = list as? [String] else {
                    throw .badRequest("'prompt' must be a string or a list of 1 to 64 strings", param: "prompt")
                }
                prompts = texts
            default: throw .badRequest("'prompt' must be a string or a list of strings", param: "prompt")
            }
            if let empty = prompts.firstIndex(where: \.isEmpty) {
                throw .badRequest("prompt[\(empty)] is empty", param: "prompt")
            }
        }
        // The router's own limit (and its socket's): a larger message would cost the gateway its connection.
        if let long = prompts.firstIndex(where: { $0.utf8.count > Self.maxPromptBytes }) {
            throw APIError(
                status: 413,
                message: "prompt\(prompts.count > 1 ? "[\(long)]" : "") is "
                    + "\(prompts[long].utf8.count) bytes; at most \(Self.maxPromptBytes) are accepted",
                type: "invalid_request_error", param: chat ? "messages" : "prompt", code: "context_length_exceeded")
        }
        model = try Self.optional(object, "model", as: String.self)
        stream = try Self.optional(object, "stream", as: Bool.self) ?? false
        let limitField = chat && object["max_completion_tokens"] != nil ? "max_completion_tokens" : "max_tokens"
        // Completions default to 16 tokens as OpenAI's do; chat answers run to the end of the answer.
        let maxTokens = try Self.optional(object, limitField, as: Int.self) ?? (chat ? 4096 : 16)
        guard (1...1_000_000).contains(maxTokens) else {
            throw .badRequest("'\(limitField)' must be at least 1, got \(maxTokens)", param: limitField)
        }
        self.maxTokens = UInt32(maxTokens)
        let minTokens = try Self.optional(object, "min_tokens", as: Int.self) ?? 0
        guard (0...maxTokens).contains(minTokens) else {
            throw .badRequest(
                "'min_tokens' must be in 0...\(maxTokens) ('\(limitField)'), got \(minTokens)",
                param: "min_tokens")
        }
        self.minTokens = UInt32(minTokens)
        let n = try Self.optional(object, "n", as: Int.self) ?? 1
        guard n >= 1, prompts.count * n <= Self.maxJobs else {
            throw .badRequest(
                "'n' must be at least 1 and prompts x n at most \(Self.maxJobs), got n = \(n) for \(prompts.count) "
                    + "prompt(s)", param: "n")
        }
        self.n = n
        beams = try Self.beams(object)
        if beams != nil, n > 1 {
            throw .badRequest("'n' must be 1 with 'num_beams' (beam search returns its best sequence)", param: "n")
        }
        let temperature = try Self.optional(object, "temperature", as: Double.self)
        let topP = try Self.optional(object, "top_p", as: Double.self)
        let seed = try Self.optional(object, "seed", as: Int.self)
        if let temperature, !(0...2).contains(temperature) {
            throw .badRequest("'temperature' must be in [0, 2], got \(temperature)", param: "temperature")
        }
        if let topP, !(topP > 0 && topP <= 1) {
            throw .badRequest("'top_p' must be in (0, 1], got \(topP)", param: "top_p")
        }
        let presence = try Self.optional(object, "presence_penalty", as: Double.self) ?? 0
        let frequency = try Self.optional(object, "frequency_penalty", as: Double.self) ?? 0
        for (name, value) in [("presence_penalty", presence), ("frequency_penalty", frequency)]
        where !(-2...2).contains(value) {
            throw .badRequest("'\(name)' must be in [-2, 2], got \(value)", param: name)
        }
        // vLLM's extension of the OpenAI API, transformers' repetition_penalty.
        let repetition = try Self.optional(object, "repetition_penalty", as: Double.self) ?? 1
        if !(repetition > 0 && repetition <= 10) {
            throw .badRequest("'repetition_penalty' must be in (0, 10], got \(repetition)", param: "repetition_penalty")
        }
        // Greedy unless sampling is asked for: temperature 0 (or absent, with top_p absent) is the argmax.
        var sampling = SamplingParams(
            greedy: true, repetitionPenalty: Float(repetition), presencePenalty: Float(presence),
            frequencyPenalty: Float(frequency))
        if (temperature ?? 0) != 0 || topP != nil {
            sampling.greedy = false
            sampling.temperature = Float(temperature ?? 1)
            sampling.topP = Float(topP ?? 1)
            sampling.seed = UInt64(truncatingIfNeeded: seed ?? 0)
        }
        self.sampling = sampling
        switch object["stop"] {
        case nil, is NSNull: stop = []
        case let text as String: stop = [text]
        case let list as [Any]:
            guard list.count <= 4, let texts = list as? [String] else {
                throw .badRequest("'stop' must be a string or a list of up to 4 strings", param: "stop")
            }
            stop = texts
        default: throw .badRequest("'stop' must be a string or a list of strings", param: "stop")
        }
        if stop.contains(where: { $0.isEmpty || $0.utf8.count > 256 }) {
            throw .badRequest("each 'stop' string must be 1 to 256 bytes", param: "stop")
        }
        user = try Self.optional(object, "user", as: String.self)
        if let user, user.utf8.count > 256 { throw .badRequest("'user' is longer than 256 bytes", param: "user") }
        logprobs = try Self.logprobs(object, chat: chat)
        if logprobs != nil, beams != nil {
            throw .badRequest("'logprobs' cannot be combined with 'num_beams' > 1", param: "logprobs")
        }
    }

    /// Completions: `logprobs` N in 0...20 (OpenAI allows 5). Chat: `logprobs` true, with `top_logprobs` N in 0...20.
    private static func logprobs(_ object: [String: Any], chat: Bool) throws(APIError) -> UInt32? {
        let limit = 20
        if chat {
            let wanted = try optional(object, "logprobs", as: Bool.self) ?? false
            let top = try optional(object, "top_logprobs", as: Int.self)
            if let top, !(0...limit).contains(top) {
                throw .badRequest("'top_logprobs' must be in 0...\(limit), got \(top)", param: "top_logprobs")
            }
            if top != nil, !wanted {
                throw .badRequest("'top_logprobs' needs 'logprobs': true", param: "top_logprobs")
            }
            return wanted ? UInt32(top ?? 0) : nil
        }
        guard let count = try optional(object, "logprobs", as: Int.self) else { return nil }
        guard (0...limit).contains(count) else {
            throw .badRequest("'logprobs' must be in 0...\(limit), got \(count)", param: "logprobs")
        }
        return UInt32(count)
    }

    /// Largest prompt, in UTF-8 bytes: the router's default `maxPromptBytes`.
    static let maxPromptBytes = 256 << 10

    /// The router job for choice `index` (prompt `index / n`, its sample `index % n` seeded `seed + index % n`),
    /// traced by the HTTP request's x-request-id.
    func job(_ index: Int, requestID: String, traceID: String) -> GenerateRequest {
        var sampling = sampling
        sampling?.seed &+= UInt64(index % n)
        return GenerateRequest(
            requestID: requestID, prompt: .text(prompts[index / n]), maxNewTokens: maxTokens,
            minNewTokens: minTokens, sampling: sampling, stop: stop, tenantSalt: user.map { Array($0.utf8) } ?? [],
            stream: stream, traceID: traceID, beams: beams, logprobs: logprobs)
    }

    /// `num_beams` (absent or 1: none), `length_penalty` (default 1), `early_stopping` (false, true or "never").
    private static func beams(_ object: [String: Any]) throws(APIError) -> BeamParams? {
        let count = try optional(object, "num_beams", as: Int.self) ?? 1
        guard (1...16).contains(count) else {
            throw .badRequest("'num_beams' must be in 1...16, got \(count)", param: "num_beams")
        }
        let penalty = try optional(object, "length_penalty", as: Double.self)
        let stopping: BeamParams.EarlyStopping
        switch object["early_stopping"] {
        case nil, is NSNull: stopping = .heuristic
        case "never" as String: stopping = .never
        default:
            guard let flag = try? optional(object, "early_stopping", as: Bool.self) else {
                throw .badRequest("'early_stopping' must be true, false or \"never\"", param: "early_stopping")
            }
            stopping = flag ? .always : .heuristic
        }
        guard count > 1 else {
            if penalty != nil || object["early_stopping"] != nil {
                throw .badRequest("'length_penalty' and 'early_stopping' need 'num_beams' > 1", param: "num_beams")
            }
            return nil
        }
        return BeamParams(numBeams: UInt32(count), lengthPenalty: Float(penalty ?? 1), earlyStopping: stopping)
    }

    private static func optional<T>(_ object: [String: Any], _ key: String, as _: T.Type) throws(APIError) -> T? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        // JSON true/false arrive as boolean NSNumbers, which also cast to Int and Double: tell them apart.
        let number = value as? NSNumber
        let isBoolean = number.map { type(of: $0) == type(of: NSNumber(value: true)) } ?? false
        if T.self == Bool.self {
            guard isBoolean, let flag = value as? T else {
                throw .badRequest("'\(key)' must be true or false", param: key)
            }
            return flag
        }
        if T.self == Int.self {
            guard let number, !isBoolean, number.doubleValue == number.doubleValue.rounded(),
                abs(number.doubleValue) < 1e15
            else { throw .badRequest("'\(key)' must be an integer, got \(value)", param: key) }
            return number.intValue as? T
        }
        if T.self == Double.self {
            guard let number, !isBoolean, number.doubleValue.isFinite else {
                throw .badRequest("'\(key)' must be a number, got \(value)", param: key)
            }
            return number.doubleValue as? T
        }
        guard let typed = value as? T else { throw .badRequest("'\(key)' must be a string", param: key) }
        return typed
    }
}
