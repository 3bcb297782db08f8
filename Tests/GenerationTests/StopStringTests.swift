import Foundation
import Generation
import Models
import TestSupport
import Testing

/// Stop strings with OpenAI's semantics (issue 14): the text ends before the first stop string, nothing after it is
/// released, and text that may start one is held back only until it cannot.
@Suite struct StopStringTests {
    /// Feeds `pieces` and returns each release, then the flush.
    func releases(_ stops: [String], _ pieces: [String]) -> (released: [String], flushed: String, stopped: Bool) {
        var matcher = StopMatcher(stops: stops)
        let released = pieces.map { matcher.add($0) }
        let stopped = matcher.stopped
        return (released, matcher.flush(), stopped)
    }

    @Test func textIsHeldBackOnlyWhileItMayStartAStopString() {
        let run = releases(["END"], ["ab", "cE", "N", "x", "yE"])
        #expect(run.released == ["ab", "c", "", "ENx", "y"])
        #expect(run.flushed == "E" && !run.stopped)
    }

    @Test func theTextEndsBeforeTheEarliestStopStringEvenAcrossPieces() {
        let run = releases(["cd", "bcdx", "zz"], ["ab", "c", "dzz", "more"])
        #expect(run.released.joined() == "ab")
        #expect(run.released[3] == "" && run.flushed == "" && run.stopped)
        // Two stop strings in one piece: the earlier one wins.
        #expect(releases(["zz", "b"], ["abzz"]).released == ["a"])
    }

    @Test func withoutStopStringsEveryPieceIsReleasedAsItComes() {
        let run = releases([], ["a", "", "b"])
        #expect(run.released == ["a", "", "b"] && run.flushed == "" && !run.stopped)
        // Empty stop strings (refused by validation anyway) never match.
        #expect(releases([""], ["a"]).released == ["a"])
    }

    @Test func aBundleJobStopsBeforeTheStopStringAndStreamsNothingAfterIt() throws {
        let generator = try BundleGenerator(bundle: try L2SBundle.load(directory: TestPaths.fixture("bundles/t5-add")))
        let reference = try #require(try ExpectedPrompt.load(bundle: "t5-add").first)
        let ids = try generator.tokenize(reference.text)
        let full = try generator.generate(promptIDs: ids, options: GenerationOptions(maxNewTokens: 8))
        // A stop string made of the middle of the full answer, spanning token boundaries.
        let characters = Array(full.text)
        #expect(characters.count >= 6, "answer \(full.text)")
        let stop = String(characters[3..<6])
        var streamed = ""
        let stopped = try generator.generate(
            promptIDs: ids, options: GenerationOptions(maxNewTokens: 8, stop: ["never", stop])
        ) { delta, _, _ in streamed += delta }
        let before = String(full.text[..<(try #require(full.text.range(of: stop))).lowerBound])
        #expect(stopped.text == before && streamed == before)
        #expect(stopped.finishReason == .stop)
        #expect(stopped.ids == Array(full.ids.prefix(stopped.ids.count)) && stopped.ids.count < full.ids.count)
        #expect(stopped.usage.completionTokens == stopped.ids.count)
    }

    @Test func optionsAreValidatedWithTheirNames() throws {
        func problem(_ options: GenerationOptions, tokenizer: Bool = true) -> String? {
            do {
                try options.validate(hasTokenizer: tokenizer)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(GenerationOptions(maxNewTokens: -1)) == "max_new_tokens must be >= 0, got -1")
        #expect(problem(GenerationOptions(stop: ["a", "b", "c", "d", "e"])) == "stop must be at most 4 strings, got 5")
        #expect(problem(GenerationOptions(stop: ["a", ""])) == "stop[1] must be 1-256 UTF-8 bytes, got 0 bytes")
        #expect(problem(GenerationOptions(stop: ["a"]), tokenizer: false)?.hasPrefix("stop must be empty") == true)
        #expect(problem(GenerationOptions(stop: ["a"])) == nil)
    }

    @Test func replayRefusesIdsThatEndTheJobAndAFinishedJobTakesNoToken() throws {
        var job = try TextGeneration(
            options: GenerationOptions(maxNewTokens: 2), eosTokenIDs: [1], tokenizer: nil, promptTokens: 3)
        try job.replay(5)
        #expect(throws: GenerationReplayError(ids: 2)) { try job.replay(6) }
        #expect(job.finishReason == .length && job.usage == Usage(promptTokens: 3, completionTokens: 2))
        #expect(throws: GenerationFinishedError(reason: .length)) { try job.next(from: [0, 1, 2]) }
    }
}
