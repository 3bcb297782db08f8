import Foundation

/// Special tokens a tokenizer adds around every encoded text (the `single` template of a TemplateProcessing
/// post-processor, or T5's `</s>` suffix).
struct PostProcessorTemplate: Sendable, Equatable {
    var prefix: [Int32] = []
    var suffix: [Int32] = []
}

/// Loads the tokenizer of a Hugging Face model directory, choosing the implementation from the files present as
/// transformers does: `tokenizer.json` (BPE byte-level in Swift; Unigram converted to a sentencepiece model),
/// else `spiece.model` (SentencePiece, T5 conventions), else `vocab.json` + `merges.txt` (GPT-2 byte-level BPE).
/// `tokenizer_config.json` and `special_tokens_map.json` name the special tokens; `add_bos_token`/`add_eos_token`
/// apply where transformers 5 applies them: to GPT2Tokenizer built from vocab.json + merges.txt, not to a
/// tokenizer.json (its post-processor rules) nor to T5Tokenizer (always appends `</s>`).
public func loadTokenizer(directory: URL) throws -> any Tokenizer {
    let files = try TokenizerFiles(directory: directory)
    let settings = try SpecialTokenSettings(files: files)
    if files.has("tokenizer.json") {
        return try TokenizerJSONLoader(files: files, settings: settings).load()
    }
    if files.has("spiece.model") {
        return try loadSentencePieceModel(files: files, settings: settings)
    }
    if files.has("vocab.json"), files.has("merges.txt") {
        return try loadVocabAndMerges(files: files, settings: settings)
    }
    if files.has("vocab.json") || files.has("merges.txt") {
        let missing = files.has("vocab.json") ? "merges.txt" : "vocab.json"
        throw TokenizerError.missingFiles(
            directory: directory.path,
            expected: "\(missing) next to \(files.has("vocab.json") ? "vocab.json" : "merges.txt")")
    }
    throw TokenizerError.missingFiles(
        directory: directory.path, expected: "tokenizer.json, spiece.model, or vocab.json + merges.txt")
}

/// Special-token names and flags from `tokenizer_config.json`, overridden by `special_tokens_map.json`.
struct SpecialTokenSettings {
    var names: [String: String] = [:]  // "eos" -> "</s>"
    /// Names listed under additional_special_tokens / extra_special_tokens.
    var additional: [String] = []
    var addBOS: Bool?
    var addEOS: Bool?
    var extraIDs: Int?
    /// `added_tokens_decoder` of tokenizer_config.json (transformers 4.x layout without tokenizer.json).
    var addedTokens: [AddedToken] = []

    init(files: TokenizerFiles) throws {
        for file in ["tokenizer_config.json", "special_tokens_map.json"] {
            guard let json = try files.jsonObject(file) else { continue }
            for role in ["bos", "eos", "unk", "pad"] {
                if let content = try json.tokenContent("\(role)_token") { names[role] = content }
            }
            for key in ["additional_special_tokens", "extra_special_tokens"] where json.has(key) {
                // A list of tokens, or (transformers 5, multimodal models) a map from a role name to a token.
                let list: [Any]
                if let object = try? json.object(key) {
                    list = object.values.keys.sorted().compactMap { object.values[$0] }
                } else {
                    list = try json.array(key) ?? []
                }
                for (index, entry) in list.enumerated() {
                    if let string = entry as? String {
                        additional.append(string)
                    } else if let object = entry as? [String: Any], let content = object["content"] as? String {
                        additional.append(content)
                    } else {
                        throw TokenizerError.corruptFile(
                            path: files.path(file), reason: "'\(key)[\(index)]' is not a token")
                    }
                }
            }
            addBOS = try json.bool("add_bos_token") ?? addBOS
            addEOS = try json.bool("add_eos_token") ?? addEOS
            extraIDs = try json.int("extra_ids") ?? extraIDs
            if let decoder = try json.object("added_tokens_decoder") {
                for (key, _) in decoder.values {
                    guard let id = Int32(key), let entry = try decoder.object(key) else {
                        throw TokenizerError.corruptFile(
                            path: files.path(file), reason: "added_tokens_decoder key '\(key)'")
                    }
                    addedTokens.append(try AddedToken(json: entry, id: id))
                }
            }
        }
    }

    /// Applies `add_bos_token` / `add_eos_token` when the config states them (vocab.json + merges.txt only).
    func refine(_ template: PostProcessorTemplate, special: SpecialTokenIDs) -> PostProcessorTemplate {
        var result = template
        if let addBOS, let bos = special.bos {
            result.prefix.removeAll { $0 == bos }
            if addBOS { result.prefix.insert(bos, at: 0) }
        }
        if let addEOS, let eos = special.eos {
            result.suffix.removeAll { $0 == eos }
            if addEOS { result.suffix.append(eos) }
        }
        return result
    }

    /// Ids of the named special tokens, looked up with `lookup`; `defaults` supply the family's names.
    func specialIDs(defaults: [String: String], lookup: (String) -> Int32?) -> SpecialTokenIDs {
        func id(_ role: String) -> Int32? { (names[role] ?? defaults[role]).flatMap(lookup) }
        return SpecialTokenIDs(pad: id("pad"), eos: id("eos"), unk: id("unk"), bos: id("bos"))
    }
}

