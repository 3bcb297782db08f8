import Foundation

/// Turns a `tokenizer.json` Unigram model (what transformers writes for T5) back into a serialized sentencepiece
/// ModelProto, so the same libsentencepiece code path encodes it. This is lossless for tokenizers converted
/// from sentencepiece: the Precompiled normalizer carries sentencepiece's own charsmap bytes (base64), the
/// vocabulary carries the pieces and scores. Field numbers follow sentencepiece_model.proto.
enum UnigramConversion {
    /// The ModelProto bytes for the `model` object of tokenizer.json; `specialIDs` are the ids of added
    /// special tokens (they become CONTROL pieces, except `unk_id`).
    static func modelProto(
        model: JSONObject, normalizer: JSONObject?, preTokenizer: JSONObject?,
        specialIDs: Set<Int>
    ) throws -> [UInt8] {
        guard let vocabulary = try model.array("vocab") else { throw model.wrongType("vocab", expected: "an array") }
        let unkID = try model.int("unk_id")
        let byteFallback = try model.bool("byte_fallback") ?? false
        var proto = ProtoWriter()
        for (id, entry) in vocabulary.enumerated() {
            guard let pair = entry as? [Any], pair.count == 2, let piece = pair[0] as? String,
                let score = (pair[1] as? NSNumber)?.floatValue
            else {
                throw TokenizerError.corruptFile(
                    path: model.file, reason: "model.vocab[\(id)] should be [piece, score]")
            }
            var type = 1  // NORMAL
            if id == unkID {
                type = 2  // UNKNOWN
            } else if specialIDs.contains(id) {
                type = 3  // CONTROL
            } else if byteFallback, piece.count == 6, piece.hasPrefix("<0x"), piece.hasSuffix(">") {
                type = 6  // BYTE
            }
            var message = ProtoWriter()
            message.bytes(field: 1, Array(piece.utf8))
            message.float(field: 2, score)
            message.varint(field: 3, UInt64(type))
            proto.bytes(field: 1, message.output)
        }
        guard unkID != nil else {
            throw TokenizerError.unsupported(path: model.file, feature: "a Unigram model without unk_id")
        }

        var trainer = ProtoWriter()
        trainer.varint(field: 3, 1)  // model_type: UNIGRAM
        trainer.varint(field: 35, byteFallback ? 1 : 0)
        proto.bytes(field: 2, trainer.output)

        let spec = try normalizerSpec(normalizer: normalizer, preTokenizer: preTokenizer, file: model.file)
        var normalizerMessage = ProtoWriter()
        normalizerMessage.bytes(field: 1, Array((spec.charsmap.isEmpty ? "identity" : "nmt_nfkc").utf8))
        if !spec.charsmap.isEmpty { normalizerMessage.bytes(field: 2, spec.charsmap) }
        normalizerMessage.varint(field: 3, spec.addDummyPrefix ? 1 : 0)
        normalizerMessage.varint(field: 4, spec.removeExtraWhitespaces ? 1 : 0)
        normalizerMessage.varint(field: 5, 1)  // escape_whitespaces: spaces become ▁
        proto.bytes(field: 3, normalizerMessage.output)
        return proto.output
    }

    private struct NormalizerSpec {
        var charsmap: [UInt8] = []
        var addDummyPrefix = false
        var removeExtraWhitespaces = false
    }

    /// Maps the normalizer and pre-tokenizer transformers' converter writes back to sentencepiece settings:
    /// Precompiled -> precompiled_charsmap; Replace(" {2,}", " ") or WhitespaceSplit -> remove_extra_whitespaces;
    /// Metaspace with a prefix space -> add_dummy_prefix.
    private static func normalizerSpec(normalizer: JSONObject?, preTokenizer: JSONObject?, file: String) throws
        -> NormalizerSpec
    {
        var spec = NormalizerSpec()
        for step in try flatten(normalizer, listKey: "normalizers", file: file) {
            switch try step.string("type") {
            case "Precompiled":
                guard let text = try step.string("precompiled_charsmap"), let data = Data(base64Encoded: text) else {
                    throw TokenizerError.corruptFile(
                        path: file, reason: "normalizer Precompiled has no base64 charsmap")
                }
                spec.charsmap = Array(data)
            case "Replace":
                let pattern = try step.object("pattern")
                guard try pattern?.string("Regex") == " {2,}" || pattern?.string("String") == "  ",
                    try step.string("content") == " "
                else {
                    throw TokenizerError.unsupported(
                        path: file, feature: "normalizer Replace other than ' {2,}' -> ' '")
                }
                spec.removeExtraWhitespaces = true
            case "Strip":
                continue
            case let other:
                throw TokenizerError.unsupported(
                    path: file, feature: "normalizer \(other ?? "without type") for Unigram")
            }
        }
        var sawMetaspace = false
        for step in try flatten(preTokenizer, listKey: "pretokenizers", file: file) {
            switch try step.string("type") {
            case "WhitespaceSplit":
                spec.removeExtraWhitespaces = true
            case "Metaspace":
                sawMetaspace = true
                guard try (step.string("replacement") ?? "▁") == "▁" else {
                    throw TokenizerError.unsupported(path: file, feature: "Metaspace replacement other than ▁")
                }
                let scheme = try step.string("prepend_scheme")
                let addPrefix = try step.bool("add_prefix_space")
                spec.addDummyPrefix = scheme.map { $0 != "never" } ?? addPrefix ?? true
            case let other:
                throw TokenizerError.unsupported(
                    path: file, feature: "pre_tokenizer \(other ?? "without type") for Unigram")
            }
        }
        guard sawMetaspace else {
            throw TokenizerError.unsupported(
                path: file, feature: "a Unigram tokenizer without a Metaspace pre_tokenizer")
        }
        return spec
    }

