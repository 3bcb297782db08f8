import Cluster
import Testing

/// `l2s cluster`'s default thread split: the encoder gets every core, the decoders share them.
@Suite struct LocalClusterPlanTests {
    @Test(arguments: [
        (cores: 2, decoders: 2, encoder: 2, decoder: 1),
        (cores: 8, decoders: 2, encoder: 8, decoder: 4),
        (cores: 8, decoders: 3, encoder: 8, decoder: 2),
        (cores: 1, decoders: 4, encoder: 1, decoder: 1),
        (cores: 4, decoders: 1, encoder: 4, decoder: 4),
    ])
    func decodersShareTheCoresAndTheEncoderGetsThemAll(
        _ expected: (cores: Int, decoders: Int, encoder: Int, decoder: Int)
    ) {
        let threads = LocalCluster.Plan.threads(cores: expected.cores, decoders: expected.decoders)
        #expect(threads.encoder == expected.encoder)
        #expect(threads.decoder == expected.decoder)
    }
}