extension AddedToken {
    /// From tokenizers' AddedToken serialisation (`content`, `special`, `lstrip`, `rstrip`).
    init(json: JSONObject, id: Int32) throws {
        guard let content = try json.string("content") else { throw json.wrongType("content", expected: "a string") }
        self.init(
            id: id, content: content, special: try json.bool("special") ?? false,
            lstrip: try json.bool("lstrip") ?? false, rstrip: try json.bool("rstrip") ?? false)
    }
}

/// `spiece.model` alone (plus optional configs): T5Tokenizer's conventions — pad `<pad>`, eos `</s>`, unk `<unk>`,
/// the eos token appended whatever `add_eos_token` says (as transformers 5's T5Tokenizer), `extra_ids` (default 100)
/// `<extra_id_N>` tokens after the pieces, N counted from the end.
func loadSentencePieceModel(files: TokenizerFiles, settings: SpecialTokenSettings) throws -> any Tokenizer {
    let path = files.path("spiece.model")
    let processor = try SentencePieceProcessor(modelBytes: files.contents["spiece.model"] ?? [], path: path)
    let pieceCount = processor.pieces.count
    var added: [AddedToken] = []
    var known = Set<String>()
    for (id, entry) in processor.pieces.enumerated() {
        switch entry.kind {
        case .control, .unknown:
            added.append(AddedToken(id: Int32(id), content: entry.piece, special: true, lstrip: false, rstrip: false))
            known.insert(entry.piece)
        case .normal, .byte:
            continue
        }
    }
    let extraIDs = settings.extraIDs ?? 100
    for index in 0..<extraIDs {
        let content = "<extra_id_\(index)>"
        added.append(
            AddedToken(
                id: Int32(pieceCount + extraIDs - 1 - index), content: content, special: true,
                lstrip: false, rstrip: false))
        known.insert(content)
    }
    for token in settings.addedTokens where !known.contains(token.content) {
        added.append(token)
        known.insert(token.content)
    }
    var next = Int32(max(pieceCount + extraIDs, Int(added.map(\.id).max() ?? 0) + 1))
    let pieceIDs = Dictionary(processor.pieces.enumerated().map { ($0.element.piece, Int32($0.offset)) }) { first, _ in
        first
    }
    for content in settings.additional + Array(settings.names.values) where !known.contains(content) {
        if let id = pieceIDs[content] {
            added.append(AddedToken(id: id, content: content, special: true, lstrip: false, rstrip: false))
        } else {
            added.append(AddedToken(id: next, content: content, special: true, lstrip: false, rstrip: false))
            next += 1
        }
        known.insert(content)
    }
    let addedIDs = Dictionary(added.map { ($0.content, $0.id) }) { first, _ in first }
    let special = settings.specialIDs(defaults: ["pad": "<pad>", "eos": "</s>", "unk": "<unk>"]) {
        addedIDs[$0] ?? pieceIDs[$0]
    }
    var template = PostProcessorTemplate()
    if let eos = special.eos { template.suffix = [eos] }
    return try SentencePieceTokenizer(
        processor: processor, addedTokens: added, specialTokens: special,
        template: template, fingerprint: try files.fingerprint(), path: path)
}

/// `vocab.json` + `merges.txt`: GPT2Tokenizer's conventions — `<|endoftext|>` is bos, eos and unk, nothing is
/// added around the text.
func loadVocabAndMerges(files: TokenizerFiles, settings: SpecialTokenSettings) throws -> any Tokenizer {
    let vocabularyPath = files.path("vocab.json")
    guard let vocabularyJSON = try files.jsonObject("vocab.json") else {
        throw TokenizerError.missingFiles(directory: files.directory.path, expected: "vocab.json")
    }
    var vocabulary: [String: Int32] = [:]
    for (token, value) in vocabularyJSON.values {
        guard let number = value as? NSNumber, let id = Int32(exactly: number.doubleValue), id >= 0 else {
            throw TokenizerError.corruptFile(
                path: vocabularyPath, reason: "token '\(token)' has id \(value), not an integer >= 0")
        }
        vocabulary[token] = id
    }
    let mergesPath = files.path("merges.txt")
    let text = String(decoding: files.contents["merges.txt"] ?? [], as: UTF8.self)
    var merges: [(String, String)] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        if line.isEmpty || (number == 0 && line.hasPrefix("#version")) { continue }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw TokenizerError.corruptFile(
                path: mergesPath, reason: "line \(number + 1) is '\(line)', expected 'left right'")
        }
        merges.append((String(parts[0]), String(parts[1])))
    }
    let model = try ByteLevelBPEModel(vocabulary: vocabulary, merges: merges, file: mergesPath)
    let defaults = ["bos": "<|endoftext|>", "eos": "<|endoftext|>", "unk": "<|endoftext|>"]
    var added = settings.addedTokens
    var known = Set(added.map(\.content))
    for content in Array((settings.names.isEmpty ? defaults : settings.names).values) + settings.additional
    where !known.contains(content) {
        if let id = vocabulary[content] {
            added.append(AddedToken(id: id, content: content, special: true, lstrip: false, rstrip: false))
            known.insert(content)
        }
    }
    let special = settings.specialIDs(defaults: defaults) { vocabulary[$0] }
    return ByteLevelBPETokenizer(
        model: model, addedTokens: added.sorted { $0.id < $1.id }, specialTokens: special,
        template: settings.refine(PostProcessorTemplate(), special: special), fingerprint: try files.fingerprint())
}
