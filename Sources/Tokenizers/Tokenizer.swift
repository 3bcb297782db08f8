/// The ids of a tokenizer's special tokens; nil where the model has none (T5 has no BOS, GPT-2 no pad).
public struct SpecialTokenIDs: Sendable, Equatable {
    /// Padding id (T5: 0; also the T5 decoder start id).
    public var pad: Int32?
    /// End of sequence (T5 `</s>`, GPT-2 `<|endoftext|>`).
    public var eos: Int32?
    /// Unknown token.
    public var unk: Int32?
    /// Beginning of sequence.
    public var bos: Int32?

    /// Creates a set of special ids.
    public init(pad: Int32? = nil, eos: Int32? = nil, unk: Int32? = nil, bos: Int32? = nil) {
        self.pad = pad
        self.eos = eos
        self.unk = unk
        self.bos = bos
    }
}

/// A text <-> token id mapping identical to the Hugging Face tokenizer of the same files.
public protocol Tokenizer: Sendable {
    /// Ids for `text`; with `addSpecialTokens` the model's template is applied (T5 appends `</s>`, GPT-2 adds
    /// nothing), as transformers' `add_special_tokens`. Special-token strings in the text are always matched.
    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32]
    /// Text for `ids`, as transformers' `decode` gives it; throws `idOutOfRange` for ids outside the vocabulary.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) throws -> String
    /// A streaming decoder: feed ids one at a time, get text deltas that never split a UTF-8 character.
    func makeIncrementalDecoder(skipSpecialTokens: Bool) -> IncrementalDecoder
    /// Number of ids, added tokens included (transformers' `len(tokenizer)`).
    var vocabularySize: Int { get }
    /// Special token ids.
    var specialTokens: SpecialTokenIDs { get }
    /// The token string of an id (`"▁Hello"`, `"Ġworld"`, `"</s>"`), nil when out of range.
    func token(for id: Int32) -> String?
    /// The id of a token string (vocabulary or added token), nil when absent.
    func id(for token: String) -> Int32?
    /// The text `id` adds in the middle of a decoded text (SentencePiece's `▁` as a space, GPT-2's bytes decoded,
    /// special tokens as their string), lossy UTF-8 when the id is part of a character; nil when out of range.
    func text(of id: Int32) -> String?
    /// SHA-256 hex of the tokenizer files this tokenizer was loaded from (see `TokenizerFingerprint`).
    var fingerprint: String { get }
}

extension Tokenizer {
    /// Ids for `text` with the model's special tokens added (T5 appends `</s>`, GPT-2 adds none).
    public func encode(_ text: String) throws -> [Int32] {
        try encode(text, addSpecialTokens: true)
    }
}

/// Turns token ids into raw UTF-8 bytes, one id at a time: the single decoding path behind both `decode` and
/// `IncrementalDecoder`, so that streamed text and full text cannot disagree.
protocol TokenByteDecoding: Sendable {
    /// Appends the bytes of `id` to `output`. `isFirst` is true while no token has produced output yet
    /// (SentencePiece drops the leading space of the first token). Returns false when the id was skipped.
    func appendBytes(of id: Int32, isFirst: Bool, skipSpecialTokens: Bool, to output: inout [UInt8]) throws -> Bool
}

extension TokenByteDecoding {
    /// Full decode through the same path as streaming: bytes of every id, then lossy UTF-8 (invalid sequences
    /// become U+FFFD, as Rust's `from_utf8_lossy` in `tokenizers` does).
    func decodeAll(_ ids: [Int32], skipSpecialTokens: Bool) throws -> String {
        var bytes: [UInt8] = []
        var isFirst = true
        for (position, id) in ids.enumerated() {
            do {
                if try appendBytes(of: id, isFirst: isFirst, skipSpecialTokens: skipSpecialTokens, to: &bytes) {
                    isFirst = false
                }
            } catch TokenizerError.idOutOfRange(let bad, _, let size) {
                throw TokenizerError.idOutOfRange(id: bad, position: position, vocabularySize: size)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Tokenizer where Self: TokenByteDecoding {
    /// Full decode through the streaming path, so `decode` and `IncrementalDecoder` cannot disagree.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) throws -> String {
        try decodeAll(ids, skipSpecialTokens: skipSpecialTokens)
    }

    func makeIncrementalDecoder(skipSpecialTokens: Bool) -> IncrementalDecoder {
        IncrementalDecoder(source: self, skipSpecialTokens: skipSpecialTokens)
    }

    /// The bytes `id` adds after another token (`isFirst` false keeps SentencePiece's leading space), lossy UTF-8.
    func text(of id: Int32) -> String? {
        var bytes: [UInt8] = []
        guard (try? appendBytes(of: id, isFirst: false, skipSpecialTokens: false, to: &bytes)) != nil else {
            return nil
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Streaming detokenizer. `add` returns the text that no later id can change; `finish` returns the rest.
/// The concatenation of every delta equals `decode` of all ids, and each delta is whole characters.
public struct IncrementalDecoder: Sendable {
    private let source: any TokenByteDecoding
    private let skipSpecialTokens: Bool
    private var pending: [UInt8] = []
    private var isFirst = true
    private var count = 0

    init(source: any TokenByteDecoding, skipSpecialTokens: Bool) {
        self.source = source
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Feeds one id; returns the newly safe text (often empty while a multi-byte character is incomplete).
    public mutating func add(_ id: Int32) throws -> String {
        do {
            if try source.appendBytes(of: id, isFirst: isFirst, skipSpecialTokens: skipSpecialTokens, to: &pending) {
                isFirst = false
            }
        } catch TokenizerError.idOutOfRange(let bad, _, let size) {
            throw TokenizerError.idOutOfRange(id: bad, position: count, vocabularySize: size)
        }
        count += 1
        let safe = UTF8Boundary.stablePrefixLength(pending)
        guard safe > 0 else { return "" }
        let text = String(decoding: pending[..<safe], as: UTF8.self)
        pending.removeFirst(safe)
        return text
    }

    /// Feeds several ids; returns the concatenated deltas.
    public mutating func add(_ ids: [Int32]) throws -> String {
        var text = ""
        for id in ids { text += try add(id) }
        return text
    }

    /// Ends the stream: the held-back bytes of an unfinished character, lossily decoded (U+FFFD), as a full
    /// decode would render them.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

/// Where lossy UTF-8 decoding of a growing byte buffer stops changing.
enum UTF8Boundary {
    /// The length of the prefix of `bytes` whose lossy decoding no appended byte can change: everything except
    /// a trailing sequence that is a valid-so-far prefix of a multi-byte character.
    static func stablePrefixLength(_ bytes: [UInt8]) -> Int {
        let end = bytes.count
        var start = end - 1
        // A character is at most 4 bytes: look back at most 3 continuation bytes for its lead byte.
        while start >= 0, end - start <= 4, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0, end - start <= 4 else { return end }
        let lead = bytes[start]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return end
        }
        let have = end - start
        guard have < needed else { return end }
        if have >= 2 {
            // The second byte of some lead bytes has a narrower range (no overlongs, surrogates or > U+10FFFF);
            // outside it the sequence is already invalid and its U+FFFD is final.
            let second = bytes[start + 1]
            let valid: ClosedRange<UInt8>
            switch lead {
            case 0xE0: valid = 0xA0...0xBF
            case 0xED: valid = 0x80...0x9F
            case 0xF0: valid = 0x90...0xBF
            case 0xF4: valid = 0x80...0x8F
            default: valid = 0x80...0xBF
            }
            guard valid.contains(second) else { return end }
        }
        return start
    }
}
