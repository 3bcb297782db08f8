import L2SProtoC

/// `l2s.TokenLogprob` and `l2s.TopLogprob` to and from their Swift values (`ChunkLogprob`, `ChunkTopLogprob`).
extension EnvelopeEncoder {
    /// The repeated `TokenLogprob` field of a chunk, allocated in `arena`.
    static func build(_ entries: [ChunkLogprob], _ arena: CArena, field: String) throws(WireError)
        -> UnsafeMutablePointer<UnsafeMutablePointer<L2s__TokenLogprob>?>?
    {
        var built: [UnsafeMutablePointer<L2s__TokenLogprob>?] = []
        built.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            var top: [UnsafeMutablePointer<L2s__TopLogprob>?] = []
            for (rank, alternative) in entry.top.enumerated() {
                let text = try arena.string(alternative.text, field: "\(field)[\(index)].top[\(rank)].text")
                top.append(
                    arena.message {
                        l2s__top_logprob__init($0)
                        $0.pointee.id = alternative.id
                        $0.pointee.logprob = alternative.logprob
                        $0.pointee.text = text
                    })
            }
            let text = try arena.string(entry.text, field: "\(field)[\(index)].text")
            let topArray = arena.pointerArray(top)
            built.append(
                arena.message {
                    l2s__token_logprob__init($0)
                    $0.pointee.id = entry.id
                    $0.pointee.logprob = entry.logprob
                    $0.pointee.n_top = top.count
                    $0.pointee.top = topArray
                    $0.pointee.text = text
                })
        }
        return arena.pointerArray(built)
    }
}

extension EnvelopeDecoder {
    /// The repeated `TokenLogprob` field of a chunk; strings are checked for UTF-8 like every other.
    static func logprobs(
        _ pointers: UnsafeMutablePointer<UnsafeMutablePointer<L2s__TokenLogprob>?>?, _ count: Int, field: String
    ) throws(WireError) -> [ChunkLogprob] {
        var entries: [ChunkLogprob] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let entryField = "\(field)[\(index)]"
            let value = try required(pointers?[index], entryField).pointee
            var top: [ChunkTopLogprob] = []
            top.reserveCapacity(value.n_top)
            for rank in 0..<value.n_top {
                let topField = "\(entryField).top[\(rank)]"
                let alternative = try required(value.top?[rank], topField).pointee
                top.append(
                    ChunkTopLogprob(
                        id: alternative.id, logprob: alternative.logprob,
                        text: try string(alternative.text, topField + ".text")))
            }
            entries.append(
                ChunkLogprob(
                    id: value.id, logprob: value.logprob, top: top, text: try string(value.text, entryField + ".text")))
        }
        return entries
    }
}