    /// A component and, when it is a `Sequence`, its parts.
    private static func flatten(_ component: JSONObject?, listKey: String, file: String) throws -> [JSONObject] {
        guard let component else { return [] }
        guard try component.string("type") == "Sequence" else { return [component] }
        guard let parts = try component.array(listKey) else { throw component.wrongType(listKey, expected: "an array") }
        return try parts.enumerated().map { index, part in
            guard let object = part as? [String: Any] else {
                throw TokenizerError.corruptFile(
                    path: file, reason: "'\(component.keyPath).\(listKey)[\(index)]' should be an object")
            }
            return JSONObject(object, file: file, keyPath: "\(component.keyPath).\(listKey)[\(index)]")
        }
    }
}

/// Minimal protobuf wire-format writer: varint, 32-bit float and length-delimited fields.
struct ProtoWriter {
    private(set) var output: [UInt8] = []

    mutating func varint(field: Int, _ value: UInt64) {
        appendVarint(UInt64(field) << 3 | 0)
        appendVarint(value)
    }

    mutating func float(field: Int, _ value: Float) {
        appendVarint(UInt64(field) << 3 | 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { output += $0 }
    }

    mutating func bytes(field: Int, _ value: [UInt8]) {
        appendVarint(UInt64(field) << 3 | 2)
        appendVarint(UInt64(value.count))
        output += value
    }

    private mutating func appendVarint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            output.append(UInt8(remaining & 0x7F) | 0x80)
            remaining >>= 7
        }
        output.append(UInt8(remaining))
    }
}

/// Reads the one setting of a serialized ModelProto the Swift side needs and libsentencepiece 0.1.x does not
/// expose: `normalizer_spec.remove_extra_whitespaces` (proto2 default true). Called only on bytes
/// libsentencepiece has already accepted.
enum ModelProtoSettings {
    static func removesExtraWhitespaces(_ model: [UInt8]) -> Bool {
        var result = true
        var top = ProtoReader(model[...])
        while let (field, value) = top.next() {
            guard field == 3, case .bytes(let normalizer) = value else { continue }
            // A repeated message field merges; a later remove_extra_whitespaces wins.
            var inner = ProtoReader(normalizer)
            while let (innerField, innerValue) = inner.next() {
                if innerField == 4, case .varint(let flag) = innerValue { result = flag != 0 }
            }
        }
        return result
    }
}

/// Minimal protobuf wire-format reader (varint, fixed 32/64-bit, length-delimited).
struct ProtoReader {
    enum Value {
        case varint(UInt64)
        case fixed
        case bytes(ArraySlice<UInt8>)
    }

    private let bytes: ArraySlice<UInt8>
    private var index: Int
    private var failed = false

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    mutating func next() -> (Int, Value)? {
        guard !failed, index < bytes.endIndex else { return nil }
        guard let tag = readVarint() else { return fail() }
        let field = Int(tag >> 3)
        switch tag & 7 {
        case 0:
            guard let value = readVarint() else { return fail() }
            return (field, .varint(value))
        case 1, 5:
            let size = tag & 7 == 1 ? 8 : 4
            guard bytes.endIndex - index >= size else { return fail() }
            index += size
            return (field, .fixed)
        case 2:
            guard let length = readVarint(), length <= UInt64(bytes.endIndex - index) else { return fail() }
            let payload = bytes[index..<index + Int(length)]
            index += Int(length)
            return (field, .bytes(payload))
        default:
            return fail()
        }
    }

    private mutating func fail() -> (Int, Value)? {
        failed = true
        return nil
    }

    private mutating func readVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex, shift < 64 {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
