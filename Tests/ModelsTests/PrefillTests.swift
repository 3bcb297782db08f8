import Models
import TestSupport
import Testing

/// A decoder interleaves a new job's prefill with its steps (`SequencePrefill`): run a unit at a time, the prefill
/// must start the very sequence `startSequence` starts, bit for bit, for each SLM family.
@Suite struct PrefillTests {
    @Test(arguments: ["t5-add", "gpt2-add"])
    func aPrefillRunUnitByUnitStartsTheSameSequence(bundle name: String) throws {
        let bundle = try L2SBundle.load(directory: TestPaths.fixture("bundles/\(name)"))
        let encoder = try PromptEncoder(bundle: bundle)
        let slm = try ConditionedSLM(bundle: bundle)
        let ids = try encoder.tokenize("these noisy witches test the nets")
        let encoding = try #require(try encoder.encodeRounded([ids]).first)
        let whole = try slm.startSequence(promptIDs: ids, encoding: encoding)

        let prefill = try slm.startPrefill(promptIDs: ids, encoding: encoding)
        #expect(prefill.tokensPerUnit == ids.count)
        let units = prefill.unitsLeft
        let t5Blocks = (slm.model as? T5Model)?.configuration.encoderLayers
        #expect(units == t5Blocks.map { $0 + 1 } ?? 1, "T5: a unit per encoder block and one to start decoding")
        var started: (any DecodingSequence)?
        var advances = 0
        while started == nil {
            started = try prefill.advance(units: 1)
            advances += 1
        }
        #expect(advances == units && prefill.unitsLeft == 0)
        let sequence = try #require(started)
        #expect(sequence.logits == whole.logits && sequence.position == whole.position)
        // And it steps on as the whole one does.
        try sequence.append(7)
        try whole.append(7)
        #expect(sequence.logits == whole.logits)
    }
}
