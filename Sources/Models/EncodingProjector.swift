import Foundation
import Numerics

// The decoder's half of docs/bundle.md "Reference forward" step 4 (scripts/l2s_py/reference.py): what a decoder
// does with the encoding it receives before forming S. `projector.runs_on: encoder` ships Z = wire(P), used as
// received. `projector.runs_on: decoder` ships Hw = wire(H) [m, d_llm], an encoding that does not depend on the
// projector (so SLM bundles trained on one frozen LLM could share it); the decoder then computes Z = projector(Hw) in
// float32 and uses it unrounded. The in-process path (`BundleGenerator`) goes through this same code, so it equals
// the cluster.

/// Turns an encoding as a decoder receives it (widened to float32 from the wire dtype) into Z [m, d_slm]: as is when
/// the projector runs on the encoder, projector(Hw) when it runs here. Read-only after loading and safe to share.
public final class EncodingProjector: Sendable {
    /// Where the bundle runs the projector, hence what the received encoding is.
    public let placement: ProjectorPlacement
    /// Width of each received row: d_slm (Z) or d_llm (Hw).
    public let encodingWidth: Int
    /// The projector when it runs on the decoder; nil when the encoding arrives projected.
    public let projector: Projector?

    /// Reads `bundle`'s placement and, for `runs_on: decoder`, loads its projector.
    public init(bundle: L2SBundle) throws {
        placement = bundle.projectorRunsOn
        encodingWidth = bundle.encodingWidth
        switch placement {
        case .encoder:
            projector = nil
        case .decoder:
            projector = try Projector(bundle: bundle)
        }
    }

    /// Z [rows, d_slm] row-major from a received encoding [rows, encodingWidth] row-major. When the encoding is Z
    /// already it is returned as is (`ConditionedSLM.promptInputs` checks its size and values); Hw of another size is
    /// `inputShapeMismatch` naming d_llm, a NaN or infinity in it `nonFiniteInput`.
    public func projection(of encoding: [Float], rows: Int) throws -> [Float] {
        guard let projector else { return encoding }
        guard rows > 0 else { throw ModelError.emptyInput(what: "prompt") }
        guard encoding.count == rows * encodingWidth else {
            throw ModelError.inputShapeMismatch(
                what: "encoding Hw (floats of \(rows) prompt positions x d_llm \(encodingWidth); "
                    + "projector.runs_on decoder)",
                expected: [rows * encodingWidth], actual: [encoding.count])
        }
        // Hw may come off the wire: a NaN would pass through the projector into every logit.
        if let index = encoding.firstIndex(where: { !$0.isFinite }) {
            throw ModelError.nonFiniteInput(what: "encoding Hw", index: index, value: encoding[index])
        }
        return try projector.project(encoding, rows: rows)
    }

    /// What the received encoding must be, in words (for error messages).
    public var expectedEncoding: String {
        switch placement {
        case .encoder: return "runs_on encoder: Z, \(encodingWidth) floats (d_slm) per prompt position"
        case .decoder: return "runs_on decoder: Hw, \(encodingWidth) floats (d_llm) per prompt position"
        }
    }
}
