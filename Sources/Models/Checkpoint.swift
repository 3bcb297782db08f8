import Foundation
import Numerics

/// A Hugging Face checkpoint directory: `config.json` plus `model.safetensors` or the shards listed in
/// `model.safetensors.index.json`. Tensor names are unique across shards.
public final class Checkpoint: Sendable {
    /// The directory.
    public let directory: URL
    let files: [SafetensorsFile]
    let locations: [String: Int]

    /// Opens and validates every safetensors file of the checkpoint in `directory`.
    public init(directory: URL) throws {
        self.directory = directory
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        var paths: [String]
        if FileManager.default.fileExists(atPath: single.path) {
            paths = [single.path]
        } else if FileManager.default.fileExists(atPath: index.path) {
            paths = try Self.shardPaths(index: index, directory: directory)
        } else {
            throw ModelError.noSafetensors(directory: directory.path)
        }
        var files: [SafetensorsFile] = []
        var locations: [String: Int] = [:]
        for path in paths {
            let file = try SafetensorsFile(path: path)
            for name in file.entries.keys {
                if let previous = locations[name] {
                    throw ModelError.duplicateTensor(name: name, firstPath: files[previous].path, secondPath: path)
                }
                locations[name] = files.count
            }
            files.append(file)
        }
        self.files = files
        self.locations = locations
    }

    private static func shardPaths(index: URL, directory: URL) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: index) } catch {
            throw ModelError.cannotOpen(path: index.path, reason: error.localizedDescription)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let map = object["weight_map"] as? [String: String]
        else { throw ModelError.invalidConfig(path: index.path, reason: "no \"weight_map\" object of strings") }
        return Set(map.values).sorted().map { directory.appendingPathComponent($0).path }
    }

    /// Every tensor name in the checkpoint.
    public var tensorNames: [String] { locations.keys.sorted() }

    /// The shape of tensor `name`, or nil when absent.
    public func shape(of name: String) -> [Int]? {
        locations[name].flatMap { files[$0].entries[name]?.shape }
    }

    /// Rank-2 tensor `name` as 16-bit bits when the checkpoint stores it as F16 or BF16, else nil.
    func halfMatrix(_ name: String) throws -> HalfMatrix? {
        guard let location = locations[name] else {
            throw ModelError.missingTensor(name: name, directory: directory.path)
        }
        return try files[location].halfMatrix(name)
    }

    /// Tensor `name` as float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let location = locations[name] else {
            throw ModelError.missingTensor(name: name, directory: directory.path)
        }
        return try files[location].tensor(name)
    }
}

/// How a model keeps the weights of its decoding-step layers (the dense layers run once per generated token, and
/// the output head) and, for `.int8` only, of its prompt-pass layers (encoders, cross-attention keys and values);
/// docs/kernels.md. Otherwise prompt-pass layers stay float32.
public enum WeightStorage: String, Sendable, Equatable, CaseIterable {
    /// float16/bfloat16 step layers stay 16-bit, widened in registers, when the step kernel runs them (batch-invariant
    /// rows on a variant with hardware widening); everything else is float32. Same bits as `.float32`.
    case asStored = "as-stored"
    /// Every weight widened to float32 at load.
    case float32
    /// Step layers converted to float16 at load (rounded to nearest when stored wider) and kept 16-bit.
    case float16
    /// Step layers converted to bfloat16 at load (rounded to nearest when stored wider) and kept 16-bit.
    case bfloat16
    /// Every dense layer quantised to int8 at load, one scale per output row (`Int8Matrix`), and multiplied with
    /// input rows quantised per call (`PackedInt8Matrix`), in decoding steps and prompt passes alike, as CTranslate2
    /// runs int8. Lossy, opt-in.
    case int8

    /// Whether results can differ from float32 weights' (a converted or quantised copy); such a choice is part of a
    /// decoder's numeric identity, like the kernel variant.
    public var changesResults: Bool { self == .float16 || self == .bfloat16 || self == .int8 }

    /// The 16-bit format step layers are converted to, if any.
    var halfFormat: HalfMatrix.Format? {
        switch self {
        case .float16: .float16
        case .bfloat16: .bfloat16
        default: nil
        }
    }
}

/// Strict weight loading: every tensor a model asks for must exist with the expected shape, and at the end every
/// tensor of the checkpoint must have been used or explicitly ignored (the ignored names are reported).
final class WeightLoader {
    let checkpoint: Checkpoint
    /// The row kernel of every dense layer this loader builds.
    let rowKernel: RowKernel
    /// How step layers are kept.
    let storage: WeightStorage
    /// Whether step layers stored as float16/bfloat16 stay 16-bit under `.asStored`: run by the batch-invariant step
    /// kernel and widened in hardware by the process's kernel variant (the baseline's software widening is slower
    /// than reading float32).
    let keepsHalfStepWeights: Bool
    private(set) var used: Set<String> = []

    init(_ checkpoint: Checkpoint, rowKernel: RowKernel, storage: WeightStorage = .asStored) {
        self.checkpoint = checkpoint
        self.rowKernel = rowKernel
        self.storage = storage
        keepsHalfStepWeights =
            storage == .asStored && rowKernel == .batchInvariant && KernelVariant.process != .baseline
    }

