import Foundation
import Models
import Numerics
import TestSupport
import Testing

/// A float16 checkpoint's decoder keeps its step layers 16-bit (issue 11, item 3) and gives exactly the bits of
/// the same checkpoint widened to float32 at load, alone and batched, under every kernel variant.
@Suite struct HalfWeightModelTests {
    @Test(arguments: StepKernel.invariantVariants)
    func float16DecoderStepsEqualWidenAtLoad(kernel: StepKernel) throws {
        let fixture = try ModelFixture("t5_v10_f16")
        let kept = try T5Model(directory: fixture.directory)
        let widened = try T5Model(directory: fixture.directory, weights: .float32)
        // Every decoder layer but the cross K/V (a once-per-request product), plus the tied head (sharing the
        // 16-bit embedding table), when the process's variant widens in hardware; none on the baseline or when
        // float32 is asked for.
        let stepLayers = 6 * kept.configuration.decoderLayers + 1
        #expect(kept.decoder.sixteenBitLayers == (KernelVariant.process == .baseline ? 0 : stepLayers))
        #expect(widened.decoder.sixteenBitLayers == 0)
        let blas = try T5Model(directory: fixture.directory, rowKernel: .blas)
        #expect(blas.decoder.sixteenBitLayers == 0)
        try kernel.run {
            let prompts: [[Int32]] = [fixture.ids("prompt"), [5, 17, 33, 2], [4]]
            // The encoders read the same (exactly widened) embedding rows.
            #expect(try kept.encoder.embed(prompts[0]).scalars == widened.encoder.embed(prompts[0]).scalars)
            try expectLogitsEqual(kept, widened, prompts: prompts, steps: 6)
        }
    }
}
