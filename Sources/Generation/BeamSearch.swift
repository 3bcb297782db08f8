import Foundation

/// Beam search settings, named and defaulted as transformers' `generate` names them.
public struct BeamOptions: Sendable, Equatable {
    /// transformers' `early_stopping`: when a beam job may stop before `max_new_tokens`.
    public enum EarlyStopping: String, Sendable, Equatable, CaseIterable {
        /// `False` (the default): stop when the best running beam, scored at its current length, cannot beat the
        /// worst of `numBeams` finished ones.
        case heuristic = "false"
        /// `True`: stop as soon as `numBeams` sequences are finished.
        case always = "true"
        /// `"never"`: the canonical rule; with a positive length penalty the running beam is scored at
        /// `max_new_tokens`, the best it could still reach.
        case never
    }

    /// Beams kept per step (`num_beams`); 1 is not beam search.
    public var numBeams: Int
    /// Exponent of the length the finished scores are divided by (`length_penalty`): > 0 favours longer sequences.
    public var lengthPenalty: Float
    /// When the search may end early.
    public var earlyStopping: EarlyStopping
    /// Finished sequences returned, best first (`num_return_sequences`, at most `numBeams`).
    public var numReturnSequences: Int

    /// The most beams a job may ask for.
    public static let maxBeams = 16

    /// Settings; the defaults are transformers' (and mean no beam search).
    public init(
        numBeams: Int = 1, lengthPenalty: Float = 1, earlyStopping: EarlyStopping = .heuristic,
        numReturnSequences: Int = 1
    ) {
        self.numBeams = numBeams
        self.lengthPenalty = lengthPenalty
        self.earlyStopping = earlyStopping
        self.numReturnSequences = numReturnSequences
    }

    /// No beam search.
    public static let off = BeamOptions()

    /// Whether these settings run beam search.
    public var isOn: Bool { numBeams > 1 }
}

/// One job's beam search, as transformers' `_beam_search` runs it (generation/utils.py, 5.x), apart from the
/// model: each step takes the log-softmax of every running beam's logits, applies the logits processors to it
/// (`TokenSampler.process`), adds the beam's score and keeps the best `(1 + number of EOS ids) * numBeams`
/// continuations over all beams. Those that end (an EOS id, or `max_new_tokens` reached) and rank among the first
/// `numBeams` join the finished ones, scored `sum of log-probabilities / length ** length_penalty`; the best
/// `numBeams` that do not end run on. Ties go to the lower beam, then the lower id.
///
/// The caller owns the rows (one `DecodingSequence` per running beam): `advance` takes each row's logits and says
/// which row each next beam extends with which token (`BeamRows.reorder` forks the rows accordingly), until the
/// search `isFinished`. At the start all `numBeams` beams share the one row the prompt made; the first beam scores
/// 0 and the others -1e9, as in transformers, so the first step's candidates all come from one row.
public struct BeamSearch: Sendable {
    /// A finished sequence and its length-penalised score.
    public struct Hypothesis: Sendable, Equatable {
        /// The generated ids, the EOS that ended it included.
        public var ids: [Int32]
        /// Sum of the processed log-probabilities of `ids`, divided by `ids.count ** length_penalty`.
        public var score: Float
    }

    /// Which row a next-step beam extends, and with what.
    public struct Extension: Sendable, Equatable {
        /// Index of the current row it continues.
        public let parent: Int
        /// The token it appends.
        public let token: Int32
    }

    private struct Beam {
        var ids: [Int32]
        var score: Float
        var row: Int
    }

    private struct Candidate {
        var score: Float
        var beam: Int
        var token: Int32
    }

    /// The settings in effect.
    public let beams: BeamOptions
    private let sampler: TokenSampler
    private let maxNewTokens: Int
    private let contextPrefix: [Int32]
    private let eos: Set<Int32>
    private let candidatesKept: Int
    private var running: [Beam]
    /// Finished sequences, best first, at most `numBeams`.
    public private(set) var finished: [Hypothesis] = []
    private var mayImprove = true
    /// Set when the search is over; `hypotheses` then holds the result.
    public private(set) var isFinished: Bool

    /// A search for `beams` (valid, `numBeams >= 2`) with `sampler`'s processors (greedy: beam search never
    /// samples), ending at `maxNewTokens` or the sampler's EOS ids; `contextPrefix` is what the penalties see
    /// before the first new id.
    public init(beams: BeamOptions, sampler: TokenSampler, maxNewTokens: Int, contextPrefix: [Int32]) {
        self.beams = beams
        self.sampler = sampler
        self.maxNewTokens = maxNewTokens
        self.contextPrefix = contextPrefix
        eos = Set(sampler.eosTokenIDs)
        candidatesKept = max(2, 1 + sampler.eosTokenIDs.count) * beams.numBeams
        running = (0..<beams.numBeams).map { Beam(ids: [], score: $0 == 0 ? 0 : -1e9, row: 0) }
        isFinished = maxNewTokens <= 0
    }

    /// Rows the next `advance` expects logits for.
    public var rowCount: Int { (running.map(\.row).max() ?? 0) + 1 }