    /// A dense layer with this loader's row kernel.
    func linear(weight: Tensor, bias: Tensor? = nil, layout: Linear.Layout = .outputsByInputs) -> Linear {
        Linear(weight: weight, bias: bias, layout: layout, rowKernel: rowKernel)
    }

    /// A step layer over `weight` (float32) that `halfMatrix` did not keep 16-bit: int8 when `storage` says so,
    /// else float32.
    func stepLinear(weight: Tensor, bias: Tensor? = nil, layout: Linear.Layout = .outputsByInputs) throws -> Linear {
        storage == .int8
            ? try Linear(int8Weight: weight, bias: bias, layout: layout)
            : linear(weight: weight, bias: bias, layout: layout)
    }

    /// The output head tied to `table`: the table itself, or an int8 copy of it when `storage` is `.int8` (the table
    /// stays as it is for lookups).
    func tiedHead(_ table: EmbeddingTable) throws -> Linear {
        storage == .int8 ? try Linear(int8Weight: table.widened()) : table.tiedHead(rowKernel: rowKernel)
    }

    /// True when the checkpoint holds `name`.
    func contains(_ name: String) -> Bool { checkpoint.locations[name] != nil }

    /// Tensor `name`, which must have exactly `shape`.
    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let actual = checkpoint.shape(of: name) else {
            throw ModelError.missingTensor(name: name, directory: checkpoint.directory.path)
        }
        guard actual == shape else { throw ModelError.shapeMismatch(name: name, expected: shape, actual: actual) }
        used.insert(name)
        return try checkpoint.tensor(name)
    }

    /// An `nn.Linear` without bias: weight [outputs, inputs]. `steps`: a layer that decoding steps dominate, kept as
    /// `storage` says (16-bit as stored, converted, or int8); other layers are float32, or int8 with int8 inputs.
    func linear(_ name: String, inputs: Int, outputs: Int, steps: Bool = false) throws -> Linear {
        try fusedLinear([name], inputs: inputs, outputs: outputs, steps: steps)
    }

    /// Tensor `name` (of exactly `shape`) as 16-bit bits for a step layer: as stored when `keepsHalfStepWeights` and
    /// it is stored F16/BF16; converted when `storage` asks for a 16-bit format (in place when already stored so).
    func halfMatrix(_ name: String, shape: [Int]) throws -> HalfMatrix? {
        if let format = storage.halfFormat {
            if checkpoint.shape(of: name) == shape, let half = try checkpoint.halfMatrix(name), half.format == format {
                used.insert(name)
                return half
            }
            return HalfMatrix(converting: try tensor(name, shape: shape), to: format)
        }
        guard keepsHalfStepWeights, checkpoint.shape(of: name) == shape, let half = try checkpoint.halfMatrix(name)
        else { return nil }
        used.insert(name)
        return half
    }

    /// Several `nn.Linear` layers over the same input fused into one (rows stacked), so one product computes all.
    /// `steps` as for `linear`; under `.asStored` the layers stay 16-bit only when all of them are stored in the same
    /// 16-bit format.
    func fusedLinear(_ names: [String], inputs: Int, outputs: Int, steps: Bool = false) throws -> Linear {
        if steps, keepsHalfStepWeights || storage.halfFormat != nil {
            let halves = try names.compactMap { try halfMatrix($0 + ".weight", shape: [outputs, inputs]) }
            if halves.count == names.count, let format = halves.first?.format,
                halves.allSatisfy({ $0.format == format })
            {
                if halves.count == 1 { return Linear(halfWeight: halves[0], rowKernel: rowKernel) }
                let stacked = try HalfMatrix(
                    format: format, shape: [names.count * outputs, inputs],
                    bits: halves.flatMap { $0.withUnsafeBufferPointer(Array.init) })
                return Linear(halfWeight: stacked, rowKernel: rowKernel)
            }
        }
        let weight: Tensor
        if names.count == 1 {
            // One layer: its tensor as loaded (used in place from the mapped checkpoint when aligned), no copy.
            weight = try tensor(names[0] + ".weight", shape: [outputs, inputs])
        } else {
            var scalars: [Float] = []
            scalars.reserveCapacity(names.count * inputs * outputs)
            for name in names { scalars += try tensor(name + ".weight", shape: [outputs, inputs]).scalars }
            weight = try Tensor(shape: [names.count * outputs, inputs], scalars: scalars)
        }
        if steps { return try stepLinear(weight: weight) }
        return storage == .int8 ? try Linear(int8Weight: weight) : linear(weight: weight)
    }

    /// Checks that every tensor was used; unused ones for which `ignorable` holds are returned (sorted), any other
    /// unused tensor is an error listing them all.
    func finish(ignoring ignorable: (String) -> Bool) throws -> [String] {
        let unused = checkpoint.tensorNames.filter { !used.contains($0) }
        let unexpected = unused.filter { !ignorable($0) }
        guard unexpected.isEmpty else {
            throw ModelError.unexpectedTensors(names: unexpected, directory: checkpoint.directory.path)
        }
        return unused
    }
}
