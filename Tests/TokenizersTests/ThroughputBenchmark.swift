import Foundation
import Testing

@testable import Tokenizers

/// Encoding throughput on a large text; prints MB/s, asserts only correctness of the run. Enabled by
/// scripts/bench-tokenizers.sh, which writes the text and sets L2S_BENCH_TEXT (run it in release mode).
@Suite("Tokenizer throughput", .enabled(if: ProcessInfo.processInfo.environment["L2S_BENCH_TEXT"] != nil))
struct ThroughputBenchmark {
    @Test("encode MB/s", arguments: ["gpt2-tokenizer-json", "t5-spiece"])
    func throughput(layout: String) throws {
        let path = try #require(ProcessInfo.processInfo.environment["L2S_BENCH_TEXT"])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let megabytes = Double(text.utf8.count) / 1_000_000
        let tokenizer = try loadFixtureTokenizer(layout)

        var clock = ContinuousClock.now
        let whole = try tokenizer.encode(text)
        let wholeSeconds = (ContinuousClock.now - clock).seconds

        clock = ContinuousClock.now
        var count = 0
        for line in lines { count += try tokenizer.encode(line).count }
        let lineSeconds = (ContinuousClock.now - clock).seconds

        clock = ContinuousClock.now
        let decoded = try tokenizer.decode(whole, skipSpecialTokens: false)
        let decodeSeconds = (ContinuousClock.now - clock).seconds

        print(
            String(
                format: "bench %@: %.1f MB, %d tokens; encode whole text %.1f MB/s, per line (%d lines) %.1f MB/s, "
                    + "decode %.1f MB/s",
                layout, megabytes, whole.count, megabytes / wholeSeconds, lines.count, megabytes / lineSeconds,
                megabytes / decodeSeconds))
        #expect(count > 0)
        #expect(!decoded.isEmpty)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
