import Cluster
import Foundation
import TestSupport
import Testing
import Wire

/// `ClusterClient.runWindowed`, the loop of `l2s generate --file` and `l2s bench`, against a real router without
/// workers whose queue holds one job: the first job waits, the others are refused at once.
@Suite(.timeLimit(.minutes(1))) struct JobWindowTests {
    @Test func theWindowKeepsItsLimitHandsOutEventsByIndexAndStopsAtTheDeadline() throws {
        let router = try ServiceProcess(
            "router",
            [
                "router", "--clients", "tcp://127.0.0.1:*",
                "--encoders", "tcp://127.0.0.1:*", "--decoders", "tcp://127.0.0.1:*", "--adopt-bundle", "--max-queue",
                "1",
            ])
        let clients: String = try JSONFields.field(try router.waitForEvent("listening"), "clients")
        let client = try ClusterClient(router: clients)
        var submitted: [Int] = []
        var answered: [Int] = []
        var mostInFlight = 0
        let end = try client.runWindowed(
            jobs: 3, concurrency: 2, eventTimeout: .seconds(20), deadline: .now + .seconds(2),
            request: { GenerateRequest(requestID: "\($0)", prompt: .text("prompt \($0)"), maxNewTokens: 4) },
            onSubmit: { index in
                submitted.append(index)
                mostInFlight = max(mostInFlight, submitted.count - answered.count)
            },
            onEvent: { index, event in
                guard case .failed(let error) = event else {
                    Issue.record("job \(index): \(event) without workers")
                    return
                }
                #expect(error.code == .overloaded, "job \(index): \(error)")
                answered.append(index)
            })
        #expect(submitted == [0, 1, 2])
        #expect(mostInFlight == 2, "never more than the window")
        #expect(answered == [1, 2])
        #expect(end.sent == 3 && end.unanswered == [0], "the waiting job is left to the caller: \(end)")
        withExtendedLifetime(router) {}
    }

    @Test func aDeadlineBeforeTheFirstSubmissionSendsNothing() throws {
        let client = try ClusterClient(router: "tcp://127.0.0.1:1")
        let end = try client.runWindowed(
            jobs: 2, concurrency: 2, eventTimeout: .seconds(1), deadline: .now - .seconds(1),
            request: { GenerateRequest(requestID: "\($0)", prompt: .text("x"), maxNewTokens: 1) },
            onEvent: { index, _ in Issue.record("no job was sent, yet job \(index) had an event") })
        #expect(end.sent == 0 && end.unanswered.isEmpty, "\(end)")
    }
}
