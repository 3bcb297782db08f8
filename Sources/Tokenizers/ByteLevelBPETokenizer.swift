/// GPT-2's byte-level BPE tokenizer in Swift; mirrors `tokenizers`' pipeline for GPT-2: added tokens ->
/// ByteLevel pre-tokenizer (GPT-2 regex, no prefix space) -> BPE -> post-processor template, and the ByteLevel
/// decoder (token characters -> bytes -> lossy UTF-8).
final class ByteLevelBPETokenizer: Tokenizer, TokenByteDecoding {
    private let model: ByteLevelBPEModel
    private let splitter: AddedTokenSplitter
    /// Token string of each id (nil for holes in the id space).
    private let tokens: [String?]
    /// Bytes each id decodes to.
    private let tokenBytes: [[UInt8]]
    private let isSpecial: [Bool]
    private let addedIDs: [String: Int32]
    private let template: PostProcessorTemplate
    let specialTokens: SpecialTokenIDs
    let fingerprint: String

    var vocabularySize: Int { tokens.count }

    init(
        model: ByteLevelBPEModel, addedTokens: [AddedToken], specialTokens: SpecialTokenIDs,
        template: PostProcessorTemplate, fingerprint: String
    ) {
        self.model = model
        self.specialTokens = specialTokens
        self.template = template
        self.fingerprint = fingerprint
        splitter = AddedTokenSplitter(addedTokens)
        let maxID = max(model.vocabulary.values.max() ?? -1, addedTokens.map(\.id).max() ?? -1)
        var tokens = [String?](repeating: nil, count: Int(maxID) + 1)
        for (token, id) in model.vocabulary { tokens[Int(id)] = token }
        var special = [Bool](repeating: false, count: tokens.count)
        var addedIDs: [String: Int32] = [:]
        for added in addedTokens {
            tokens[Int(added.id)] = added.content
            special[Int(added.id)] = added.special
            addedIDs[added.content] = added.id
        }
        self.tokens = tokens
        self.isSpecial = special
        self.addedIDs = addedIDs
        tokenBytes = tokens.map { token in
            guard let token else { return [] }
            return ByteLevelAlphabet.decode(token) ?? Array(token.utf8)
        }
    }

    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32] {
        var ids: [Int32] = addSpecialTokens ? template.prefix : []
        for segment in splitter.split(text) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let piece):
                var utf8 = piece
                utf8.withUTF8 { bytes in
                    GPT2PreTokenizer.forEachPreToken(bytes) { range in
                        model.encodeWord(UnsafeBufferPointer(rebasing: bytes[range]), into: &ids)
                    }
                }
            }
        }
        if addSpecialTokens { ids.append(contentsOf: template.suffix) }
        return ids
    }

    func appendBytes(of id: Int32, isFirst: Bool, skipSpecialTokens: Bool, to output: inout [UInt8]) throws -> Bool {
        guard id >= 0, Int(id) < tokens.count, tokens[Int(id)] != nil else {
            throw TokenizerError.idOutOfRange(id: Int(id), position: 0, vocabularySize: tokens.count)
        }
        if skipSpecialTokens, isSpecial[Int(id)] { return false }
        output.append(contentsOf: tokenBytes[Int(id)])
        return true
    }

    func token(for id: Int32) -> String? {
        guard id >= 0, Int(id) < tokens.count else { return nil }
        return tokens[Int(id)]
    }

    func id(for token: String) -> Int32? {
        addedIDs[token] ?? model.vocabulary[token]
    }
}
