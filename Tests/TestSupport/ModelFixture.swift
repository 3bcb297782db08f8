import Foundation

/// The golden values `scripts/make_fixtures.py` wrote for one model checkpoint (`Tests/Fixtures/models/<name>`,
/// `expected.json`): the one reader of them for every test target.
public struct ModelFixture {
    /// The checkpoint directory.
    public let directory: URL
    /// The parsed `expected.json`.
    public let object: [String: Any]

    /// The fixture `models/<name>`.
    public init(_ name: String) throws {
        directory = TestPaths.fixture("models/\(name)")
        let data = try Data(contentsOf: directory.appendingPathComponent("expected.json"))
        object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// A list of floats (NaN for a non-number, so a comparison fails).
    public func floats(_ key: String) -> [Float] {
        (object[key] as? [Any] ?? []).map { ($0 as? NSNumber)?.floatValue ?? .nan }
    }

    /// A list of ids, or a single id as a one-element list (-1 for a non-number, so a comparison fails).
    public func ids(_ key: String) -> [Int32] {
        if let single = object[key] as? NSNumber { return [Int32(single.intValue)] }
        return (object[key] as? [Any] ?? []).map { Int32(($0 as? NSNumber)?.intValue ?? -1) }
    }

    /// A single integer (-1 when absent).
    public func int(_ key: String) -> Int32 { Int32((object[key] as? NSNumber)?.intValue ?? -1) }

    /// Rows of a list of float lists (one per step).
    public func rows(_ key: String) -> [[Float]] {
        (object[key] as? [Any] ?? []).map { row in (row as? [Any] ?? []).map { ($0 as? NSNumber)?.floatValue ?? .nan } }
    }
}

/// The index of the largest value (the lowest index on exact ties, as torch.argmax and docs/bundle.md say).
public func argmax(_ values: [Float]) -> Int32 {
    var best = 0
    for index in values.indices where values[index] > values[best] { best = index }
    return Int32(best)
}
