import Foundation
import TestSupport
import Testing

/// `l2s version` names the kernel variant and its int8 product's kernel; L2S_ISA forces a lower variant or falls back
/// to the best with a note.
@Suite struct KernelVariantCommandTests {
    let l2s = TestPaths.l2sExecutable

    func version(isa: String?) throws -> (object: [String: Any], stderr: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["L2S_ISA"] = isa
        let result = try ProcessRunner.run(l2s, ["version", "--json"], environment: environment)
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        return (object, result.stderr)
    }

    @Test func versionNamesTheBestVariantUnlessL2SISANamesAnother() throws {
        let best = try version(isa: nil)
        let supported = try #require(best.object["kernels_supported"] as? [String])
        #expect(supported.first == "baseline")
        #expect(best.object["kernels"] as? String == supported.last)
        for variant in supported {
            let forced = try version(isa: variant)
            #expect(forced.object["kernels"] as? String == variant)
            #expect(forced.stderr.isEmpty)
            let int8 = forced.object["int8_product"] as? String
            #expect(variant == "baseline" ? int8 == "portable" : int8 == "avx2" || int8 == "vnni", "\(variant)")
        }
        let unknown = try version(isa: "sse9")
        #expect(unknown.object["kernels"] as? String == supported.last)
        #expect(unknown.stderr.contains("L2S_ISA='sse9' is not one of baseline, avx2, avx512"))
        for variant in ["avx2", "avx512"] where !supported.contains(variant) {
            let lacking = try version(isa: variant)
            #expect(lacking.object["kernels"] as? String == supported.last)
            #expect(lacking.stderr.contains("this CPU lacks it"))
        }
    }
}
