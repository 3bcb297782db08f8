import Foundation

/// One prompt of a fixture bundle's PyTorch reference (`Tests/Fixtures/bundles/expected/<name>.json`, written by
/// scripts/fixtures/bundles.py): tests read ids from here instead of hard-coding what a regenerated fixture changes.
public struct ExpectedPrompt: Sendable {
    /// The prompt text.
    public let text: String
    /// Its LLM token ids (SentencePiece pieces followed by `</s>`).
    public let inputIDs: [Int32]
    /// The reference's greedy ids.
    public let greedyIDs: [Int32]

    /// The prompts of `expected/<bundle>.json`, in file order.
    public static func load(bundle name: String) throws -> [ExpectedPrompt] {
        let file = TestPaths.fixture("bundles/expected/\(name).json")
        let object = try JSONSerialization.jsonObject(with: try Data(contentsOf: file)) as? [String: Any]
        guard let prompts = object?["prompts"] as? [[String: Any]] else { throw MalformedFixture(file: file.path) }
        return try prompts.map { entry in
            guard let text = entry["text"] as? String, let ids = entry["input_ids"] as? [Int],
                let greedy = entry["greedy_ids"] as? [Int]
            else { throw MalformedFixture(file: file.path) }
            return ExpectedPrompt(text: text, inputIDs: ids.map { Int32($0) }, greedyIDs: greedy.map { Int32($0) })
        }
    }
}

/// A fixture file without the fields the tests read.
public struct MalformedFixture: Error, CustomStringConvertible {
    /// The file.
    public let file: String
    public var description: String { "\(file): expected {\"prompts\": [{\"text\", \"input_ids\", \"greedy_ids\"}]}" }
}
