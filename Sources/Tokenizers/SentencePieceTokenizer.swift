/// A SentencePiece tokenizer (T5's) through libsentencepiece, with the behaviour of transformers' T5Tokenizer:
/// added tokens (`</s>`, `<pad>`, `<unk>`, `<extra_id_N>`) are matched in the text first, each remaining segment
/// is encoded by sentencepiece, the template appends `</s>`; decoding follows tokenizers' Metaspace decoder
/// (pieces joined, `▁` -> space, the first token's `▁` dropped) with sentencepiece's byte-fallback pieces
/// turned back into bytes.
final class SentencePieceTokenizer: Tokenizer, TokenByteDecoding {
    private let processor: SentencePieceProcessor
    private let splitter: AddedTokenSplitter
    /// Token string of every id: the model's pieces, then added tokens beyond them (T5's extra ids).
    private let tokens: [String]
    private let isSpecial: [Bool]
    private let ids: [String: Int32]
    private let template: PostProcessorTemplate
    let specialTokens: SpecialTokenIDs
    let fingerprint: String

    var vocabularySize: Int { tokens.count }

    /// `addedTokens` may reuse piece ids (control pieces) or extend the id space past the pieces.
    init(
        processor: SentencePieceProcessor, addedTokens: [AddedToken], specialTokens: SpecialTokenIDs,
        template: PostProcessorTemplate, fingerprint: String, path: String
    ) throws {
        self.processor = processor
        self.specialTokens = specialTokens
        self.template = template
        self.fingerprint = fingerprint
        var tokens = processor.pieces.map(\.piece)
        var special = [Bool](repeating: false, count: tokens.count)
        let total = max(tokens.count, Int(addedTokens.map(\.id).max() ?? -1) + 1)
        var filled =
            [Bool](repeating: true, count: tokens.count) + [Bool](repeating: false, count: total - tokens.count)
        tokens += [String](repeating: "", count: total - tokens.count)
        special += [Bool](repeating: false, count: total - special.count)
        var ids: [String: Int32] = [:]
        for (id, token) in tokens.enumerated() where filled[id] && ids[token] == nil { ids[token] = Int32(id) }
        for added in addedTokens {
            let index = Int(added.id)
            guard index >= 0 else {
                throw TokenizerError.corruptFile(
                    path: path, reason: "added token '\(added.content)' has id \(added.id)")
            }
            tokens[index] = added.content
            special[index] = added.special
            filled[index] = true
            ids[added.content] = added.id
        }
        if let hole = filled.firstIndex(of: false) {
            throw TokenizerError.corruptFile(
                path: path,
                reason: "no token for id \(hole): the \(processor.pieces.count) pieces and the added tokens leave a gap"
            )
        }
        self.tokens = tokens
        self.isSpecial = special
        self.ids = ids
        splitter = AddedTokenSplitter(addedTokens)
    }

    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32] {
        var result = addSpecialTokens ? template.prefix : []
        for segment in splitter.split(text) {
            switch segment {
            case .token(let id): result.append(id)
            case .text(let piece): result += try processor.encode(piece)
            }
        }
        if addSpecialTokens { result += template.suffix }
        return result
    }

    func appendBytes(of id: Int32, isFirst: Bool, skipSpecialTokens: Bool, to output: inout [UInt8]) throws -> Bool {
        guard id >= 0, Int(id) < tokens.count else {
            throw TokenizerError.idOutOfRange(id: Int(id), position: 0, vocabularySize: tokens.count)
        }
        let index = Int(id)
        if skipSpecialTokens, isSpecial[index] { return false }
        if index < processor.pieces.count, case .byte(let value) = processor.pieces[index].kind {
            output.append(value)
            return true
        }
        // Metaspace decoder: every `▁` becomes a space, except in the first token where it is dropped.
        for byte in tokens[index].utf8 { output.append(byte) }
        Self.replaceMetaspace(in: &output, from: output.count - tokens[index].utf8.count, dropping: isFirst)
        return true
    }

    /// Rewrites `▁` (E2 96 81) in `output[start...]` as a space, or removes it when `dropping`.
    private static func replaceMetaspace(in output: inout [UInt8], from start: Int, dropping: Bool) {
        var read = start
        var write = start
        while read < output.count {
            if read + 2 < output.count, output[read] == 0xE2, output[read + 1] == 0x96, output[read + 2] == 0x81 {
                if !dropping {
                    output[write] = 0x20
                    write += 1
                }
                read += 3
            } else {
                output[write] = output[read]
                write += 1
                read += 1
            }
        }
        output.removeLast(output.count - write)
    }

    func token(for id: Int32) -> String? {
        guard id >= 0, Int(id) < tokens.count else { return nil }
        return tokens[Int(id)]
    }

    func id(for token: String) -> Int32? { ids[token] }
}
