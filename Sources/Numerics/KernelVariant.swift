import CKernels
import Foundation

/// The instruction-set variant of l2s's own kernels (Sources/CKernels), chosen at run time; docs/kernels.md.
/// Each variant sums in its own fixed order (lane count, fused or separate multiply-add), so the variant is part
/// of a decoder's numeric identity: the same weights, prompt and variant give the same bits on any machine.
public enum KernelVariant: String, CaseIterable, Sendable, Comparable {
    /// Portable C, separate multiply and add (SSE2 on x86-64, NEON on arm64).
    case baseline
    /// AVX2 with FMA, 8 lanes.
    case avx2
    /// AVX-512F with FMA, 16 lanes.
    case avx512

    /// The stable number l2s_kernels.h gives the variant (what the C kernels take).
    public var code: Int32 {
        switch self {
        case .baseline: Int32(L2S_VARIANT_BASELINE)
        case .avx2: Int32(L2S_VARIANT_AVX2)
        case .avx512: Int32(L2S_VARIANT_AVX512)
        }
    }

    /// Whether this CPU (and OS) can run the variant.
    public var isSupported: Bool { l2s_variant_supported(code) != 0 }

    /// The variants this CPU can run, lowest first; always starts with `.baseline`.
    public static var supported: [KernelVariant] { allCases.filter(\.isSupported) }

    /// The highest variant this CPU can run.
    public static var best: KernelVariant { supported.last ?? .baseline }

    public static func < (lhs: KernelVariant, rhs: KernelVariant) -> Bool { lhs.code < rhs.code }

    /// The variant for `requested` (the value of `L2S_ISA`): nil or empty means the best supported; a variant the
    /// CPU lacks, or an unknown name, falls back to the best supported one with a `note` saying so.
    public static func resolve(_ requested: String?) -> (variant: KernelVariant, note: String?) {
        let available = supported
        let fallback = available.last ?? .baseline
        guard let requested, !requested.isEmpty else { return (fallback, nil) }
        guard let variant = KernelVariant(rawValue: requested.lowercased()) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            return (fallback, "L2S_ISA='\(requested)' is not one of \(names); using \(fallback.rawValue)")
        }
        guard available.contains(variant) else {
            let names = available.map(\.rawValue).joined(separator: ", ")
            return (
                fallback,
                "L2S_ISA=\(variant.rawValue): this CPU lacks it (it runs \(names)); using \(fallback.rawValue)"
            )
        }
        return (variant, nil)
    }

    /// The process's variant: `L2S_ISA` if set and supported, else the best supported. Resolved once, on first use;
    /// a fallback note goes to stderr then.
    public static let process: KernelVariant = {
        let (variant, note) = resolve(ProcessInfo.processInfo.environment["L2S_ISA"])
        if let note { FileHandle.standardError.write(Data("l2s: \(note)\n".utf8)) }
        return variant
    }()

    @TaskLocal static var scoped: KernelVariant?

    /// The variant kernels use now: the one `withVariant` set for this task, else `process`.
    public static var current: KernelVariant { scoped ?? process }

    /// Runs `body` with every kernel of this task on `variant` (tests compare variants in one process).
    /// `variant` must be supported.
    public static func withVariant<T>(_ variant: KernelVariant, _ body: () throws -> T) rethrows -> T {
        precondition(variant.isSupported, "kernel variant \(variant.rawValue) is not supported by this CPU")
        return try $scoped.withValue(variant, operation: body)
    }
}
