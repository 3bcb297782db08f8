import Foundation
import Wire

/// A choice's `logprobs` object from its chunks' entries (docs/http.md): OpenAI's legacy completions shape
/// `{tokens, token_logprobs, top_logprobs, text_offset}`, or chat's `{content: [{token, logprob, bytes,
/// top_logprobs}]}`. Token texts are the decoder's (the SLM tokenizer's piece of each id).
enum LogprobsRender {
    /// OpenAI's (and vLLM's) stand-in for -inf: JSON has no infinities.
    static let negativeInfinity = -9999.0

    /// `value` as JSON prints it: the double of its shortest decimal, so the numbers equal `l2s run --logprobs`'s.
    static func number(_ value: Float) -> Double {
        guard value.isFinite else { return value.isNaN ? negativeInfinity : (value > 0 ? 0 : negativeInfinity) }
        return Double("\(value)") ?? Double(value)
    }

    /// The completions object for `entries`, the first token starting at character `offset` of the choice's text.
    static func completion(_ entries: [ChunkLogprob], offset: Int) -> [String: Any] {
        var offsets: [Int] = []
        var position = offset
        for entry in entries {
            offsets.append(position)
            position += entry.text.unicodeScalars.count
        }
        return [
            "tokens": entries.map(\.text),
            "token_logprobs": entries.map { number($0.logprob) },
            "top_logprobs": entries.map { entry in
                Dictionary(entry.top.map { ($0.text, number($0.logprob)) }, uniquingKeysWith: { first, _ in first })
            },
            "text_offset": offsets,
        ]
    }

    /// The characters `entries` add to the offsets of the tokens after them.
    static func length(_ entries: [ChunkLogprob]) -> Int { entries.reduce(0) { $0 + $1.text.unicodeScalars.count } }

    /// The chat object for `entries`.
    static func chat(_ entries: [ChunkLogprob]) -> [String: Any] {
        [
            "content": entries.map { entry -> [String: Any] in
                [
                    "token": entry.text, "logprob": number(entry.logprob), "bytes": Array(entry.text.utf8),
                    "top_logprobs": entry.top.map { top -> [String: Any] in
                        ["token": top.text, "logprob": number(top.logprob), "bytes": Array(top.text.utf8)]
                    },
                ]
            }
        ]
    }
}
