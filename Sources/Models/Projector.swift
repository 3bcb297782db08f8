import Foundation
import Numerics

// The LLM-to-SLM projector (arXiv 2402.16844; scripts/l2s_py/model.py `Projector`): Linear(d_in, d_out) -> ReLU ->
// Linear(d_out, d_out), stored in `projector.safetensors` as exactly four tensors in the nn.Linear convention.

/// Maps LLM encoder states H [m, d_in] to SLM embedding space P [m, d_out]. Read-only after loading.
public final class Projector: Sendable {
    /// The tensors of `projector.safetensors` and their shapes for given widths; nothing else may be in the file.
    static func expectedShapes(inputDimension: Int, outputDimension: Int) -> [(name: String, shape: [Int])] {
        [
            ("in_proj.weight", [outputDimension, inputDimension]), ("in_proj.bias", [outputDimension]),
            ("out_proj.weight", [outputDimension, outputDimension]), ("out_proj.bias", [outputDimension]),
        ]
    }

    /// Input width d_in (the LLM's d_model).
    public let inputDimension: Int
    /// Output width d_out (the SLM's embedding width).
    public let outputDimension: Int
    /// `in_proj.weight` [d_out, d_in], `in_proj.bias` [d_out]
    let inputLayer: Linear
    /// `out_proj.weight` [d_out, d_out], `out_proj.bias` [d_out]
    let outputLayer: Linear

    /// Loads the four tensors of `file` (F32, F16 or BF16, widened exactly), which must have exactly the shapes
    /// for `inputDimension` x `outputDimension`.
    public init(file: URL, inputDimension: Int, outputDimension: Int) throws {
        let safetensors = try SafetensorsFile(path: file.path)
        try Self.validate(safetensors, inputDimension: inputDimension, outputDimension: outputDimension)
        self.inputDimension = inputDimension
        self.outputDimension = outputDimension
        inputLayer = Linear(
            weight: try safetensors.tensor("in_proj.weight"), bias: try safetensors.tensor("in_proj.bias"))
        outputLayer = Linear(
            weight: try safetensors.tensor("out_proj.weight"), bias: try safetensors.tensor("out_proj.bias"))
    }

    /// Loads the projector of `bundle` (its file and the dimensions its manifest declares).
    public convenience init(bundle: L2SBundle) throws {
        try self.init(
            file: bundle.projectorFile, inputDimension: bundle.manifest.projector.inputDimension,
            outputDimension: bundle.manifest.projector.outputDimension)
    }

    /// Checks tensor names and shapes of a projector file (header only, no weights read).
    static func validate(_ file: SafetensorsFile, inputDimension: Int, outputDimension: Int) throws {
        let expected = expectedShapes(inputDimension: inputDimension, outputDimension: outputDimension)
        let extra = Set(file.entries.keys).subtracting(expected.map(\.name)).sorted()
        if let name = extra.first {
            throw ModelError.invalidBundle(
                path: file.path, field: name, expected: "only " + expected.map(\.name).joined(separator: ", "),
                actual: "extra tensor(s) \(extra.joined(separator: ", "))")
        }
        for (name, shape) in expected {
            guard let entry = file.entries[name] else {
                throw ModelError.invalidBundle(
                    path: file.path, field: name, expected: "shape \(shape)", actual: "missing")
            }
            guard entry.shape == shape else {
                throw ModelError.invalidBundle(
                    path: file.path, field: name, expected: "shape \(shape)", actual: "shape \(entry.shape)")
            }
        }
    }

    /// P = out_proj(relu(in_proj(H))) for `rows` rows of H [rows, d_in] row-major; returns [rows, d_out].
    public func project(_ h: [Float], rows: Int) throws -> [Float] {
        guard rows > 0 else { throw ModelError.emptyInput(what: "projector input") }
        guard h.count == rows * inputDimension else {
            throw ModelError.inputShapeMismatch(
                what: "projector input H (floats of \(rows) rows x d_in \(inputDimension))",
                expected: [rows * inputDimension], actual: [h.count])
        }
        var hidden = [Float](repeating: 0, count: rows * outputDimension)  // [rows, d_out]
        var output = [Float](repeating: 0, count: rows * outputDimension)  // [rows, d_out]
        h.withUnsafeBufferPointer { input in
            hidden.withUnsafeMutableBufferPointer { hiddenBuffer in
                inputLayer.apply(input.baseAddress!, rows: rows, into: hiddenBuffer.baseAddress!)
                Activation.relu.apply(hiddenBuffer.baseAddress!, count: rows * outputDimension)
                output.withUnsafeMutableBufferPointer {
                    outputLayer.apply(hiddenBuffer.baseAddress!, rows: rows, into: $0.baseAddress!)
                }
            }
        }
        return output
    }
}
