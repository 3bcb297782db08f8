import Foundation

/// Decoded JSON in tests, read so that a missing or mistyped field throws an error naming it (one failing test)
/// where `as!` would crash the whole test runner.
public enum JSONFields {
    /// The top-level object of `text`.
    public static func object(_ text: String) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        guard let object = value as? [String: Any] else { throw JSONFieldError(key: "", expected: "object", in: text) }
        return object
    }

    /// `object[key]` as a `T`.
    public static func field<T>(_ object: [String: Any], _ key: String, as type: T.Type = T.self) throws -> T {
        guard let value = object[key] as? T else {
            throw JSONFieldError(key: key, expected: "\(T.self)", in: "\(object)")
        }
        return value
    }
}

/// A JSON value that is missing or of another type than a test reads it as.
public struct JSONFieldError: Error, CustomStringConvertible {
    /// The key (empty for the top level).
    public let key: String
    /// The type the test expected.
    public let expected: String
    /// What was there.
    public let context: String

    /// An error for `key`, expected as `expected`, in `context`.
    public init(key: String, expected: String, in context: String) {
        self.key = key
        self.expected = expected
        self.context = String(context.prefix(2000))
    }

    public var description: String {
        "JSON \(key.isEmpty ? "top level" : "field '\(key)'") is not a \(expected) in: \(context)"
    }
}

/// A generation fixture (Tests/Fixtures/generation, Tests/Fixtures/beams): `{"prompt": [ids], "cases": [{...}]}`.
public struct GenerationFixture {
    /// The prompt ids every case starts from.
    public let prompt: [Int32]
    /// The cases, as written.
    public let cases: [[String: Any]]

    /// Reads `Tests/Fixtures/<part>/<model>.json`.
    public init(_ part: String, model: String) throws {
        let data = try Data(contentsOf: TestPaths.fixture("\(part)/\(model).json"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw JSONFieldError(key: "", expected: "object", in: "\(part)/\(model).json")
        }
        prompt = try JSONFields.field(object, "prompt", as: [NSNumber].self).map { Int32($0.intValue) }
        cases = try JSONFields.field(object, "cases", as: [[String: Any]].self)
    }
}
