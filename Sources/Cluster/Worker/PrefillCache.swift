import Models
import Wire

/// A decoder's started sequences of recent prompts, so that a repeated prompt skips the SLM's prefill (a T5 SLM's
/// encoder pass and cross-attention K/V; a GPT-2 pass over the prompt positions) as the router's cache lets it skip
/// the LLM's: a job starts from a fork of the cached start, which continues exactly as a fresh prefill would (forks
/// share the read-only cross-attention K/V). Entries are keyed by the router's prompt key, which covers the tenant
/// salt, so tenants never share one; an entry serves only a job whose prompt ids and encoding (dtype, shape, bytes)
/// are the very ones it was started from, so a peer that reuses a key for other inputs gets a fresh prefill, not
/// another prompt's answer. Bounded by bytes, least recently used out first. Only the compute thread uses it.
final class PrefillCache {
    private struct Entry {
        let promptIDs: [Int32]
        let encoding: Tensor
        /// Started and never stepped: every job forks it.
        let sequence: any DecodingSequence
    }

    private let entries: EncodingCache<PromptKey, Entry>

    /// A cache of at most `capacityBytes` of sequence state and encodings (0 turns it off).
    init(capacityBytes: Int) {
        entries = EncodingCache(capacityBytes: capacityBytes)
    }

    /// Whether it keeps anything.
    var isEnabled: Bool { entries.statistics.capacityBytes > 0 }
    /// Bytes held.
    var bytes: Int { entries.statistics.bytes }

    /// A sequence started for `encoding`'s prompt, forked from the entry under `key`, or nil when there is none for
    /// exactly these inputs.
    func start(key: PromptKey, encoding: Encoding) -> (any DecodingSequence)? {
        guard let entry = entries.value(for: key), entry.promptIDs == encoding.promptIDs,
            entry.encoding == encoding.tensor
        else { return nil }
        return entry.sequence.fork()
    }

    /// Keeps a fork of `sequence`, just started (not yet stepped) from `encoding`, under `key`.
    func store(_ sequence: any DecodingSequence, key: PromptKey, encoding: Encoding) {
        guard isEnabled else { return }
        let kept = sequence.fork()
        let bytes = kept.stateBytes + encoding.tensor.bytes.count + encoding.promptIDs.count * 4
        entries.complete(
            key, value: Entry(promptIDs: encoding.promptIDs, encoding: encoding.tensor, sequence: kept), bytes: bytes)
    }
}
