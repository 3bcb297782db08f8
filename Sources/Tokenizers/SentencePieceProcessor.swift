import CSentencePiece

/// Owns one libsentencepiece processor (through the C shim); no raw pointer leaves this type.
// @unchecked Sendable: the handle is created in init, freed in deinit, and used in between only through
// SentencePieceProcessor's const methods (Encode, IdToPiece, IsControl, ...), which keep no mutable state and
// are documented thread-safe; the shim's error text is thread_local.
final class SentencePieceProcessor: @unchecked Sendable {
    /// Kinds of pieces the tokenizer treats specially.
    enum PieceKind: Sendable {
        case normal, control, unknown
        case byte(UInt8)
    }

    private let handle: OpaquePointer
    /// The piece string and kind of every id.
    let pieces: [(piece: String, kind: PieceKind)]
    /// True when the model collapses whitespace (T5): then text is encoded word by word, as the WhitespaceSplit
    /// pre-tokenizer of transformers' converted tokenizer does.
    private let splitsOnWhitespace: Bool

    /// Loads a serialized ModelProto; `path` names the source in errors.
    init(modelBytes: [UInt8], path: String) throws {
        var created: OpaquePointer?
        let status = modelBytes.withUnsafeBytes { buffer in
            l2s_sp_new_from_bytes(buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), buffer.count, &created)
        }
        guard status == Int32(L2S_SP_OK), let created else {
            throw TokenizerError.corruptFile(path: path, reason: "sentencepiece: \(Self.lastError())")
        }
        handle = created
        let count = l2s_sp_piece_count(created)
        var pieces: [(String, PieceKind)] = []
        pieces.reserveCapacity(Int(count))
        for id in 0..<count {
            var text: UnsafeMutablePointer<CChar>?
            var length = 0
            guard l2s_sp_id_to_piece(created, id, &text, &length) == Int32(L2S_SP_OK), let text else {
                l2s_sp_free(created)
                throw TokenizerError.corruptFile(path: path, reason: "piece \(id): \(Self.lastError())")
            }
            let piece = String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
            l2s_sp_free_buffer(text)
            var kind = PieceKind.normal
            if l2s_sp_is_byte(created, id) != 0 {
                guard let value = Self.byteValue(piece) else {
                    l2s_sp_free(created)
                    throw TokenizerError.corruptFile(path: path, reason: "byte piece \(id) is '\(piece)', not <0xXX>")
                }
                kind = .byte(value)
            } else if l2s_sp_is_control(created, id) != 0 {
                kind = .control
            } else if l2s_sp_is_unknown(created, id) != 0 {
                kind = .unknown
            }
            pieces.append((piece, kind))
        }
        self.pieces = pieces
        splitsOnWhitespace = ModelProtoSettings.removesExtraWhitespaces(modelBytes)
    }

    deinit { l2s_sp_free(handle) }

    /// Ids of one text segment, normalized and split as the model specifies (no special tokens added).
    func encode(_ text: String) throws -> [Int32] {
        var utf8 = text
        return try utf8.withUTF8 { bytes -> [Int32] in
            var starts: [Int] = []
            var lengths: [Int] = []
            if splitsOnWhitespace {
                Self.forEachWord(bytes) { range in
                    starts.append(range.lowerBound)
                    lengths.append(range.count)
                }
            } else {
                starts = [0]
                lengths = [bytes.count]
            }
            var ids: UnsafeMutablePointer<Int32>?
            var count = 0
            let status = bytes.withMemoryRebound(to: CChar.self) { chars in
                l2s_sp_encode_spans(handle, chars.baseAddress, chars.count, starts, lengths, starts.count, &ids, &count)
            }
            guard status == Int32(L2S_SP_OK), let ids else {
                throw TokenizerError.encodingFailed(reason: "sentencepiece: \(Self.lastError())")
            }
            defer { l2s_sp_free_buffer(ids) }
            return Array(UnsafeBufferPointer(start: ids, count: count))
        }
    }

    /// Byte ranges of the maximal runs of non-whitespace (Unicode White_Space, as Rust's char::is_whitespace).
    private static func forEachWord(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        var index = 0
        var wordStart: Int?
        while index < bytes.count {
            let (characterClass, length) = GPT2PreTokenizer.character(bytes, at: index)
            if characterClass == .whitespace {
                if let start = wordStart { body(start..<index) }
                wordStart = nil
            } else if wordStart == nil {
                wordStart = index
            }
            index += length
        }
        if let start = wordStart { body(start..<bytes.count) }
    }

    private static func lastError() -> String { String(cString: l2s_sp_last_error()) }

    /// `<0x41>` -> 0x41.
    private static func byteValue(_ piece: String) -> UInt8? {
        guard piece.hasPrefix("<0x"), piece.hasSuffix(">"), piece.count == 6 else { return nil }
        return UInt8(piece.dropFirst(3).dropLast(), radix: 16)
    }
}
