import Numerics

/// A sequence's start (its prefill) in units a decoder can interleave with the steps of running sequences, so that
/// admitting a job does not freeze them for its whole prompt pass. Running the units one by one or all at once gives
/// the same sequence, bit for bit. Not Sendable: it belongs to the thread that advances it.
public protocol SequencePrefill: AnyObject {
    /// Units left (T5: one per SLM encoder block, then one for the cross-attention K/V and the decoder start step).
    var unitsLeft: Int { get }
    /// The prompt positions each unit runs over (for a per-step budget in prompt tokens).
    var tokensPerUnit: Int { get }
    /// Runs up to `units` units (at least one); returns the started sequence, its first logits ready, once the last
    /// unit has run, else nil.
    func advance(units: Int) throws -> (any DecodingSequence)?
}

extension SequencePrefill {
    /// Runs every unit left and returns the started sequence.
    public func finish() throws -> any DecodingSequence {
        while true {
            if let sequence = try advance(units: max(1, unitsLeft)) { return sequence }
        }
    }
}

/// A prefill that runs in one unit: families whose start is not split (GPT-2's one pass over the prompt positions).
final class OneUnitPrefill: SequencePrefill {
    private let start: () throws -> any DecodingSequence
    private(set) var unitsLeft = 1
    let tokensPerUnit: Int

    /// The prefill that calls `start` once, over `tokens` prompt positions.
    init(tokens: Int, start: @escaping () throws -> any DecodingSequence) {
        tokensPerUnit = tokens
        self.start = start
    }

    func advance(units: Int) throws -> (any DecodingSequence)? {
        precondition(unitsLeft > 0, "prefill advanced after it finished")
        unitsLeft = 0
        return try start()
    }
}
