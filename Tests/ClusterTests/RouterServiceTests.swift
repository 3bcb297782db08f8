import Cluster
import Foundation
import TestSupport
import Testing
import Wire

/// The router as an operator runs it (`l2s router` in its own process) against real ZeroMQ peers: bad frames
/// get clear errors and the router keeps serving.
@Suite(.timeLimit(.minutes(1))) struct RouterServiceTests {
    func startRouter(_ extra: [String] = []) throws -> (ServiceProcess, String, String) {
        let router = try ServiceProcess(
            "router",
            [
                "router", "--clients", "tcp://127.0.0.1:*",
                "--encoders", "tcp://127.0.0.1:*", "--decoders", "tcp://127.0.0.1:*", "--adopt-bundle",
            ] + extra)
        let listening = try router.waitForEvent("listening")
        return (router, try JSONFields.field(listening, "clients"), try JSONFields.field(listening, "decoders"))
    }

    @Test func statsOfAnEmptyRouter() throws {
        let (router, clients, _) = try startRouter(["--cache-mb", "3"])
        let stats = try ClusterClient(router: clients).stats()
        #expect(stats.workers.isEmpty && stats.queueDepth == 0)
        #expect(stats.cache.capacityBytes == 3 << 20 && stats.cache.hits == 0)
        withExtendedLifetime(router) {}
    }

    @Test func garbageAndWrongVersionsGetErrorsAndTheRouterCarriesOn() throws {
        let (router, clients, decoders) = try startRouter()
        let context = try ZMQContext()
        defer { context.shutdown() }
        let raw = try ZMQSocket(context: context, type: .dealer)
        defer { raw.close() }
        try raw.connect(clients)

        try raw.send([Frame([0xFF, 0x01, 0x02])])
        guard case .error(let garbage) = try raw.receiveMessage(timeoutMilliseconds: 5000) else {
            Issue.record("no error for a garbage frame")
            return
        }
        #expect(garbage.code == .badRequest && garbage.message.contains("protobuf"), "\(garbage.message)")

        // Envelope{version: 7, stats_request: {}} written by hand: field 1 varint 7, field 20 empty message.
        try raw.send([Frame([0x08, 0x07, 0xA2, 0x01, 0x00])])
        guard case .error(let version) = try raw.receiveMessage(timeoutMilliseconds: 5000) else {
            Issue.record("no error for a wrong version")
            return
        }
        #expect(version.code == .unsupportedVersion && version.message.contains("7"), "\(version.message)")

        // A decoder-only message on the clients socket, and a worker message from a peer that never said hello.
        try raw.send(.credit(Credit(credits: 3)))
        guard case .error(let wrongSocket) = try raw.receiveMessage(timeoutMilliseconds: 5000) else {
            Issue.record("no error for a message on the wrong socket")
            return
        }
        #expect(wrongSocket.code == .badRequest)
        let stranger = try ZMQSocket(context: context, type: .dealer)
        defer { stranger.close() }
        try stranger.connect(decoders)
        try stranger.send(.credit(Credit(credits: 1)))
        guard case .error(let noHello) = try stranger.receiveMessage(timeoutMilliseconds: 5000) else {
            Issue.record("no error for a worker without hello")
            return
        }
        #expect(noHello.message.contains("hello"))

        // Still serving.
        #expect(try ClusterClient(router: clients).stats().jobsFailed == 0)
        withExtendedLifetime(router) {}
    }

    @Test func aWorkerAnnouncingTheWrongRoleIsRefused() throws {
        let (router, _, decoders) = try startRouter()
        let context = try ZMQContext()
        defer { context.shutdown() }
        let worker = try ZMQSocket(context: context, type: .dealer)
        defer { worker.close() }
        try worker.connect(decoders)
        try worker.send(.hello(Hello(role: .encoder, workerID: "confused", capacity: 1)))
        guard case .error(let error) = try worker.receiveMessage(timeoutMilliseconds: 5000) else {
            Issue.record("no error for a wrong role")
            return
        }
        #expect(error.code == .badRequest && error.message.contains("role"))
        withExtendedLifetime(router) {}
    }

    @Test func theRouterStopsCleanlyOnSIGTERM() throws {
        let (router, _, _) = try startRouter()
        router.process.terminate()
        router.process.waitUntilExit()
        #expect(router.process.terminationStatus == 0)
    }
}
