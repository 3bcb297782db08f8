import Testing
import Wire

/// Thousands of mutated valid messages: decoding must return a message or a `WireError`, never trap.
@Suite("Wire decoding of mutated input")
struct FuzzTests {
    enum Mutation: CaseIterable {
        case flipBits, truncateEnvelope, insertBytes, overwriteBytes, dropFrame, addFrame, resizeTensor, swapFrames
    }

    static func mutate(_ frames: [Frame], _ mutation: Mutation, _ random: inout SeededGenerator) -> [Frame] {
        guard !frames.isEmpty else {
            return [Frame([UInt8](repeating: 0, count: Int.random(in: 0...3, using: &random)))]
        }
        var result = frames
        var envelope = frames[0].bytes
        switch mutation {
        case .flipBits:
            for _ in 0...Int.random(in: 0..<4, using: &random) where !envelope.isEmpty {
                envelope[Int.random(in: envelope.indices, using: &random)] ^=
                    1 << UInt8.random(in: 0..<8, using: &random)
            }
            result[0] = Frame(envelope)
        case .truncateEnvelope:
            result[0] = Frame(envelope.prefix(Int.random(in: 0...envelope.count, using: &random)))
        case .insertBytes:
            let insertion = (0..<Int.random(in: 1...8, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            envelope.insert(contentsOf: insertion, at: Int.random(in: 0...envelope.count, using: &random))
            result[0] = Frame(envelope)
        case .overwriteBytes:
            for _ in 0..<Int.random(in: 1...6, using: &random) where !envelope.isEmpty {
                envelope[Int.random(in: envelope.indices, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            result[0] = Frame(envelope)
        case .dropFrame:
            result.remove(at: Int.random(in: result.indices, using: &random))
        case .addFrame:
            let extra = Frame(
                (0..<Int.random(in: 0...16, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            result.insert(extra, at: Int.random(in: 0...result.count, using: &random))
        case .resizeTensor:
            let last = result[result.count - 1].bytes
            let delta = Int.random(in: -3...3, using: &random)
            result[result.count - 1] = Frame(
                delta < 0 ? Array(last.dropLast(-delta)) : last + [UInt8](repeating: 0, count: delta))
        case .swapFrames:
            result.reverse()
        }
        return result
    }

    @Test("5000 mutated envelopes decode to a message or a typed error")
    func mutatedEnvelopes() throws {
        var random = SeededGenerator(seed: 0x5EED_0002_4021_6844)
        let valid = try WireSamples.all().map { try WireCodec.encode($0) }
        var decoded = 0
        var rejected: [String: Int] = [:]
        for _ in 0..<5000 {
            var frames = valid[Int.random(in: valid.indices, using: &random)]
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                frames = Self.mutate(frames, Mutation.allCases.randomElement(using: &random)!, &random)
            }
            do {
                let message = try WireCodec.decode(frames)
                // Whatever decodes must encode again (strings with NUL are the one allowed refusal).
                do {
                    _ = try WireCodec.encode(message)
                } catch .stringContainsNUL {}
                decoded += 1
            } catch {
                rejected[String(describing: error).prefix(while: { $0 != ":" && $0 != "(" }).description, default: 0] +=
                    1
            }
        }
        #expect(decoded > 0, "some mutations (e.g. flipped bits inside values) keep a valid message")
        #expect(rejected.values.reduce(0, +) > 2500, "most mutations must be rejected; got \(rejected)")
        #expect(rejected.count >= 6, "mutations should reach many distinct checks; got \(rejected)")
    }

    @Test("random bytes never decode as an envelope by accident")
    func randomFrames() {
        var random = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            let count = Int.random(in: 0...64, using: &random)
            let frames = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                Frame((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
            }
            #expect(throws: WireError.self) { try WireCodec.decode(frames) }
        }
    }
}
