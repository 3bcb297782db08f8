import Cluster
import Testing

@Suite struct EncodingCacheTests {
    @Test func missThenCoalesceThenHit() {
        let cache = EncodingCache<String, [Float]>(capacityBytes: 1000)
        guard case .miss = cache.lookup("a") else {
            Issue.record("first lookup must miss")
            return
        }
        guard case .inFlight = cache.lookup("a") else {
            Issue.record("second lookup must wait")
            return
        }
        cache.complete("a", value: [1, 2], bytes: 8)
        guard case .hit(let value) = cache.lookup("a") else {
            Issue.record("third lookup must hit")
            return
        }
        #expect(value == [1, 2])
        let stats = cache.statistics
        #expect(stats.hits == 1 && stats.misses == 1 && stats.coalesced == 1)
        #expect(stats.entries == 1 && stats.bytes == 8)
    }

    @Test func evictsLeastRecentlyUsedByBytes() {
        let cache = EncodingCache<Int, Int>(capacityBytes: 300)
        for key in 0..<3 {
            _ = cache.lookup(key)
            cache.complete(key, value: key, bytes: 100)
        }
        _ = cache.lookup(0)  // 0 becomes the most recent; 1 is now the oldest
        _ = cache.lookup(3)
        cache.complete(3, value: 3, bytes: 150)  // needs 150: evicts 1 and 2
        #expect(cache.contains(0) && cache.contains(3))
        #expect(!cache.contains(1) && !cache.contains(2))
        #expect(cache.statistics.evictions == 2)
        #expect(cache.statistics.bytes == 250)
    }

    @Test func valueLargerThanCapacityIsNotStoredButReleasesTheKey() {
        let cache = EncodingCache<Int, Int>(capacityBytes: 10)
        _ = cache.lookup(1)
        cache.complete(1, value: 1, bytes: 11)
        #expect(!cache.contains(1))
        #expect(!cache.isInFlight(1))
        guard case .miss = cache.lookup(1) else {
            Issue.record("must miss again")
            return
        }
    }

    @Test func failedEncodeIsAskedAgain() {
        let cache = EncodingCache<Int, Int>(capacityBytes: 10)
        _ = cache.lookup(7)
        cache.fail(7)
        guard case .miss = cache.lookup(7) else {
            Issue.record("must miss after failure")
            return
        }
        #expect(cache.statistics.misses == 2)
    }
}

@Suite struct WorkerPoolTests {
    @Test func neverAssignsBeyondCreditsAndPrefersLeastLoaded() {
        var pool = WorkerPool<String>()
        let now = ContinuousClock.now
        pool.join("a", capacity: 2, now: now)
        pool.join("b", capacity: 2, now: now)
        #expect(pool.assign(now: now) == nil)  // no credits yet
        pool.grant("a", credits: 2)
        pool.grant("b", credits: 5)  // clamped to capacity 2
        var counts: [String: Int] = [:]
        while let id = pool.assign(now: now) { counts[id, default: 0] += 1 }
        #expect(counts == ["a": 2, "b": 2])
        pool.finished("a")
        pool.grant("a", credits: 1)
        #expect(pool.assign(now: now) == "a")
    }

    /// A preferred worker (the decoder that has a prompt's start cached) wins while it holds fewer than
    /// `affinitySlack` jobs more than the least loaded, and only while it is eligible.
    @Test func aPreferredWorkerWinsWithinTheSlack() {
        var pool = WorkerPool<String>()
        let now = ContinuousClock.now
        for id in ["a", "b"] {
            pool.join(id, capacity: 8, now: now)
            pool.grant(id, credits: 8)
        }
        let slack = WorkerPool<String>.affinitySlack
        let taken = (0..<slack + 1).map { _ in pool.assign(now: now, preferring: "b") }
        #expect(taken == [String](repeating: "b", count: slack) + ["a"])
        #expect(pool.assign(now: now, avoiding: ["b"], preferring: "b") == "a")
        pool.drain("b")
        #expect(pool.assign(now: now, preferring: "b") == "a")
    }

    @Test func silentWorkersAreReported() {
        var pool = WorkerPool<Int>()
        let start = ContinuousClock.now
        pool.join(1, capacity: 1, now: start)
        pool.join(2, capacity: 1, now: start)
        pool.heard(2, now: start + .seconds(5))
        #expect(pool.silent(since: start + .seconds(1)) == [1])
    }
}
