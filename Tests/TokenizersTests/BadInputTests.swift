import Foundation
import TestSupport
import Testing

@testable import Tokenizers

/// A fresh directory under the system temporary directory, holding the given files.
func temporaryTokenizerDirectory(_ files: [String: [UInt8]]) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-tokenizer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for (name, bytes) in files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
    return directory
}

func fixtureBytes(_ layout: String, _ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: TestPaths.fixture("tokenizers/\(layout)/\(name)")))
}

/// Runs `body`, returning the TokenizerError it throws (nil when it throws nothing or something else).
func tokenizerError(_ body: () throws -> Void) -> TokenizerError? {
    do {
        try body()
        return nil
    } catch let error as TokenizerError {
        return error
    } catch {
        return nil
    }
}

@Suite("Bad tokenizer files and ids give precise errors")
struct BadInputTests {
    @Test func missingDirectoryIsNamed() {
        let path = "/nonexistent/l2s/tokenizer"
        let error = tokenizerError { _ = try loadTokenizer(directory: URL(fileURLWithPath: path)) }
        #expect(error == .missingFiles(directory: path, expected: "an existing directory"))
    }

    @Test func emptyDirectoryListsTheAcceptedLayouts() throws {
        let directory = try temporaryTokenizerDirectory([:])
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = tokenizerError { _ = try loadTokenizer(directory: directory) }
        #expect(
            error
                == .missingFiles(
                    directory: directory.path, expected: "tokenizer.json, spiece.model, or vocab.json + merges.txt"))
        #expect(error?.description.contains(directory.path) == true)
    }

    @Test func vocabularyWithoutMergesNamesTheMissingFile() throws {
        let directory = try temporaryTokenizerDirectory([
            "vocab.json": try fixtureBytes("gpt2-vocab-merges", "vocab.json")
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = tokenizerError { _ = try loadTokenizer(directory: directory) }
        #expect(error == .missingFiles(directory: directory.path, expected: "merges.txt next to vocab.json"))
    }

    @Test(
        "corrupt files are named in the error",
        arguments: [
            ("spiece.model", Array("this is not a protobuf".utf8)),
            ("tokenizer.json", Array("{\"model\": {\"type\": \"BPE\", ".utf8)),
            ("tokenizer.json", Array("[1, 2, 3]".utf8)),
            ("tokenizer.json", Array("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\"]], \"unk_id\": 0}}".utf8)),
        ])
    func corruptFileIsNamed(name: String, bytes: [UInt8]) throws {
        let directory = try temporaryTokenizerDirectory([name: bytes])
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = tokenizerError { _ = try loadTokenizer(directory: directory) }
        guard case .corruptFile(let path, _) = error else {
            Issue.record("expected corruptFile, got \(String(describing: error))")
            return
        }
        #expect(path == directory.appendingPathComponent(name).path)
    }

    @Test func mergeWithUnknownTokenNamesMergesFileAndLine() throws {
        let directory = try temporaryTokenizerDirectory([
            "vocab.json": Array("{\"a\": 0, \"b\": 1}".utf8),
            "merges.txt": Array("#version: 0.2\na b\n".utf8),
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = tokenizerError { _ = try loadTokenizer(directory: directory) }
        #expect(
            error
                == .corruptFile(
                    path: directory.appendingPathComponent("merges.txt").path,
                    reason: "merge 1 'a b' yields 'ab', not in the vocabulary"))
    }

    @Test func brokenConfigIsNamed() throws {
        let directory = try temporaryTokenizerDirectory([
            "spiece.model": try fixtureBytes("t5-spiece", "spiece.model"),
            "tokenizer_config.json": Array("{\"eos_token\": 5}".utf8),
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = tokenizerError { _ = try loadTokenizer(directory: directory) }
        guard case .corruptFile(let path, let reason) = error else {
            Issue.record("expected corruptFile, got \(String(describing: error))")
            return
        }
        #expect(path.hasSuffix("tokenizer_config.json"))
        #expect(reason.contains("eos_token"))
    }

    @Test func unsupportedModelTypeIsNamed() throws {
        let directory = try temporaryTokenizerDirectory([
            "tokenizer.json": Array("{\"model\": {\"type\": \"WordPiece\"}}".utf8)
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = tokenizerError { _ = try loadTokenizer(directory: directory) }
        #expect(
            error
                == .unsupported(
                    path: directory.appendingPathComponent("tokenizer.json").path, feature: "model type WordPiece"))
    }

    @Test("ids out of range are an error with id, position and size", arguments: TokenizerReference.layoutNames)
    func idOutOfRange(layout: String) throws {
        let tokenizer = try loadFixtureTokenizer(layout)
        let size = tokenizer.vocabularySize
        #expect(
            tokenizerError { _ = try tokenizer.decode([5, Int32(size)], skipSpecialTokens: false) }
                == .idOutOfRange(id: size, position: 1, vocabularySize: size))
        #expect(
            tokenizerError { _ = try tokenizer.decode([-1], skipSpecialTokens: true) }
                == .idOutOfRange(id: -1, position: 0, vocabularySize: size))
        var decoder = tokenizer.makeIncrementalDecoder(skipSpecialTokens: false)
        _ = try decoder.add([5, 6])
        #expect(
            tokenizerError { _ = try decoder.add(Int32.max) }
                == .idOutOfRange(id: Int(Int32.max), position: 2, vocabularySize: size))
        #expect(tokenizer.token(for: Int32(size)) == nil)
    }

    @Test(
        "invalid UTF-8 input becomes U+FFFD before tokenizing, as Python's errors='replace'",
        arguments: TokenizerReference.layoutNames)
    func invalidUTF8Input(layout: String) throws {
        let reference = try TokenizerReference.load()
        let text = String(
            decoding: Array("bad ".utf8) + [0xFF, 0xFE] + Array(" bytes ".utf8) + [0xE6, 0x97] + Array(" end".utf8),
            as: UTF8.self)
        let index = try #require(reference.texts.firstIndex(of: text))
        let expected = try #require(reference.layouts[layout]?.ids[index])
        #expect(try loadFixtureTokenizer(layout).encode(text) == expected)
    }

    @Test(
        "extra_special_tokens may be a list or a role -> token map",
        arguments: [
            #"{"extra_special_tokens": ["<|endoftext|>"]}"#,
            #"{"extra_special_tokens": {"sep_token": "<|endoftext|>"}}"#,
        ])
    func extraSpecialTokenShapes(config: String) throws {
        let directory = try temporaryTokenizerDirectory([
            "vocab.json": try fixtureBytes("gpt2-vocab-merges", "vocab.json"),
            "merges.txt": try fixtureBytes("gpt2-vocab-merges", "merges.txt"),
            "tokenizer_config.json": Array(config.utf8),
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenizer = try loadTokenizer(directory: directory)
        #expect(try tokenizer.encode("<|endoftext|>") == [0])
    }
}