    /// The returned sequences, best first: `numReturnSequences` of them once finished (one empty sequence when
    /// `maxNewTokens` is 0).
    public var hypotheses: [Hypothesis] {
        if finished.isEmpty { return [Hypothesis(ids: [], score: 0)] }
        return Array(finished.prefix(beams.numReturnSequences))
    }

    /// One step: `rowLogits[r]` are the raw logits of row r. Returns the extensions that make the next rows (row i of
    /// the next step is `extensions[i]`), or none when the search just finished.
    public mutating func advance(rowLogits: [[Float]]) -> [Extension] {
        precondition(!isFinished && rowLogits.count == rowCount, "advance needs one logits row per beam row")
        let length = running[0].ids.count + 1
        let candidates = topCandidates(rowLogits: rowLogits)
        let ends = candidates.map { eos.contains($0.token) || length >= maxNewTokens }

        // The best `numBeams` candidates that do not end run on (transformers adds -1e9 to those that end).
        let next = candidates.indices.map { (index: $0, score: candidates[$0].score + (ends[$0] ? -1e9 : 0)) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
            .prefix(beams.numBeams)

        // Candidates that end among the first `numBeams` join the finished ones.
        let divisor = Float(pow(Double(length), Double(beams.lengthPenalty)))
        var merged = finished
        for index in 0..<min(beams.numBeams, candidates.count) where ends[index] {
            let candidate = candidates[index]
            merged.append(
                Hypothesis(ids: running[candidate.beam].ids + [candidate.token], score: candidate.score / divisor))
        }
        finished = Array(
            merged.enumerated().sorted {
                $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset
            }
            .map(\.element).prefix(beams.numBeams))

        let nextBeams = next.enumerated().map { row, pick in
            let candidate = candidates[pick.index]
            return (
                Beam(ids: running[candidate.beam].ids + [candidate.token], score: pick.score, row: row),
                Extension(parent: running[candidate.beam].row, token: candidate.token)
            )
        }
        running = nextBeams.map(\.0)

        // Could a running beam still beat the worst finished one? (transformers' `_check_early_stop_heuristic`: while
        // fewer than `numBeams` are finished, the worst is -1e9.)
        let allFinished = finished.count == beams.numBeams
        let worst = allFinished ? finished[finished.count - 1].score : -1e9
        let hypothetical = beams.earlyStopping == .never && beams.lengthPenalty > 0 ? maxNewTokens : length
        let best = running[0].score / Float(pow(Double(hypothetical), Double(beams.lengthPenalty)))
        if !(best > worst) { mayImprove = false }
        if !mayImprove || (allFinished && beams.earlyStopping == .always) || ends.allSatisfy({ $0 }) {
            isFinished = true
            return []
        }
        return nextBeams.map(\.1)
    }

    /// The best `candidatesKept` continuations over every running beam: processed log-probability plus the beam's
    /// score, highest first, ties to the lower beam, then the lower id.
    private func topCandidates(rowLogits: [[Float]]) -> [Candidate] {
        var best: [Candidate] = []
        best.reserveCapacity(candidatesKept + 1)
        var processedRows: [Int: [Float]] = [:]
        for (beamIndex, beam) in running.enumerated() {
            let scores: [Float]
            if let cached = processedRows[beam.row] {
                scores = cached
            } else {
                var logProbabilities = LogSoftmax.apply(rowLogits[beam.row])
                sampler.process(&logProbabilities, step: beam.ids.count, context: contextPrefix + beam.ids)
                processedRows[beam.row] = logProbabilities
                scores = logProbabilities
            }
            for (token, value) in scores.enumerated() {
                let score = value + beam.score
                if best.count == candidatesKept {
                    // Later candidates come at higher (beam, token): a tie with the last kept one loses.
                    guard let last = best.last, score > last.score else { continue }
                    best.removeLast()
                }
                let position = best.firstIndex { score > $0.score } ?? best.count
                best.insert(Candidate(score: score, beam: beamIndex, token: Int32(token)), at: position)
            }
        }
        return best
    }
}

/// The rows of a beam job: after `BeamSearch.advance`, each next row continues its parent; the first child of a
/// parent takes the parent's sequence, later children fork it (before anything is appended).
public enum BeamRows {
    /// The next step's rows for `extensions`, from the current `rows`; a row no beam extends is dropped.
    public static func reorder<Row>(
        _ rows: [Row], extensions: [BeamSearch.Extension], fork: (Row) -> Row
    ) -> [Row] {
        var taken = Set<Int>()
        return extensions.map { step in
            taken.insert(step.parent).inserted ? rows[step.parent] : fork(rows[step.parent])
        }
    }
}

/// The log-softmax of a row of logits, as torch's `log_softmax`: x - max - log(sum(exp(x - max))).
public enum LogSoftmax {
    /// Log-probabilities of `logits` (a row of -inf stays -inf; NaN propagates).
    public static func apply(_ logits: [Float]) -> [Float] {
        guard let largest = logits.max(), largest.isFinite else { return logits.map { _ in -.infinity } }
        var total: Float = 0
        for value in logits { total += expf(value - largest) }
        let shift = largest + logf(total)
        return logits.map { $0 - shift }
    }
}
