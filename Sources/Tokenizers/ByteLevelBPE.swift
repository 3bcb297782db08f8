import Synchronization

/// GPT-2's reversible byte <-> printable-character table (`bytes_to_unicode` in openai/gpt-2's encoder.py):
/// printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 and up, in byte order.
enum ByteLevelAlphabet {
    static let characters: [Unicode.Scalar] = {
        let printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var next: UInt32 = 256
        return (0..<256).map { byte in
            if printable.contains(byte) { return Unicode.Scalar(UInt8(byte)) }
            defer { next += 1 }
            return Unicode.Scalar(next)!
        }
    }()

    static let bytes: [Unicode.Scalar: UInt8] = {
        var table: [Unicode.Scalar: UInt8] = [:]
        for (byte, scalar) in characters.enumerated() { table[scalar] = UInt8(byte) }
        return table
    }()

    /// The bytes a token string stands for; nil when it has a character outside the alphabet (an added
    /// token such as a non-ASCII special token), which `tokenizers` then decodes as its own UTF-8.
    static func decode(_ token: String) -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = bytes[scalar] else { return nil }
            result.append(byte)
        }
        return result
    }
}

/// The BPE model of a byte-level tokenizer: vocabulary, ranked merges, and a cache of encoded words.
/// Mirrors `tokenizers`' models/bpe (no dropout, no continuing-subword prefix, no unknown token).
final class ByteLevelBPEModel: Sendable {
    /// One merge: its priority (lower first) and the id of the merged token.
    struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    let vocabulary: [String: Int32]
    /// Merges keyed by the pair of ids `left << 32 | right`.
    private let merges: [UInt64: Merge]
    /// The id of the one-character token of each byte; -1 when the vocabulary lacks it (that byte is then
    /// dropped, as `tokenizers` does for an unknown character without an unk token).
    private let byteIDs: [Int32]
    private let cache = Mutex<[String: [Int32]]>([:])
    private static let cacheLimit = 65_536

    /// `merges` are token-string pairs in rank order; `file` names the source for errors.
    init(vocabulary: [String: Int32], merges mergePairs: [(String, String)], file: String) throws {
        self.vocabulary = vocabulary
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(mergePairs.count)
        for (rank, (left, right)) in mergePairs.enumerated() {
            guard let leftID = vocabulary[left], let rightID = vocabulary[right] else {
                throw TokenizerError.corruptFile(
                    path: file, reason: "merge \(rank + 1) '\(left) \(right)' uses a token missing from the vocabulary")
            }
            guard let merged = vocabulary[left + right] else {
                throw TokenizerError.corruptFile(
                    path: file,
                    reason: "merge \(rank + 1) '\(left) \(right)' yields '\(left + right)', not in the vocabulary")
            }
            let key = UInt64(UInt32(bitPattern: leftID)) << 32 | UInt64(UInt32(bitPattern: rightID))
            // A repeated pair takes its last rank: tokenizers collects the merges into a HashMap the same way.
            table[key] = Merge(rank: Int32(rank), result: merged)
        }
        merges = table
        byteIDs = ByteLevelAlphabet.characters.map { vocabulary[String($0)] ?? -1 }
    }

    /// Appends the ids of one pre-token (its UTF-8 bytes) to `output`.
    func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32]) {
        if word.count == 1 {
            let id = byteIDs[Int(word[0])]
            if id >= 0 { output.append(id) }
            return
        }
        let key = String(decoding: word, as: UTF8.self)
        if let cached = cache.withLock({ $0[key] }) {
            output.append(contentsOf: cached)
            return
        }
        let ids = merge(word)
        output.append(contentsOf: ids)
        cache.withLock { table in
            if table.count >= Self.cacheLimit { table.removeAll(keepingCapacity: true) }
            table[key] = ids
        }
    }

    /// Repeatedly merges the lowest-ranked adjacent pair, leftmost first (the order of tokenizers' priority queue).
    private func merge(_ word: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        for byte in word {
            let id = byteIDs[Int(byte)]
            if id >= 0 { symbols.append(id) }
        }
        while symbols.count > 1 {
            var bestRank = Int32.max
            var bestIndex = -1
            var bestResult: Int32 = 0
            for index in 0..<(symbols.count - 1) {
                let key =
                    UInt64(UInt32(bitPattern: symbols[index])) << 32
                    | UInt64(UInt32(bitPattern: symbols[index + 1]))
                if let merge = merges[key], merge.rank < bestRank {
                    bestRank = merge.rank
                    bestIndex = index
                    bestResult = merge.result
                }
            }
            guard bestIndex >= 0 else { break }
            symbols[bestIndex] = bestResult
            symbols.remove(at: bestIndex + 1)
        }
        return symbols
    }
}
