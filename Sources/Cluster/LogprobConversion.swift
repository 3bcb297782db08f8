import Generation
import Tokenizers
import Wire

/// Log-probabilities between the wire (`ChunkLogprob`, with token texts) and Generation (`TokenLogprob`, ids only).
public enum LogprobConversion {
    /// The Generation values of a chunk's entries (their texts dropped: results print ids).
    public static func generation(_ entries: [ChunkLogprob]) -> [TokenLogprob] {
        entries.map { entry in
            TokenLogprob(
                id: entry.id, logprob: entry.logprob,
                top: entry.top.map { TopLogprob(id: $0.id, logprob: $0.logprob) })
        }
    }

    /// A step's entry as a chunk carries it, each id with `tokenizer`'s text of it (`Tokenizer.text(of:)`).
    static func wire(_ entry: TokenLogprob, tokenizer: any Tokenizer) -> ChunkLogprob {
        ChunkLogprob(
            id: entry.id, logprob: entry.logprob,
            top: entry.top.map {
                ChunkTopLogprob(id: $0.id, logprob: $0.logprob, text: tokenizer.text(of: $0.id) ?? "")
            },
            text: tokenizer.text(of: entry.id) ?? "")
    }
}
