import Foundation
import TestSupport
import Testing
import Wire

/// The schema is the contract: the official Python protobuf runtime (pyzmq + protobuf from PyPI, code from
/// `protoc --python_out`) and this module must read each other's messages field for field.
@Suite("Python interop")
struct InteropTests {
    static let python = TestPaths.repositoryRoot.appendingPathComponent(".venv/bin/python")
    static let peer = TestPaths.repositoryRoot.appendingPathComponent("clients/python/tests/interop_peer.py")

    @Test("Python parses every message Swift sends and Swift parses every message Python sends, over TCP")
    func pythonPeer() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python.path) else {
            Issue.record("\(Self.python.path) is missing: run scripts/setup.sh to create the Python environment")
            return
        }
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        defer { router.close() }
        try router.bind("tcp://127.0.0.1:*")
        let process = Process()
        process.executableURL = Self.python
        process.arguments = [Self.peer.path, try router.lastEndpoint()]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let expected = try WireSamples.all()
        var peer: PeerIdentity?
        for (index, message) in expected.enumerated() {
            guard let received = try router.receiveRoutedMessage(timeoutMilliseconds: 20_000) else {
                Issue.record("sample \(index) (\(message.kind)) not received from Python within 20 s")
                return
            }
            peer = received.peer
            #expect(try received.message.get() == message, "sample \(index) (\(message.kind)) as written by Python")
        }
        for message in expected { try router.send(message, to: try #require(peer)) }

        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let report = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        try #require(!process.isRunning, "Python peer did not finish within 20 s: \(report)")
        #expect(process.terminationStatus == 0, "Python peer reported: \(report)")
        #expect(report.contains("interop: \(expected.count) messages checked"), "\(report)")
    }
}
