import Testing
import Wire

@testable import Cluster

/// The load generator's workload plan and its percentiles; the runs themselves are tested end to end in CLITests.
@Suite struct LoadGeneratorTests {
    static let prompts: [Prompt] = ["a", "b", "c", "d"].map { .text($0) }

    static func workload(requests: Int, repeatFraction: Double, seed: UInt64 = 1) -> LoadGenerator.Workload {
        LoadGenerator.Workload(
            prompts: prompts, requests: requests, concurrency: 1, maxNewTokens: 4,
            repeatFraction: repeatFraction, seed: seed)
    }

    struct Key: Hashable {
        let prompt: Int
        let salt: [UInt8]
    }

    @Test func freshJobsNeverShareAKeyEvenPastTheEndOfThePromptList() {
        let plan = LoadGenerator.plan(Self.workload(requests: 10, repeatFraction: 0))
        #expect(plan.allSatisfy { !$0.isRepeat })
        #expect(plan.map(\.promptIndex) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
        #expect(Set(plan.map { Key(prompt: $0.promptIndex, salt: $0.salt) }).count == 10)
        #expect(plan.prefix(4).allSatisfy { $0.salt.isEmpty }, "the first round sends the prompts unsalted")
    }

    @Test(arguments: [0.5, 0.9])
    func repeatsReuseEarlierKeysAtTheRequestedRate(fraction: Double) {
        let plan = LoadGenerator.plan(Self.workload(requests: 2000, repeatFraction: fraction))
        #expect(!plan[0].isRepeat, "the first job has nothing to repeat")
        var seen = Set<Key>()
        for request in plan {
            let key = Key(prompt: request.promptIndex, salt: request.salt)
            #expect(request.isRepeat == seen.contains(key))
            seen.insert(key)
        }
        let observed = Double(plan.filter(\.isRepeat).count) / Double(plan.count)
        #expect(abs(observed - fraction) < 0.05, "\(observed)")
    }

    @Test func theSeedFixesThePlan() {
        let one = LoadGenerator.plan(Self.workload(requests: 200, repeatFraction: 0.5, seed: 3))
        #expect(one == LoadGenerator.plan(Self.workload(requests: 200, repeatFraction: 0.5, seed: 3)))
        #expect(one != LoadGenerator.plan(Self.workload(requests: 200, repeatFraction: 0.5, seed: 4)))
    }

    @Test func percentilesAreNearestRank() throws {
        let percentiles = try #require(LoadReport.Percentiles((1...100).reversed().map(Double.init)))
        #expect([percentiles.p50, percentiles.p90, percentiles.p99, percentiles.max] == [50, 90, 99, 100])
        #expect(percentiles.mean == 50.5)
        let one = try #require(LoadReport.Percentiles([7]))
        #expect([one.p50, one.p99, one.max] == [7, 7, 7])
        #expect(LoadReport.Percentiles([]) == nil)
    }

    @Test func errorCodesAreSnakeCase() {
        #expect(LoadGenerator.name(of: .deadlineExceeded) == "deadline_exceeded")
        #expect(LoadGenerator.name(of: .overloaded) == "overloaded")
    }
}
