/// A token matched verbatim in the input before the model sees it (`</s>`, `<extra_id_0>`, `<|endoftext|>`),
/// as `tokenizers`' AddedVocabulary does.
struct AddedToken: Sendable, Equatable {
    let id: Int32
    let content: String
    /// Special tokens are dropped by `decode(skipSpecialTokens: true)`.
    let special: Bool
    /// Swallow the whitespace on the token's left / right.
    let lstrip: Bool
    let rstrip: Bool
}

/// One piece of input after added-token matching.
enum InputSegment: Equatable {
    case text(String)
    case token(Int32)
}

/// Splits text at added tokens, leftmost-longest, before normalization and pre-tokenization (what the
/// `tokenizers` crate does with its Aho-Corasick matcher; here a per-first-byte candidate list suffices because
/// added tokens are few and almost all start with `<`).
struct AddedTokenSplitter: Sendable {
    private let tokens: [AddedToken]
    /// For each first byte, the indices into `tokens` of the tokens starting with it, longest first.
    private let candidates: [[Int]]
    private let patterns: [[UInt8]]

    init(_ tokens: [AddedToken]) {
        let usable = tokens.filter { !$0.content.isEmpty }
        self.tokens = usable
        let patterns = usable.map { Array($0.content.utf8) }
        var table = [[Int]](repeating: [], count: 256)
        for (index, pattern) in patterns.enumerated() { table[Int(pattern[0])].append(index) }
        for byte in 0..<256 { table[byte].sort { patterns[$0].count > patterns[$1].count } }
        self.patterns = patterns
        candidates = table
    }

    /// The segments of `text`; text segments are never empty.
    func split(_ text: String) -> [InputSegment] {
        guard !tokens.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        let bytes = Array(text.utf8)
        var matches: [(range: Range<Int>, token: AddedToken)] = []
        var index = 0
        while index < bytes.count {
            if let matched = longestMatch(in: bytes, at: index) {
                matches.append((index..<index + patterns[matched].count, tokens[matched]))
                index += patterns[matched].count
            } else {
                index += 1
            }
        }
        guard !matches.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        var segments: [InputSegment] = []
        var cursor = 0
        var stripLeading = false
        for (range, token) in matches {
            var piece = Substring(String(decoding: bytes[cursor..<range.lowerBound], as: UTF8.self))
            if stripLeading { piece = piece.drop { $0.isWhitespace } }
            if token.lstrip { piece = piece.dropLast(piece.reversed().prefix { $0.isWhitespace }.count) }
            if !piece.isEmpty { segments.append(.text(String(piece))) }
            segments.append(.token(token.id))
            cursor = range.upperBound
            stripLeading = token.rstrip
        }
        var tail = Substring(String(decoding: bytes[cursor...], as: UTF8.self))
        if stripLeading { tail = tail.drop { $0.isWhitespace } }
        if !tail.isEmpty { segments.append(.text(String(tail))) }
        return segments
    }

    private func longestMatch(in bytes: [UInt8], at start: Int) -> Int? {
        for candidate in candidates[Int(bytes[start])] {
            let pattern = patterns[candidate]
            guard start + pattern.count <= bytes.count else { continue }
            var equal = true
            for offset in 1..<pattern.count where bytes[start + offset] != pattern[offset] {
                equal = false
                break
            }
            if equal { return candidate }
        }
        return nil
    }
}
