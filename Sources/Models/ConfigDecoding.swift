import Foundation
import Numerics

/// Any key of a `config.json`.
struct ConfigKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension CodingUserInfoKey {
    /// The path of the config being decoded, for error messages.
    static let configPath = CodingUserInfoKey(rawValue: "l2s.configPath")!
}

/// Reads typed values from a `config.json` container, turning absence and bad values into `ModelError`s that name
/// the key and the file.
struct ConfigReader {
    let container: KeyedDecodingContainer<ConfigKey>
    let path: String

    init(_ decoder: any Decoder) throws {
        container = try decoder.container(keyedBy: ConfigKey.self)
        path = decoder.userInfo[.configPath] as? String ?? "config.json"
    }

    func has(_ key: String) -> Bool {
        guard container.contains(ConfigKey(key)) else { return false }
        return (try? container.decodeNil(forKey: ConfigKey(key))) == false
    }

    /// A value that must be present.
    func required<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard has(key) else { throw ModelError.missingConfigKey(key: key, path: path) }
        return try value(key)
    }

    /// A value, or nil when absent or null.
    func optional<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T? {
        guard has(key) else { return nil }
        return try value(key) as T
    }

    /// A positive integer that must be present.
    func positive(_ key: String) throws -> Int {
        // At most 2^24 so that products of sizes cannot overflow.
        let value: Int = try required(key)
        guard value > 0, value <= 1 << 24 else {
            throw ModelError.invalidConfigValue(key: key, value: "\(value)", path: path, expected: "in 1...16777216")
        }
        return value
    }

    /// An activation by its transformers name.
    func activation(named name: String, key: String) throws -> Activation {
        guard let activation = Activation(rawValue: name) else {
            throw ModelError.unknownActivation(name, key: key, path: path)
        }
        return activation
    }

    /// Token ids given as an int, a list of ints, or null.
    func tokenIDs(_ key: String) throws -> [Int32] {
        guard has(key) else { return [] }
        if let single = try? container.decode(Int32.self, forKey: ConfigKey(key)) { return [single] }
        return try value(key) as [Int32]
    }

    private func value<T: Decodable>(_ key: String) throws -> T {
        do {
            return try container.decode(T.self, forKey: ConfigKey(key))
        } catch {
            throw ModelError.invalidConfigValue(key: key, value: "not \(T.self)", path: path, expected: "\(T.self)")
        }
    }
}

/// Decodes a config type from a `config.json` file, with `ModelError`s naming the file.
func loadConfig<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw ModelError.cannotOpen(path: url.path, reason: error.localizedDescription)
    }
    let decoder = JSONDecoder()
    decoder.userInfo[.configPath] = url.path
    do {
        return try decoder.decode(T.self, from: data)
    } catch let error as ModelError {
        throw error
    } catch {
        throw ModelError.invalidConfig(path: url.path, reason: "\(error)")
    }
}
