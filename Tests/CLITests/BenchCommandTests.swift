import Foundation
import TestSupport
import Testing

/// `l2s bench` against a real local cluster (`l2s cluster`: router, encoder and decoder processes on 127.0.0.1)
/// on the tiny T5 fixture bundle. Only counts and orderings are checked, never timings.
@Suite(.serialized, .timeLimit(.minutes(2))) struct BenchCommandTests {
    let bundle = TestPaths.fixture("bundles/t5-add").path
    let l2s = TestPaths.l2sExecutable

    /// Starts `l2s cluster` on a free base port (another run may hold one; try a few), waits until it is ready.
    func startCluster(decoders: Int = 1, slots: Int = 4) throws -> (ServiceProcess, String) {
        var lastError: (any Error)?
        for _ in 0..<3 {
            let base = Int.random(in: 20_000...60_000)
            let cluster = try ServiceProcess(
                "cluster",
                [
                    "cluster", "--bundle", bundle, "--decoders", "\(decoders)",
                    "--slots", "\(slots)", "--threads", "1", "--base-port", "\(base)",
                ])
            do {
                let ready = try cluster.waitForEvent("ready", timeout: 60)
                return (cluster, try #require(ready["clients"] as? String))
            } catch {
                lastError = error
                cluster.terminate()
            }
        }
        throw try #require(lastError)
    }

    func bench(_ router: String, _ flags: [String]) throws -> (ProcessResult, [String: Any]) {
        let result = try ProcessRunner.run(
            l2s, ["bench", "--router", router, "--json", "--timeout", "60"] + flags,
            timeout: 90)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return (result, try #require(object, "stdout: \(result.stdout) stderr: \(result.stderr)"))
    }

    func number(_ object: [String: Any]?, _ key: String) -> Double {
        (object?[key] as? NSNumber)?.doubleValue ?? .nan
    }

    @Test func streamedRunWithRepeatsHasConsistentCounts() throws {
        let (cluster, router) = try startCluster(decoders: 2)
        defer { cluster.terminate() }
        let prompts = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-bench-\(UUID().uuidString)")
        try "hello world\nthe cat sat on the mat\na b c d\n".write(to: prompts, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: prompts) }
        let requests = 24
        let (result, report) = try bench(
            router,
            [
                "--prompts", prompts.path, "--requests", "\(requests)",
                "--concurrency", "6", "--max-new-tokens", "8", "--min-new-tokens", "8", "--repeat-fraction", "0.5",
                "--seed", "7", "--stream",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(number(report, "requests") == Double(requests))
        #expect(number(report, "ok") + number(report, "failed") == Double(requests))
        #expect(number(report, "failed") == 0, "\(report["errors"] ?? "")")
        #expect(number(report, "tokens") == Double(requests * 8), "--min-new-tokens fixes every answer's length")
        #expect(number(report, "tokens_per_s") > 0 && number(report, "wall_s") > 0)
        let latency = report["latency_ms"] as? [String: Any]
        let ttft = report["ttft_ms"] as? [String: Any]
        let order = ["p50", "p90", "p99", "max"].map { number(latency, $0) }
        #expect(order == order.sorted() && order.allSatisfy { $0 > 0 }, "\(order)")
        #expect(number(ttft, "p50") <= number(ttft, "p99"))
        #expect(number(ttft, "p99") <= number(latency, "max"), "the first token never comes after the last")
        // 8 tokens a job: 7 gaps each, none longer than a whole job.
        let gaps = report["itl_ms"] as? [String: Any]
        #expect(number(gaps, "p50") <= number(gaps, "p99") && number(gaps, "max") <= number(latency, "max"))
        // Every job looks its key up once: as a hit, a miss, or a wait on an identical encode in flight.
        let cache = report["cache"] as? [String: Any]
        #expect(number(cache, "hits") + number(cache, "misses") + number(cache, "coalesced") == Double(requests))
        let repeats = number(report, "repeats_planned")
        #expect(repeats > 0 && repeats < Double(requests))
        #expect(number(cache, "misses") == Double(requests) - repeats, "only fresh prompts reach the encoder")
        #expect(number(report, "served_from_cache") == number(cache, "hits"))
    }

    @Test func freshJobsBeyondThePromptListStillMissTheCache() throws {
        let (cluster, router) = try startCluster()
        defer { cluster.terminate() }
        let (result, report) = try bench(
            router,
            [
                "--input-ids", "5,6,7,1", "--requests", "5", "--concurrency", "1",
                "--max-new-tokens", "3",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(number(report, "ok") == 5)
        #expect(report["ttft_ms"] is NSNull && report["itl_ms"] is NSNull, "no token timings without --stream")
        let cache = report["cache"] as? [String: Any]
        #expect(number(cache, "misses") == 5 && number(cache, "hits") == 0, "\(cache ?? [:])")
    }

    @Test func aSilentRouterEndsTheRunAtTheTimeout() throws {
        let (result, report) = try bench(
            "tcp://127.0.0.1:1",
            [
                "--input-ids", "1,2", "--requests", "3",
                "--timeout", "0.3",
            ])
        #expect(result.status == 1)
        #expect(number(report, "ok") == 0 && number(report, "failed") == 3)
        #expect((report["errors"] as? [String: Int]) == ["client_timeout": 3])
        #expect(report["cache"] is NSNull && report["latency_ms"] is NSNull)
    }

    @Test(arguments: [
        (["--requests", "0", "--input-ids", "1"], "--requests"),
        (["--concurrency", "x", "--input-ids", "1"], "--concurrency"),
        (["--repeat-fraction", "1.5", "--input-ids", "1"], "--repeat-fraction"),
        (["--timeout", "0", "--input-ids", "1"], "--timeout"),
        (["--input-ids", "1,-2"], "--input-ids"),
        (["--prompts", "/nonexistent/prompts.txt"], "--prompts"),
        (["--input-ids", "1", "--min-new-tokens", "9", "--max-new-tokens", "4"], "--min-new-tokens"),
        ([String](), "--prompts"),
    ])
    func badFlagsAreUsageErrors(flags: [String], named flag: String) throws {
        let result = try ProcessRunner.run(l2s, ["bench", "--router", "tcp://127.0.0.1:1"] + flags)
        #expect(result.status == 64, "\(flags): \(result.stderr)")
        #expect(result.stderr.contains(flag), "\(flags): \(result.stderr)")
    }

    @Test func helpExplainsTheMeasures() throws {
        let result = try ProcessRunner.run(l2s, ["bench", "--help"])
        #expect(result.status == 0)
        for word in ["closed", "--repeat-fraction", "time to first token", "--timeout"] {
            #expect(result.stdout.contains(word), "\(word)")
        }
    }
}
