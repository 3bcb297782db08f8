import Foundation

/// Builds a tokenizer from a `tokenizer.json` (the `tokenizers` library's serialisation): byte-level BPE natively,
/// Unigram through `UnigramConversion` and libsentencepiece. Anything else fails with `unsupported`, naming the
/// component, rather than tokenizing differently from the reference.
struct TokenizerJSONLoader {
    let files: TokenizerFiles
    let settings: SpecialTokenSettings

    private var path: String { files.path("tokenizer.json") }

    func load() throws -> any Tokenizer {
        guard let json = try files.jsonObject("tokenizer.json") else {
            throw TokenizerError.missingFiles(directory: files.directory.path, expected: "tokenizer.json")
        }
        guard let model = try json.object("model") else { throw json.wrongType("model", expected: "an object") }
        let added = try addedTokens(json)
        switch try model.string("type") {
        case "BPE":
            return try loadBPE(json: json, model: model, added: added)
        case "Unigram":
            return try loadUnigram(json: json, model: model, added: added)
        case let other:
            throw TokenizerError.unsupported(path: path, feature: "model type \(other ?? "(none)")")
        }
    }

    private func addedTokens(_ json: JSONObject) throws -> [AddedToken] {
        guard let list = try json.array("added_tokens") else { return [] }
        return try list.enumerated().map { index, entry in
            let keyPath = "added_tokens[\(index)]"
            guard let object = entry as? [String: Any],
                let id = (object["id"] as? NSNumber).flatMap({ Int32(exactly: $0.doubleValue) }),
                id >= 0
            else { throw TokenizerError.corruptFile(path: path, reason: "'\(keyPath)' needs an integer id >= 0") }
            let token = JSONObject(object, file: path, keyPath: keyPath)
            if try token.bool("single_word") == true {
                throw TokenizerError.unsupported(
                    path: path, feature: "single_word added token '\(object["content"] ?? "")'")
            }
            return try AddedToken(json: token, id: id)
        }
    }

    /// The `single` template of the post-processor as prefix/suffix ids around the sequence.
    private func template(_ json: JSONObject) throws -> PostProcessorTemplate {
        guard let processor = try json.object("post_processor") else { return PostProcessorTemplate() }
        switch try processor.string("type") {
        case "ByteLevel":
            return PostProcessorTemplate()
        case "TemplateProcessing":
            guard let single = try processor.array("single") else {
                throw processor.wrongType("single", expected: "an array")
            }
            let specials = try processor.object("special_tokens")
            var result = PostProcessorTemplate()
            var seenSequence = false
            for (index, item) in single.enumerated() {
                let item = item as? [String: Any] ?? [:]
                if item["Sequence"] != nil {
                    seenSequence = true
                } else if let special = item["SpecialToken"] as? [String: Any], let name = special["id"] as? String,
                    let entry = try specials?.object(name), let ids = try entry.array("ids")
                {
                    let values = try ids.map { value -> Int32 in
                        guard let id = (value as? NSNumber).flatMap({ Int32(exactly: $0.doubleValue) }) else {
                            throw TokenizerError.corruptFile(
                                path: path, reason: "post_processor.special_tokens.\(name).ids")
                        }
                        return id
                    }
                    if seenSequence { result.suffix += values } else { result.prefix += values }
                } else {
                    throw TokenizerError.corruptFile(
                        path: path, reason: "post_processor.single[\(index)] is not a Sequence or a known SpecialToken")
                }
            }
            return result
        case let other:
            throw TokenizerError.unsupported(path: path, feature: "post_processor \(other ?? "(no type)")")
        }
    }

    private func specialIDs(added: [AddedToken], defaults: [String: String], lookup: (String) -> Int32?)
        -> SpecialTokenIDs
    {
        let addedIDs = Dictionary(added.map { ($0.content, $0.id) }) { first, _ in first }
        return settings.specialIDs(defaults: defaults) { addedIDs[$0] ?? lookup($0) }
    }

