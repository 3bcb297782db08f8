import Foundation
import Wire

/// Who may connect to the router over CURVE, by role: the ZAP decision for each handshake on the three sockets.
///
/// Every peer must know the router's public key (that is CURVE itself). On top of it, workers authenticate with
/// key pairs of their own, whose public keys are listed in `workerKeys`: only those may join the encoders and
/// decoders sockets. Clients connect with any key pair, or only with one in `clientKeys` when that list is given.
/// A key is never in both lists, so a client key can never act as a worker.
public struct CurveAccess: Sendable {
    /// Public keys (Z85) allowed on the encoders and decoders sockets.
    public let workerKeys: Set<String>
    /// Public keys (Z85) allowed on the clients socket; nil = any key.
    public let clientKeys: Set<String>?

    /// Access lists; throws when a key is in both (it could then act as a worker and as a client).
    public init(workerKeys: Set<String>, clientKeys: Set<String>?) throws {
        if let shared = clientKeys?.intersection(workerKeys).first {
            throw ClusterError.unreadableKeyList(
                path: "--client-keys",
                reason: "key \(shared) is also a worker key; a key has one role")
        }
        self.workerKeys = workerKeys
        self.clientKeys = clientKeys
    }

    /// The public keys of a key list file: one per line, either the Z85 key itself or a JSON line with a
    /// "public" field (as `l2s keygen` prints); blank lines and comments are skipped. A comment starts with '#', but
    /// '#' is also a Z85 character: a line that is a whole 40-character key is a key even when it starts with '#'.
    public static func keys(file path: String) throws -> Set<String> {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClusterError.unreadableKeyList(path: path, reason: "cannot read the file")
        }
        var keys: Set<String> = []
        for (number, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#"), (try? CurveKeys.validate(line, what: "")) == nil { continue }
            var key = line
            if line.hasPrefix("{"),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let value = object["public"] as? String
            {
                key = value
            }
            do {
                keys.insert(try CurveKeys.validate(key, what: "line \(number + 1)"))
            } catch {
                throw ClusterError.unreadableKeyList(path: path, reason: "\(error)")
            }
        }
        guard !keys.isEmpty else { throw ClusterError.unreadableKeyList(path: path, reason: "no keys in the file") }
        return keys
    }

    /// Whether a peer presenting `key` may complete its handshake on `link`.
    public func allows(_ key: String, on link: Link) -> Bool {
        switch link {
        case .clients: return clientKeys?.contains(key) ?? true
        case .encoders, .decoders: return workerKeys.contains(key)
        }
    }

    /// The ZAP reply (RFC 27) to one request's frames, and a refusal to log (nil when allowed).
    func answer(_ request: [[UInt8]]) -> (reply: [[UInt8]], refusal: String?) {
        // version, request id, domain, address, routing id, mechanism, credentials...
        guard request.count >= 6 else {
            return (
                [Array("1.0".utf8), [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []],
                "malformed ZAP request (\(request.count) frames)"
            )
        }
        let requestID = request[1]
        let domain = String(decoding: request[2], as: UTF8.self)
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        func reply(_ status: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard let link = Link(rawValue: domain) else {
            return (reply("400", "unknown domain"), "ZAP request for unknown domain '\(domain)' from \(address)")
        }
        guard mechanism == "CURVE", request.count >= 7, let key = CurveKeyPair.z85(request[6]) else {
            return (reply("400", "CURVE required"), "\(link) peer \(address) tried mechanism \(mechanism)")
        }
        guard allows(key, on: link) else {
            let list = link == .clients ? "--client-keys" : "--worker-keys"
            return (
                reply("400", "key not allowed"),
                "\(link) peer \(address) refused: its CURVE key \(key) is not in \(list)"
            )
        }
        return (reply("200", "OK", user: key), nil)
    }
}
