import Cluster
import Foundation
import TestSupport
import Testing
import Wire

/// The cluster as an operator runs it: `l2s router`, `l2s encoder` and `l2s decoder` as separate processes on
/// 127.0.0.1, driven by `l2s generate` and the Swift client. Every result must equal `l2s run --bundle`.
@Suite(.serialized, .timeLimit(.minutes(3))) struct EndToEndTests {
    static let bundle = TestPaths.fixture("bundles/t5-add").path
    static let otherBundle = TestPaths.fixture("bundles/t5-projection_only").path
    /// `projector.runs_on: decoder`: the encoder ships H [m, d_llm 32] and the decoder projects.
    static let decoderSideBundle = TestPaths.fixture("bundles/t5-add-decoder").path
    let fast = ["--heartbeat-ms", "200"]

    /// `l2s run --bundle` in-process: the reference every cluster result must equal.
    static func inProcess(_ prompt: String, _ flags: [String], bundle: String = bundle) throws -> String {
        let result = try ProcessRunner.run(
            TestPaths.l2sExecutable,
            ["run", "--bundle", bundle, prompt, "--json", "--threads", "1"] + flags)
        guard result.status == 0 else { throw EndToEndError.runFailed(result.stderr) }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func generate(_ cluster: Cluster, file lines: [String], _ flags: [String]) throws -> ProcessResult {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "l2s-prompts-\(UUID().uuidString).jsonl")
        try lines.joined(separator: "\n").write(to: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: path) }
        return try ProcessRunner.run(
            TestPaths.l2sExecutable,
            ["generate", "--router", cluster.clients, "--file", path.path, "--json"] + flags, timeout: 120)
    }

    static func jsonLine(prompt: String) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: ["prompt": prompt])
        return String(decoding: data, as: UTF8.self)
    }

    /// Ten prompts whose greedy ids on the fixture bundle all differ, so a result delivered to the wrong job shows
    /// (picked from the fixture grammar's sentences; the tests check they still differ).
    static let prompts = [
        "the knight worries these red elegant bells", "the drum walked the cruel planets eagerly",
        "these noisy witches test the nets", "some workers will wave the pilots", "this happy maid collected the ants",
        "some chairs press a secret tree", "the pilot tastes the flute badly",
        "this walrus points these brave cheetahs",
        "this shy poet missed these helmets", "this thin rough aunt pushed the king",
    ]

    /// The "ids" of one `l2s run --json` line (empty when the line is not such an object).
    static func ids(of line: String) -> [Int] {
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return object?["ids"] as? [Int] ?? []
    }

    @Test func fiftyConcurrentJobsOverTwoDecodersEqualInProcessRunsAndRepeatsHitTheCache() throws {
        let cluster = try Cluster()
        try cluster.addEncoder()
        try cluster.addDecoder()
        try cluster.addDecoder()
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 2)
        let flags = ["--max-new-tokens", "12", "--min-new-tokens", "6"]
        let expected = try Self.prompts.map { try Self.inProcess($0, flags) }
        #expect(Set(expected.map(Self.ids)).count == 10, "the ten references' ids differ")
        let jobs = (0..<50).map { Self.prompts[$0 % 10] }
        let result = try Self.generate(cluster, file: jobs.map(Self.jsonLine), flags + ["--concurrency", "50"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 50)
        for (index, line) in lines.enumerated() { #expect(line == expected[index % 10], "job \(index)") }
        let stats = try ClusterClient(router: cluster.clients).stats()
        #expect(stats.cache.misses == 10)
        #expect(stats.cache.hits + stats.cache.coalesced == 40)
        #expect(stats.workers.first { $0.role == .encoder }?.jobsDone == 10)
        #expect(stats.jobsDone == 50 && stats.jobsFailed == 0)
        let perDecoder = stats.workers.filter { $0.role == .decoder }.map(\.jobsDone)
        #expect(perDecoder.allSatisfy { $0 > 0 }, "both decoders work: \(perDecoder)")
    }

    @Test func aBundleProjectingOnTheDecoderServedThroughTheClusterEqualsInProcessRuns() throws {
        let cluster = try Cluster(bundle: Self.decoderSideBundle)
        try cluster.addEncoder(bundle: Self.decoderSideBundle)
        try cluster.addDecoder(bundle: Self.decoderSideBundle)
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        let flags = ["--max-new-tokens", "8"]
        let prompts = Array(Self.prompts.prefix(4))
        let expected = try prompts.map { try Self.inProcess($0, flags, bundle: Self.decoderSideBundle) }
        #expect(Set(expected.map(Self.ids)).count > 1, "the prompts' answers differ, so a mixed-up result shows")
        let jobs = prompts + prompts
        let result = try Self.generate(cluster, file: jobs.map(Self.jsonLine), flags + ["--concurrency", "8"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == jobs.count)
        for (index, line) in lines.enumerated() { #expect(line == expected[index % prompts.count], "job \(index)") }
        // What the router cached is H, not Z: m x 32 float16 values + m ids per prompt, plus 640 bytes of bookkeeping.
        let promptTokens = try expected.map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require((object["usage"] as? [String: Any])?["prompt_tokens"] as? Int)
        }
        let stats = try ClusterClient(router: cluster.clients).stats()
        let tokens: Int = promptTokens.reduce(0, +)
        let cachedBytes = UInt64(tokens * (32 * 2 + 4) + 4 * 640)
        #expect(stats.cache.entries == 4 && stats.cache.bytes == cachedBytes)
        #expect(stats.jobsDone == 8 && stats.jobsFailed == 0)
    }

    @Test func aRepeatedPromptNeverReachesTheEncoderTwiceAndSmallCachesEvict() throws {
        // Two prompts of 3 token ids each: 3 x 24 float16 + 3 ids + 640 bytes of bookkeeping = 796 bytes per encoding;
        // the cache (1048 bytes) holds one.
        let cluster = try Cluster(routerArguments: ["--cache-mb", "0.001"])
        try cluster.addEncoder()
        try cluster.addDecoder()
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        let client = try ClusterClient(router: cluster.clients)
        func ask(_ ids: [Int32], _ id: String) throws -> TokenChunk {
            try client.generate(GenerateRequest(requestID: id, prompt: .tokenIDs(ids), maxNewTokens: 5))
        }
        func encodes() throws -> UInt64? { try client.stats().workers.first { $0.role == .encoder }?.jobsDone }
        let first = try ask([5, 6, 7], "a")
        let second = try ask([5, 6, 7], "b")
        #expect(first.ids == second.ids && first.textDelta == second.textDelta)
        #expect(second.usage?.cachedEncoding == true && first.usage?.cachedEncoding == false)
        #expect(try client.stats().cache.hits == 1 && encodes() == 1)
        _ = try ask([8, 9, 10], "c")  // evicts [5, 6, 7]
        let again = try ask([5, 6, 7], "d")
        #expect(again.ids == first.ids && again.usage?.cachedEncoding == false)
        let stats = try client.stats()
        #expect(stats.cache.evictions == 2 && stats.cache.entries == 1, "\(stats.cache)")
        #expect(try encodes() == 3)
    }

    /// With `--stream-interval 7` the killed decoder also held up to 6 steps of each job's tokens, never sent: the
    /// next decoder generates them again, and the client sees the same ids and text.
    @Test(arguments: [1, 7]) func aDecoderKilledMidStreamLosesNothing(streamInterval: Int) throws {
        let decoderFlags = ["--stream-interval", "\(streamInterval)"]
        let cluster = try Cluster()
        try cluster.addEncoder()
        try cluster.addDecoder(slots: 4, decoderFlags)
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        let tokens = 1000
        let client = try ClusterClient(router: cluster.clients)
        let prompts = Array(Self.prompts.prefix(3))
        for (index, prompt) in prompts.enumerated() {
            try client.submit(
                GenerateRequest(
                    requestID: "\(index)", prompt: .text(prompt), maxNewTokens: UInt32(tokens),
                    minNewTokens: UInt32(tokens), stream: true))
        }
        var ids = [[Int32]](repeating: [], count: prompts.count)
        var text = [String](repeating: "", count: prompts.count)
        var finals: [Int: TokenChunk] = [:]
        var killed = false
        while finals.count < prompts.count {
            switch try client.nextEvent(timeout: .seconds(60)) {
            case .chunk(let chunk):
                let index = try #require(Int(chunk.requestID), "request id '\(chunk.requestID)'")
                ids[index] += chunk.ids
                text[index] += chunk.textDelta
                if !killed && ids.allSatisfy({ $0.count >= 5 }) {
                    #expect(finals.isEmpty, "the decoder dies while every job is mid-stream")
                    try cluster.addDecoder(slots: 4, decoderFlags)
                    cluster.decoders[0].kill9()
                    killed = true
                }
            case .finished(let chunk):
                let index = try #require(Int(chunk.requestID), "request id '\(chunk.requestID)'")
                ids[index] += chunk.ids
                text[index] += chunk.textDelta
                finals[index] = chunk
            case .failed(let error):
                Issue.record("job failed: \(error)")
                return
            }
        }
        #expect(killed)
        #expect(ids.allSatisfy { $0.count == tokens }, "every job ran to the end")
        for (index, prompt) in prompts.enumerated() {
            let expected = try Self.inProcess(
                prompt, ["--max-new-tokens", "\(tokens)", "--min-new-tokens", "\(tokens)"])
            let object = try JSONFields.object(expected)
            let expectedIDs = try JSONFields.field(object, "ids", as: [Int].self).map { Int32($0) }
            #expect(ids[index] == expectedIDs, "job \(index) ids")
            #expect(text[index] == (try JSONFields.field(object, "text", as: String.self)), "job \(index) text")
        }
        let stats = try client.stats()
        #expect(stats.workers.filter { $0.role == .decoder }.count == 1)
    }

    @Test func killedEncoderAndRestartedRouterAreRecoveredFrom() throws {
        let cluster = try Cluster()
        try cluster.addEncoder()
        try cluster.addDecoder()
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        let expected = try Self.inProcess("recovery", ["--max-new-tokens", "6"])

        cluster.encoders[0].kill9()
        _ = try cluster.waitForWorkers(encoders: 0, decoders: 1)
        try cluster.addEncoder()
        var result = try Self.generate(cluster, file: [Self.jsonLine(prompt: "recovery")], ["--max-new-tokens", "6"])
        #expect(result.stdout.trimmingCharacters(in: .newlines) == expected, "\(result.stderr)")

        try cluster.restartRouter()
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        result = try Self.generate(cluster, file: [Self.jsonLine(prompt: "recovery")], ["--max-new-tokens", "6"])
        #expect(result.stdout.trimmingCharacters(in: .newlines) == expected, "\(result.stderr)")
    }

    @Test func aRouterDyingMidStreamDoesNotWedgeTheWorkers() throws {
        let cluster = try Cluster()
        try cluster.addEncoder()
        try cluster.addDecoder(slots: 4)
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        let client = try ClusterClient(router: cluster.clients)
        for index in 0..<4 {
            try client.submit(
                GenerateRequest(
                    requestID: "\(index)", prompt: .text(Self.prompts[index]),
                    maxNewTokens: 4096, minNewTokens: 4096, stream: true))
        }
        guard case .chunk = try client.nextEvent(timeout: .seconds(30)) else {
            Issue.record("no chunk before the router died")
            return
        }
        // The decoder keeps producing chunks for jobs nobody will take; its link must drop them, not block.
        cluster.router.kill9()
        Thread.sleep(forTimeInterval: 1.5)
        try cluster.restartRouter()
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        let expected = try Self.inProcess("after the restart", ["--max-new-tokens", "6"])
        let result = try Self.generate(
            cluster, file: [Self.jsonLine(prompt: "after the restart")], ["--max-new-tokens", "6"])
        #expect(result.stdout.trimmingCharacters(in: .newlines) == expected, "\(result.stderr)")
    }

    /// Writes `text` to a fresh temporary file and returns its path (removed by the caller).
    static func temporaryFile(_ text: String) throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-curve-\(UUID().uuidString)")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test func withCURVEOnlyListedWorkersJoinAndClientsNeedTheRoutersKey() throws {
        func keygen() throws -> (String, String) {
            let keys = try ProcessRunner.run(TestPaths.l2sExecutable, ["keygen"])
            let pair = try JSONFields.object(keys.stdout)
            return (keys.stdout, try JSONFields.field(pair, "public"))
        }
        let (routerText, routerPublic) = try keygen()
        let (workerText, workerPublic) = try keygen()
        let (outsiderText, _) = try keygen()
        let files = try [routerText, workerText, workerPublic + "\n", outsiderText].map(Self.temporaryFile)
        defer { for file in files { try? FileManager.default.removeItem(at: file) } }
        let key = ["--curve-server-key", routerPublic]
        let cluster = try Cluster(routerArguments: [
            "--curve-secret-file", files[0].path, "--worker-keys", files[2].path,
        ])
        try cluster.addEncoder(key + ["--curve-secret-file", files[1].path])
        try cluster.addDecoder(slots: 2, key + ["--curve-secret-file", files[1].path])
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1, curveServerKey: routerPublic)
        let expected = try Self.inProcess("secret words", ["--max-new-tokens", "6"])
        let result = try Self.generate(
            cluster, file: [Self.jsonLine(prompt: "secret words")], ["--max-new-tokens", "6"] + key)
        #expect(result.stdout.trimmingCharacters(in: .newlines) == expected, "\(result.stderr)")

        // A peer that knows the router's key but whose own key is not listed (a client's) never joins as a worker.
        try cluster.addDecoder(slots: 2, key + ["--curve-secret-file", files[3].path])
        Thread.sleep(forTimeInterval: 1.5)
        let stats = try ClusterClient(router: cluster.clients, curveServerKey: routerPublic).stats()
        #expect(stats.workers.filter { $0.role == .decoder }.count == 1)
        #expect(cluster.router.log.contains("not in --worker-keys"), "\(cluster.router.log)")
        #expect(cluster.decoders[1].log.contains("refused this worker's CURVE handshake"), "\(cluster.decoders[1].log)")

        // Without the key nothing gets through: the handshake fails and the client hears nothing.
        let outsider = try ProcessRunner.run(
            TestPaths.l2sExecutable,
            ["stats", "--router", cluster.clients, "--timeout-ms", "500"])
        #expect(outsider.status == 1 && outsider.stderr.contains("no answer"), "\(outsider.stderr)")
        let wrongKey = try ProcessRunner.run(
            TestPaths.l2sExecutable,
            ["stats", "--router", cluster.clients, "--timeout-ms", "1000", "--curve-server-key", workerPublic])
        #expect(wrongKey.status == 1 && wrongKey.stderr.contains("handshake"), "\(wrongKey.stderr)")
        let badKey = try ProcessRunner.run(
            TestPaths.l2sExecutable,
            ["stats", "--router", cluster.clients, "--curve-server-key", "short"])
        #expect(badKey.status == 64 && badKey.stderr.contains("40 Z85"), "\(badKey.stderr)")
        let noWorkerKeys = try ProcessRunner.run(
            TestPaths.l2sExecutable,
            ["router", "--adopt-bundle", "--curve-secret-file", files[0].path])
        #expect(noWorkerKeys.status == 64 && noWorkerKeys.stderr.contains("--worker-keys"), "\(noWorkerKeys.stderr)")
    }

    /// `stats()` on a client with jobs in flight (what `l2s bench` does) must neither drop their chunks nor fail
    /// on another request's error: both are handed out by `nextEvent` afterwards.
    @Test func statsWhileJobsStreamLosesNoEvents() throws {
        let cluster = try Cluster()
        try cluster.addEncoder()
        try cluster.addDecoder()
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        let flags = ["--max-new-tokens", "300", "--min-new-tokens", "300"]
        let expected = Self.ids(of: try Self.inProcess(Self.prompts[0], flags))
        let client = try ClusterClient(router: cluster.clients)
        try client.submit(
            GenerateRequest(
                requestID: "long", prompt: .text(Self.prompts[0]), maxNewTokens: 300,
                minNewTokens: 300, stream: true))
        var ids: [Int32] = []
        var ghostError: ErrorReply?
        var statsCalls = 0
        while true {
            let event = try client.nextEvent(timeout: .seconds(30))
            if case .failed(let error) = event, error.requestID == "ghost" {
                ghostError = error
                continue
            }
            if case .chunk(let chunk) = event { ids += chunk.ids }
            guard case .finished(let chunk) = event else {
                if statsCalls < 20 {
                    // An error for another request ("ghost" is not in flight) arrives before the stats reply.
                    try client.cancel(requestID: "ghost")
                    _ = try client.stats()
                    statsCalls += 1
                }
                continue
            }
            ids += chunk.ids
            break
        }
        #expect(statsCalls == 20)
        #expect(ids.map(Int.init) == expected)
        #expect(ghostError?.code == .badRequest)
    }

    @Test func aFullQueueRefusesWithOverloadedAndEveryOtherJobCompletes() throws {
        let cluster = try Cluster(routerArguments: ["--max-queue", "2"])
        try cluster.addEncoder()
        try cluster.addDecoder(slots: 1)
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        let flags = ["--max-new-tokens", "400", "--min-new-tokens", "400"]
        let expected = try Self.inProcess(Self.prompts[0], flags)
        let result = try Self.generate(
            cluster, file: (0..<12).map { _ in try Self.jsonLine(prompt: Self.prompts[0]) },
            flags + ["--concurrency", "12"])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 12, "\(result.stderr)")
        let refused = lines.filter { $0.contains("overloaded") }
        let done = lines.filter { $0 == expected }
        #expect(refused.count >= 1, "some jobs are refused")
        #expect(refused.count + done.count == 12, "\(lines)")
        #expect(result.status == 1)
    }

    @Test func badWorkersAndBadPromptsGetClearErrorsWhileTheClusterServes() throws {
        let cluster = try Cluster()
        try cluster.addEncoder(["--max-prompt-tokens", "16"])
        try cluster.addDecoder()
        _ = try cluster.waitForWorkers(encoders: 1, decoders: 1)
        try cluster.addDecoder(bundle: Self.otherBundle)
        Thread.sleep(forTimeInterval: 1)
        let stats = try ClusterClient(router: cluster.clients).stats()
        #expect(stats.workers.filter { $0.role == .decoder }.count == 1, "the other bundle's decoder is refused")
        #expect(cluster.decoders[1].log.contains("bundle"), "\(cluster.decoders[1].log)")

        let long = String(repeating: "word ", count: 40)
        let result = try Self.generate(
            cluster, file: [Self.jsonLine(prompt: long), Self.jsonLine(prompt: "fine")],
            ["--max-new-tokens", "4"])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(result.stderr)")
        #expect(lines[0].contains("promptTooLong") && lines[0].contains("16"), "\(lines[0])")
        #expect(lines[1] == (try Self.inProcess("fine", ["--max-new-tokens", "4"])))
    }
}
