import Digest
import Foundation

/// The tokenizer files of a Hugging Face directory, read once, with typed JSON access whose errors name the
/// file and the key.
struct TokenizerFiles {
    /// Every file that can define or refine a tokenizer, in fingerprint order.
    static let names = [
        "tokenizer.json", "spiece.model", "vocab.json", "merges.txt", "tokenizer_config.json",
        "special_tokens_map.json",
    ]

    let directory: URL
    /// Raw bytes of each present file, by name.
    let contents: [String: [UInt8]]

    init(directory: URL) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw TokenizerError.missingFiles(directory: directory.path, expected: "an existing directory")
        }
        var contents: [String: [UInt8]] = [:]
        for name in Self.names {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            do {
                contents[name] = Array(try Data(contentsOf: url))
            } catch {
                throw TokenizerError.corruptFile(path: url.path, reason: "unreadable: \(error.localizedDescription)")
            }
        }
        self.contents = contents
    }

    func has(_ name: String) -> Bool { contents[name] != nil }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The top-level JSON object of a file, nil when the file is absent.
    func jsonObject(_ name: String) throws -> JSONObject? {
        guard let bytes = contents[name] else { return nil }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw TokenizerError.corruptFile(path: path(name), reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let object = value as? [String: Any] else {
            throw TokenizerError.corruptFile(path: path(name), reason: "expected a JSON object at the top level")
        }
        return JSONObject(object, file: path(name), keyPath: "")
    }

    /// SHA-256 hex over the present files in `names` order, each framed as name, NUL, 8-byte little-endian
    /// length, bytes, so that no two different file sets hash alike.
    func fingerprint() throws -> String {
        do throws(DigestError) {
            let hash = try SHA256()
            for name in Self.names {
                guard let bytes = contents[name] else { continue }
                var header = Array(name.utf8) + [0]
                withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { header += $0 }
                try hash.update(header)
                try hash.update(bytes)
            }
            return SHA256.hex(try hash.finish())
        } catch {
            throw TokenizerError.fingerprintFailed(directory: directory.path, cause: error)
        }
    }
}

/// A JSON object that remembers where it came from, so a wrong type is reported as `file: key.path`.
struct JSONObject {
    let values: [String: Any]
    let file: String
    let keyPath: String

    init(_ values: [String: Any], file: String, keyPath: String) {
        self.values = values
        self.file = file
        self.keyPath = keyPath
    }

    private func path(_ key: String) -> String { keyPath.isEmpty ? key : "\(keyPath).\(key)" }

    func wrongType(_ key: String, expected: String) -> TokenizerError {
        let actual = values[key].map { String(describing: type(of: $0)) } ?? "nothing"
        return .corruptFile(path: file, reason: "'\(path(key))' should be \(expected), found \(actual)")
    }

    /// True when the key is present and not JSON null.
    func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    func object(_ key: String) throws -> JSONObject? {
        guard has(key) else { return nil }
        guard let object = values[key] as? [String: Any] else { throw wrongType(key, expected: "an object") }
        return JSONObject(object, file: file, keyPath: path(key))
    }

    func array(_ key: String) throws -> [Any]? {
        guard has(key) else { return nil }
        guard let array = values[key] as? [Any] else { throw wrongType(key, expected: "an array") }
        return array
    }

    func string(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        guard let string = values[key] as? String else { throw wrongType(key, expected: "a string") }
        return string
    }

    func bool(_ key: String) throws -> Bool? {
        guard has(key) else { return nil }
        guard let value = values[key] as? Bool else { throw wrongType(key, expected: "a boolean") }
        return value
    }

    func int(_ key: String) throws -> Int? {
        guard has(key) else { return nil }
        guard let number = values[key] as? NSNumber, let value = Int(exactly: number.doubleValue) else {
            throw wrongType(key, expected: "an integer")
        }
        return value
    }

    /// A special-token entry: either `"</s>"` or `{"content": "</s>", ...}` (AddedToken serialisation).
    func tokenContent(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        if let string = values[key] as? String { return string }
        if let object = try object(key), let content = try object.string("content") { return content }
        throw wrongType(key, expected: "a token string or {\"content\": ...}")
    }
}
