import Foundation

/// A file named by a flag, where `-` means standard input (`cluster --prompts`, `generate --file`,
/// `bench --prompts`). Invalid UTF-8 becomes U+FFFD when decoded, as `l2s tokenize -` does.
enum InputFile {
    /// The whole contents of `path` (or of standard input for `-`); an unreadable file is a usage error naming
    /// `option` and the path.
    static func read(_ path: String, option: String) throws -> Data {
        if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw UsageError("option '\(option)': cannot read '\(path)'")
        }
        return contents
    }
}
