import Cluster
import Foundation
import HTTP
import Wire

/// Waits on the events of one HTTP request's jobs, a slice at a time, so that a client that closes its connection
/// is noticed within a quarter second and its jobs are cancelled on the router (and so on their decoders).
final class JobWaiter: @unchecked Sendable {
    // @unchecked: used by the one connection thread that owns the request.
    private let link: RouterLink
    private let ids: [String]
    private let jobs: [RouterLink.JobEvents]
    private let clientGone: () -> Bool
    private var ended: Set<Int> = []
    private var checkedClientAt = ContinuousClock.now

    init(link: RouterLink, ids: [String], jobs: [RouterLink.JobEvents], clientGone: @escaping () -> Bool) {
        self.link = link
        self.ids = ids
        self.jobs = jobs
        self.clientGone = clientGone
    }

    /// The next event of job `index`; nil once the client is gone (every unfinished job is then cancelled). The
    /// client is checked at least every quarter second, also while events keep coming.
    func next(_ index: Int) -> ClusterClient.Event? {
        while true {
            if ContinuousClock.now - checkedClientAt >= .milliseconds(250) {
                checkedClientAt = .now
                if clientGone() {
                    cancelAll()
                    return nil
                }
            }
            if let event = jobs[index].next(timeout: .milliseconds(250)) {
                switch event {
                case .finished, .failed:
                    ended.insert(index)
                    link.finished(ids[index])
                case .chunk: break
                }
                return event
            }
            if clientGone() {
                cancelAll()
                return nil
            }
        }
    }

    /// Cancels every job not yet ended.
    func cancelAll() {
        for index in ids.indices where ended.insert(index).inserted { link.cancel(ids[index]) }
    }
}

/// The OpenAI objects of one response: whole completions and stream chunks, for `/v1/completions` and
/// `/v1/chat/completions`.
struct CompletionRender {
    let id: String
    let model: String
    let chat: Bool
    /// The request asked for log-probabilities: each choice carries a `logprobs` object instead of null.
    var logprobs = false
    let created = Int(Date().timeIntervalSince1970)

    static func finishReason(_ reason: FinishReason) -> String {
        switch reason {
        case .length: return "length"
        case .eos, .stop, .cancelled, .unspecified: return "stop"
        }
    }

    private var header: [String: Any] {
        ["id": (chat ? "chatcmpl-" : "cmpl-") + id, "created": created, "model": model]
    }

    /// The whole response for `choices` (text and final chunk of each job, in prompt order).
    func whole(_ choices: [(text: String, chunk: TokenChunk)]) -> [String: Any] {
        var object = header
        object["object"] = chat ? "chat.completion" : "text_completion"
        object["choices"] = choices.enumerated().map { index, choice -> [String: Any] in
            var entry: [String: Any] = [
                "index": index, "logprobs": logprobsObject(choice.chunk.logprobs, offset: 0),
                "finish_reason": Self.finishReason(choice.chunk.finishReason),
            ]
            if chat {
                entry["message"] = ["role": "assistant", "content": choice.text]
            } else {
                entry["text"] = choice.text
            }
            return entry
        }
        let prompt = choices.reduce(0) { $0 + Int($1.chunk.usage?.promptTokens ?? 0) }
        let completion = choices.reduce(0) { $0 + Int($1.chunk.usage?.completionTokens ?? 0) }
        object["usage"] = [
            "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        ]
        return object
    }

    /// A choice's `logprobs`: null unless asked for; `offset` is where the first entry's token starts in the text.
    func logprobsObject(_ entries: [ChunkLogprob], offset: Int) -> Any {
        guard logprobs else { return NSNull() }
        return chat ? LogprobsRender.chat(entries) : LogprobsRender.completion(entries, offset: offset)
    }

    /// One Server-Sent Event carrying `text` for choice `index` (and its finish reason on the last), with the
    /// chunk's log-probabilities (`offset`: the choice's characters before them).
    func event(
        index: Int, text: String, finish: FinishReason?, first: Bool, logprobs entries: [ChunkLogprob] = [],
        offset: Int = 0
    ) -> [UInt8] {
        var object = header
        object["object"] = chat ? "chat.completion.chunk" : "text_completion"
        var choice: [String: Any] = [
            "index": index, "logprobs": logprobsObject(entries, offset: offset),
            "finish_reason": finish.map { Self.finishReason($0) as Any } ?? NSNull(),
        ]
        if chat {
            var delta: [String: Any] = finish == nil || !text.isEmpty ? ["content": text] : [:]
            if first { delta["role"] = "assistant" }
            choice["delta"] = delta
        } else {
            choice["text"] = text
        }
        object["choices"] = [choice]
        return Self.sse(object)
    }

    static func sse(_ object: Any) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return Array("data: ".utf8) + Array(data) + Array("\n\n".utf8)
    }

    static let done = Array("data: [DONE]\n\n".utf8)
}

/// The pieces of a streamed response: each job's chunks as events in prompt order, then `[DONE]`. An error after
/// the stream began is sent as an `error` event, as OpenAI does.
final class EventStream: @unchecked Sendable {
    // @unchecked: driven by the one connection thread that sends the response.
    private let waiter: JobWaiter
    private let render: CompletionRender
    private var pending: ClusterClient.Event?
    private let count: Int
    private var index = 0
    private var started: Set<Int> = []
    private var finished = false
    /// Characters of the current choice's token texts so far (the completions `text_offset` of the next token).
    private var offset = 0

    init(waiter: JobWaiter, render: CompletionRender, first: ClusterClient.Event, count: Int) {
        self.waiter = waiter
        self.render = render
        self.pending = first
        self.count = count
    }

    /// The response was released: jobs not yet ended (the client went away mid-stream) are cancelled.
    func end() {
        waiter.cancelAll()
    }

    /// The next piece to send; nil at the end, or when the client is gone.
    func next() -> [UInt8]? {
        guard !finished else { return nil }
        guard index < count else {
            finished = true
            return CompletionRender.done
        }
        let event: ClusterClient.Event
        if let pending {
            event = pending
            self.pending = nil
        } else {
            guard let next = waiter.next(index) else { return nil }
            event = next
        }
        let first = started.insert(index).inserted
        if first { offset = 0 }
        switch event {
        case .chunk(let chunk):
            defer { offset += LogprobsRender.length(chunk.logprobs) }
            return render.event(
                index: index, text: chunk.textDelta, finish: nil, first: first, logprobs: chunk.logprobs,
                offset: offset)
        case .finished(let chunk):
            index += 1
            return render.event(
                index: index - 1, text: chunk.textDelta, finish: chunk.finishReason, first: first,
                logprobs: chunk.logprobs, offset: offset)
        case .failed(let error):
            waiter.cancelAll()
            index = count
            return CompletionRender.sse(APIError.from(error).json)
        }
    }
}
