/// Stop strings with OpenAI's semantics, checked incrementally: text is released only once no stop string can start
/// in it, the released text ends before the first stop string that occurs, and nothing after it is released.
/// Each `add` looks only at the held-back tail (shorter than the longest stop string) plus the new piece, never at
/// the whole text.
public struct StopMatcher: Sendable {
    /// The stop strings.
    public let stops: [String]
    /// Text not yet released: it ends with what may be the start of a stop string.
    private var held = ""
    /// Set once a stop string occurred.
    public private(set) var stopped = false

    /// A matcher for `stops` (none: every piece is released as it comes).
    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
    }

    /// Adds a piece of generated text; returns the text now safe to release. After a stop string occurs, returns the
    /// text before it and then nothing more.
    public mutating func add(_ piece: String) -> String {
        guard !stopped else { return "" }
        guard !stops.isEmpty else { return piece }
        held += piece
        if let match = firstMatch() {
            stopped = true
            let released = String(held[..<match])
            held = ""
            return released
        }
        let keep = longestStopPrefixSuffix()
        let cut = held.index(held.endIndex, offsetBy: -keep)
        let released = String(held[..<cut])
        held = String(held[cut...])
        return released
    }

    /// Releases what is held back, at the end of generation (no stop string can complete any more).
    public mutating func flush() -> String {
        defer { held = "" }
        return stopped ? "" : held
    }

    /// The start of the earliest stop string in `held` (the earliest start wins; among equal starts, any).
    private func firstMatch() -> String.Index? {
        stops.compactMap { held.range(of: $0)?.lowerBound }.min()
    }

    /// The length in characters of the longest suffix of `held` that is a proper prefix of some stop string.
    private func longestStopPrefixSuffix() -> Int {
        var best = 0
        for stop in stops {
            let limit = min(stop.count - 1, held.count)
            guard limit > best else { continue }
            for length in stride(from: limit, to: best, by: -1) where held.hasSuffix(stop.prefix(length)) {
                best = length
                break
            }
        }
        return best
    }
}
