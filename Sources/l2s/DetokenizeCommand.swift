import Foundation
import Tokenizers

/// `l2s detokenize`: the text of a list of token ids, as the model's tokenizer decodes it.
struct DetokenizeCommand: Subcommand {
    static let name = "detokenize"
    static let summary = "print the text of comma-separated token ids"
    static let usage = "l2s detokenize --model DIR --ids 1,2,3 [--skip-special-tokens] [--json]"
    static let discussion = """
        Decodes as transformers' tokenizer.decode does. Ids outside the vocabulary are an error naming the id \
        and its position. With --json prints one object {"text": ...}.
        """
    static let options = [
        OptionSpec("--model", value: "DIR", help: "model directory holding the tokenizer files", env: "L2S_MODEL"),
        OptionSpec("--ids", value: "LIST", help: "comma-separated token ids"),
        OptionSpec("--skip-special-tokens", help: "leave out special tokens (</s>, <pad>, <|endoftext|>, ...)"),
        OptionSpec("--json", help: "print one JSON object"),
    ]

    let model: URL
    let ids: [Int32]
    let skipSpecialTokens: Bool
    let json: Bool

    init(_ arguments: ParsedArguments) throws {
        guard arguments.positionals.isEmpty else {
            throw UsageError("unexpected argument '\(arguments.positionals[0])'")
        }
        model = URL(fileURLWithPath: try arguments.required("--model"))
        _ = try arguments.required("--ids")
        let values = try arguments.intList("--ids") ?? []
        ids = try values.enumerated().map { position, value in
            guard let id = Int32(exactly: value) else {
                throw UsageError("option '--ids' item \(position + 1) is \(value), outside the 32-bit id range")
            }
            return id
        }
        skipSpecialTokens = arguments.flag("--skip-special-tokens")
        json = arguments.flag("--json")
    }

    func run() throws -> Int32 {
        let text = try loadTokenizer(directory: model).decode(ids, skipSpecialTokens: skipSpecialTokens)
        if json {
            let data = try JSONSerialization.data(withJSONObject: ["text": text], options: [.withoutEscapingSlashes])
            printLine(String(decoding: data, as: UTF8.self))
        } else {
            printLine(text)
        }
        return ExitStatus.success
    }
}
