import Foundation
import Wire

/// CURVE keys for links that leave the machine: the router serves with its secret key; workers connect with the
/// router's public key and their own key pair (listed in the router's `--worker-keys`), clients with the router's
/// public key and a key pair of their own (made at start-up unless given).
public enum CurveKeys {
    /// The Z85 alphabet (ZeroMQ RFC 32).
    private static let z85 = Set(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")

    /// Checks that `key` is a 40-character Z85 key; the error names `what` and the problem.
    public static func validate(_ key: String, what: String) throws -> String {
        let trimmed = key.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count == 40, trimmed.allSatisfy({ z85.contains($0) }) else {
            throw CurveKeyError.malformed(what: what, length: trimmed.count)
        }
        return trimmed
    }

    /// A secret key from a file holding it (as `l2s keygen` writes it: the Z85 text, or a JSON line
    /// with a "secret" field).
    public static func secretKey(file path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw CurveKeyError.unreadable(path: path) }
        let text = String(decoding: data, as: UTF8.self)
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let secret = object["secret"] as? String
        {
            return try validate(secret, what: "secret key in \(path)")
        }
        return try validate(text, what: "secret key in \(path)")
    }

    /// The key pair in a file holding its secret key (as `l2s keygen` writes it); the public half is derived.
    public static func keyPair(file path: String) throws -> CurveKeyPair {
        try CurveKeyPair(secretKey: try secretKey(file: path))
    }

    /// Makes `socket` a CURVE client of the server whose public key is `serverKey`, with `own` key pair or a
    /// fresh one.
    public static func secureClient(_ socket: ZMQSocket, serverKey: String, own given: CurveKeyPair? = nil) throws {
        let own = try given ?? CurveKeyPair.generate()
        try socket.set(.curveClient(serverPublicKey: serverKey, publicKey: own.publicKey, secretKey: own.secretKey))
    }
}

/// A CURVE key that cannot be used.
public enum CurveKeyError: Error, CustomStringConvertible {
    case malformed(what: String, length: Int)
    case unreadable(path: String)

    public var description: String {
        switch self {
        case .malformed(let what, let length):
            return "\(what) must be 40 Z85 characters (as `l2s keygen` prints), got \(length) characters"
        case .unreadable(let path): return "cannot read the CURVE secret key file \(path)"
        }
    }
}
