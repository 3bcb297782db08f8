import Foundation
import Tokenizers

/// `l2s tokenize`: the ids a model's tokenizer gives a text, special tokens included.
struct TokenizeCommand: Subcommand {
    static let name = "tokenize"
    static let summary = "print the token ids of a text (the model's special tokens included)"
    static let usage = "l2s tokenize --model DIR [--json] TEXT"
    static let discussion = """
        DIR is a Hugging Face model directory: tokenizer.json, spiece.model, or vocab.json + merges.txt, \
        refined by tokenizer_config.json / special_tokens_map.json. TEXT '-' reads standard input. \
        Prints the ids comma-separated, or with --json one object {"ids": [...], "tokens": [...]}.
        """
    static let options = [
        OptionSpec("--model", value: "DIR", help: "model directory holding the tokenizer files", env: "L2S_MODEL"),
        OptionSpec("--json", help: "print one JSON object with ids and token strings"),
    ]

    let model: URL
    let text: String
    let json: Bool

    init(_ arguments: ParsedArguments) throws {
        model = URL(fileURLWithPath: try arguments.required("--model"))
        guard arguments.positionals.count == 1 else {
            throw UsageError("expected exactly one TEXT argument, got \(arguments.positionals.count)")
        }
        if arguments.positionals[0] == "-" {
            // Invalid UTF-8 on stdin becomes U+FFFD, as Python's errors="replace" would make it.
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            text = arguments.positionals[0]
        }
        json = arguments.flag("--json")
    }

    func run() throws -> Int32 {
        let tokenizer = try loadTokenizer(directory: model)
        let ids = try tokenizer.encode(text)
        if json {
            let tokens = ids.map { tokenizer.token(for: $0) ?? "" }
            let object: [String: Any] = ["ids": ids.map(Int.init), "tokens": tokens]
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            printLine(String(decoding: data, as: UTF8.self))
        } else {
            printLine(ids.map(String.init).joined(separator: ","))
        }
        return ExitStatus.success
    }
}
