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

/// How a model keeps the weights of its decoding-step layers (docs/kernels.md).
public enum WeightStorage: Sendable, Equatable {
    /// float16/bfloat16 step layers stay 16-bit, widened in registers, when the step kernel runs them (batch-invariant
    /// rows on a variant with hardware widening); everything else is float32. Same bits as `.float32`.
    case asStored
    /// Every weight widened to float32 at load.
    case float32
}

/// Strict weight loading: every tensor a model asks for must exist with the expected shape, and at the end every
/// tensor of the checkpoint must have been used or explicitly ignored (the ignored names are reported).
final class WeightLoader {
    let checkpoint: Checkpoint
    /// The row kernel of every dense layer this loader builds.
    let rowKernel: RowKernel
    /// Whether step layers stored as float16/bfloat16 stay 16-bit: asked for, run by the batch-invariant step kernel,
    /// and widened in hardware by the process's kernel variant (the baseline's software widening is slower than
    /// reading float32).
    let keepsHalfStepWeights: Bool
    private(set) var used: Set<String> = []

    init(_ checkpoint: Checkpoint, rowKernel: RowKernel, storage: WeightStorage = .asStored) {
        self.checkpoint = checkpoint
        self.rowKernel = rowKernel
        keepsHalfStepWeights =
            storage == .asStored && rowKernel == .batchInvariant && KernelVariant.process != .baseline
    }

    /// A dense layer with this loader's row kernel.
    func linear(weight: Tensor, bias: Tensor? = nil, layout: Linear.Layout = .outputsByInputs) -> Linear {
        Linear(weight: weight, bias: bias, layout: layout, rowKernel: rowKernel)
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

    /// An `nn.Linear` without bias: weight [outputs, inputs]. `steps`: a layer that decoding steps dominate, kept
    /// 16-bit when `keepsHalfStepWeights` and the checkpoint stores it so.
    func linear(_ name: String, inputs: Int, outputs: Int, steps: Bool = false) throws -> Linear {
        if steps, let half = try halfMatrix(name + ".weight", shape: [outputs, inputs]) {
            return Linear(halfWeight: half, rowKernel: rowKernel)
        }
        return linear(weight: try tensor(name + ".weight", shape: [outputs, inputs]))
    }

    /// Tensor `name` (of exactly `shape`) as 16-bit bits when `keepsHalfStepWeights` and it is stored F16/BF16.
    func halfMatrix(_ name: String, shape: [Int]) throws -> HalfMatrix? {
        guard keepsHalfStepWeights, checkpoint.shape(of: name) == shape, let half = try checkpoint.halfMatrix(name)
        else { return nil }
        used.insert(name)
        return half
    }

    /// Several `nn.Linear` layers over the same input fused into one (rows stacked), so one product computes all.
    /// `steps` as for `linear`; the layers stay 16-bit only when all of them are stored in the same 16-bit format.
    func fusedLinear(_ names: [String], inputs: Int, outputs: Int, steps: Bool = false) throws -> Linear {
        if steps, keepsHalfStepWeights {
            let halves = try names.compactMap { try halfMatrix($0 + ".weight", shape: [outputs, inputs]) }
            if halves.count == names.count, let format = halves.first?.format,
                halves.allSatisfy({ $0.format == format })
            {
                let stacked = try HalfMatrix(
                    format: format, shape: [names.count * outputs, inputs],
                    bits: halves.flatMap { $0.withUnsafeBufferPointer(Array.init) })
                return Linear(halfWeight: stacked, rowKernel: rowKernel)
            }
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(names.count * inputs * outputs)
        for name in names { scalars += try tensor(name + ".weight", shape: [outputs, inputs]).scalars }
        return linear(weight: try Tensor(shape: [names.count * outputs, inputs], scalars: scalars))
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
