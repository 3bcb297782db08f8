import Models
import Numerics

/// `--weights`: how `run`, `encoder` and `decoder` keep a model's weights (docs/kernels.md), and the numeric identity a
/// decoder announces with it.
enum WeightFlags {
    /// The option, as `run`, `encoder` and `decoder` list it.
    static let option = OptionSpec(
        "--weights", value: "W",
        help: "decoding-step layers kept as-stored (16-bit stays 16-bit) or converted at load to float32, float16 or "
            + "bfloat16; or int8: every dense layer int8 with per-row scales, prompt passes as int8 products (lossy, "
            + "opt-in; docs/kernels.md)",
        default: WeightStorage.asStored.rawValue, env: "L2S_WEIGHTS")

    /// The storage `--weights` names; a usage error lists the choices.
    static func storage(_ arguments: ParsedArguments) throws -> WeightStorage {
        let value = arguments.string("--weights") ?? WeightStorage.asStored.rawValue
        guard let storage = WeightStorage(rawValue: value) else {
            let names = WeightStorage.allCases.map(\.rawValue).joined(separator: ", ")
            throw UsageError("option '--weights' must be one of \(names), got '\(value)'")
        }
        return storage
    }

    /// What fixes a decoder's bits besides the bundle: the kernel variant, plus the weight storage when it changes
    /// results ("avx512", "avx512/int8"). The router resumes a job only on a decoder of the same identity.
    static func numericIdentity(_ storage: WeightStorage) -> String {
        let variant = KernelVariant.process.rawValue
        return storage.changesResults ? "\(variant)/\(storage.rawValue)" : variant
    }
}
