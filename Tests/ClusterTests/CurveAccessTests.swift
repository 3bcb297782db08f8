import Foundation
import Testing

@testable import Cluster

/// Key list files (`--worker-keys`, `--client-keys`): keys as Z85 text or `l2s keygen` JSON lines, comments and
/// blank lines skipped, and a key that starts with '#' (a Z85 character) read as a key, not as a comment.
@Suite struct CurveAccessTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-keys-\(UUID().uuidString)").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func keysThatStartWithAHashAreKeysAndCommentsAreSkipped() throws {
        let hashKey = "#abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"
        let plain = "0123456789abcdefghijklmnopqrstuvwxyzABCD"
        let json = "EFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{"
        let path = try write(
            "# the decoders of rack 3\n\n\(hashKey)\n  \(plain)  \n{\"public\": \"\(json)\", \"secret\": \"x\"}\n#\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try CurveAccess.keys(file: path) == [hashKey, plain, json])
    }

    @Test func aMalformedLineIsRefusedWithItsNumber() throws {
        let path = try write("0123456789abcdefghijklmnopqrstuvwxyzABCD\nnot a key\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ClusterError.self) { try CurveAccess.keys(file: path) }
        do {
            _ = try CurveAccess.keys(file: path)
        } catch {
            #expect("\(error)".contains("line 2"), "\(error)")
        }
    }
}
