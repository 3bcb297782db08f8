import Wire

/// The checks a worker's reply must pass before the router caches or forwards it. Workers are peers like any
/// other: a confused or hostile one must not poison the cache or reach a client with what no honest decoder
/// could send. Each check names the field and both values; a failed check is the worker's fault.
enum ReplyValidation {
    /// Bytes the cache charges an entry on top of its tensor and prompt ids: the entry, its key, the encoding's
    /// strings and arrays (measured resident memory, docs/cluster.md).
    static let cacheEntryOverhead = 640

    /// What is wrong with `encoding` as the answer to `prompt` in a cluster pinned to `spec`, or nil.
    static func problem(with encoding: Encoding, for prompt: Prompt, spec: EncodingSpec) -> String? {
        let ids = encoding.promptIDs
        if ids.isEmpty { return "encoding.prompt_ids is empty" }
        if let index = ids.firstIndex(where: { $0 < 0 }) {
            return "encoding.prompt_ids[\(index)] is negative (\(ids[index]))"
        }
        if case .tokenIDs(let given) = prompt, given != ids {
            return "encoding.prompt_ids (\(ids.count) ids) differ from the prompt's token ids (\(given.count) ids)"
        }
        let tensor = encoding.tensor
        let shape = [ids.count, Int(spec.width)]
        if tensor.dtype != spec.dtype || tensor.shape != shape || encoding.projected != spec.projected {
            return
                "encoding is \(tensor.dtype) \(tensor.shape), \(encoding.projected ? "projected" : "not projected"); "
                + "the cluster's bundle ships \(spec.dtype.map { "\($0)" } ?? "?") \(shape), "
                + "\(spec.projected ? "projected" : "not projected")"
        }
        return valueProblem(tensor)
    }

    /// NaN, infinity, or nothing but zeros: no encoder of a real bundle produces these.
    static func valueProblem(_ tensor: Tensor) -> String? {
        let (exponentMask, magnitudeMask, width): (UInt32, UInt32, Int)
        switch tensor.dtype {
        case .float32: (exponentMask, magnitudeMask, width) = (0x7f80_0000, 0x7fff_ffff, 4)
        case .float16: (exponentMask, magnitudeMask, width) = (0x7c00, 0x7fff, 2)
        case .bfloat16: (exponentMask, magnitudeMask, width) = (0x7f80, 0x7fff, 2)
        }
        return tensor.bytes.withUnsafeBytes { bytes -> String? in
            var anyNonZero = false
            for index in 0..<(bytes.count / width) {
                let bits =
                    width == 4
                    ? bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self).littleEndian
                    : UInt32(bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self).littleEndian)
                if bits & exponentMask == exponentMask {
                    return "encoding value \(index) (row \(index / max(1, tensor.shape.last ?? 1))) is not finite"
                }
                if bits & magnitudeMask != 0 { anyNonZero = true }
            }
            return anyNonZero ? nil : "every value of the encoding is zero"
        }
    }

    /// The encoding as the cache keeps it: its tensor copied out of the receive buffer (a received frame may pin
    /// a larger ZeroMQ buffer), and the bytes it costs.
    static func compacted(_ encoding: Encoding) -> (Encoding, bytes: Int) {
        var copy = encoding
        let frame = encoding.tensor.bytes
        let bytes = Frame(count: frame.count) { destination in
            frame.withUnsafeBytes { destination.copyMemory(from: $0) }
        }
        if let tensor = try? Tensor(dtype: encoding.tensor.dtype, shape: encoding.tensor.shape, bytes: bytes) {
            copy.tensor = tensor
        }
        return (copy, frame.count + encoding.promptIDs.count * 4 + cacheEntryOverhead)
    }

    /// What is wrong with `chunk` from the decoder of `job`, or nil.
    static func problem(with chunk: TokenChunk, for job: RouterJob) -> String? {
        if let index = chunk.ids.firstIndex(where: { $0 < 0 }) {
            return "token_chunk.ids[\(index)] is negative (\(chunk.ids[index]))"
        }
        let total = job.streamed.count + chunk.ids.count
        let limit = Int(job.request.maxNewTokens)
        if total > limit { return "\(total) tokens generated; the job allows max_new_tokens \(limit)" }
        if chunk.textDelta.utf8.count > (chunk.ids.count + 1) * 1024 {
            return "token_chunk.text_delta is \(chunk.textDelta.utf8.count) bytes for \(chunk.ids.count) ids"
        }
        if let problem = logprobsProblem(with: chunk, top: job.request.logprobs) { return problem }
        switch chunk.finishReason {
        case .cancelled: return "finish_reason cancelled: only the router cancels jobs"
        case .length where total != limit:
            return "finish_reason length after \(total) tokens; max_new_tokens is \(limit)"
        default: return nil
        }
    }

    /// What is wrong with a chunk's logprobs for a job that asked for `top` alternatives (nil: none): one entry per
    /// id, naming that id, at most `top` alternatives, and texts no longer than a token's text could be.
    static func logprobsProblem(with chunk: TokenChunk, top: UInt32?) -> String? {
        guard let top else {
            return chunk.logprobs.isEmpty
                ? nil : "token_chunk.logprobs has \(chunk.logprobs.count) entries; the job asked for none"
        }
        if chunk.logprobs.count != chunk.ids.count {
            return "token_chunk.logprobs has \(chunk.logprobs.count) entries for \(chunk.ids.count) ids"
        }
        for (index, entry) in chunk.logprobs.enumerated() {
            if entry.id != chunk.ids[index] {
                return "token_chunk.logprobs[\(index)].id is \(entry.id); ids[\(index)] is \(chunk.ids[index])"
            }
            if entry.top.count > Int(top) {
                return "token_chunk.logprobs[\(index)] has \(entry.top.count) alternatives; the job asked for \(top)"
            }
            let longest = ([entry.text] + entry.top.map(\.text)).map(\.utf8.count).max() ?? 0
            if longest > 1024 { return "token_chunk.logprobs[\(index)] has a \(longest)-byte token text" }
        }
        return nil
    }
}