    private func loadBPE(json: JSONObject, model: JSONObject, added: [AddedToken]) throws -> any Tokenizer {
        if json.has("normalizer") {
            throw TokenizerError.unsupported(path: path, feature: "a normalizer on a BPE model")
        }
        guard let pre = try json.object("pre_tokenizer"), try pre.string("type") == "ByteLevel",
            try pre.bool("use_regex") ?? true, try pre.bool("add_prefix_space") != true
        else {
            throw TokenizerError.unsupported(
                path: path, feature: "BPE without the GPT-2 ByteLevel pre_tokenizer (use_regex, no prefix space)")
        }
        for (key, allowed) in [("continuing_subword_prefix", ""), ("end_of_word_suffix", "")] {
            if let value = try model.string(key), value != allowed {
                throw TokenizerError.unsupported(path: path, feature: "BPE \(key) '\(value)'")
            }
        }
        for flag in ["byte_fallback", "ignore_merges"] where try model.bool(flag) == true {
            throw TokenizerError.unsupported(path: path, feature: "BPE \(flag)")
        }
        if model.has("dropout") { throw TokenizerError.unsupported(path: path, feature: "BPE dropout") }
        guard let vocabularyJSON = try model.object("vocab") else {
            throw model.wrongType("vocab", expected: "an object")
        }
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(vocabularyJSON.values.count)
        for (token, value) in vocabularyJSON.values {
            guard let id = (value as? NSNumber).flatMap({ Int32(exactly: $0.doubleValue) }), id >= 0 else {
                throw TokenizerError.corruptFile(path: path, reason: "model.vocab['\(token)'] is \(value), not an id")
            }
            vocabulary[token] = id
        }
        guard let mergeList = try model.array("merges") else { throw model.wrongType("merges", expected: "an array") }
        let merges = try mergeList.enumerated().map { index, entry -> (String, String) in
            if let line = entry as? String {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                if parts.count == 2 { return (String(parts[0]), String(parts[1])) }
            } else if let pair = entry as? [Any], pair.count == 2, let left = pair[0] as? String,
                let right = pair[1] as? String
            {
                return (left, right)
            }
            throw TokenizerError.corruptFile(path: path, reason: "model.merges[\(index)] is not 'a b' or [a, b]")
        }
        let bpe = try ByteLevelBPEModel(vocabulary: vocabulary, merges: merges, file: path)
        let defaults = ["bos": "<|endoftext|>", "eos": "<|endoftext|>", "unk": "<|endoftext|>"]
        let special = specialIDs(added: added, defaults: defaults) { vocabulary[$0] }
        return ByteLevelBPETokenizer(
            model: bpe, addedTokens: added, specialTokens: special,
            template: try template(json), fingerprint: try files.fingerprint())
    }

    private func loadUnigram(json: JSONObject, model: JSONObject, added: [AddedToken]) throws -> any Tokenizer {
        if let decoder = try json.object("decoder"), try decoder.string("type") != "Metaspace" {
            throw TokenizerError.unsupported(
                path: path, feature: "Unigram decoder \(try decoder.string("type") ?? "(none)")")
        }
        let bytes = try UnigramConversion.modelProto(
            model: model, normalizer: try json.object("normalizer"), preTokenizer: try json.object("pre_tokenizer"),
            specialIDs: Set(added.filter(\.special).map { Int($0.id) }))
        let processor = try SentencePieceProcessor(modelBytes: bytes, path: path)
        let pieceIDs = Dictionary(processor.pieces.enumerated().map { ($0.element.piece, Int32($0.offset)) }) {
            first, _ in first
        }
        let special = specialIDs(added: added, defaults: ["pad": "<pad>", "eos": "</s>", "unk": "<unk>"]) {
            pieceIDs[$0]
        }
        return try SentencePieceTokenizer(
            processor: processor, addedTokens: added, specialTokens: special,
            template: try template(json), fingerprint: try files.fingerprint(),
            path: path)
    }
}
