import Foundation
import Models
import Numerics
import TestSupport
import Testing

/// Broken checkpoints and configs must fail with a precise error, never crash.
@Suite final class CorruptInputTests {
    /// Every directory a test writes lives below this one, removed when the test ends.
    let root: URL = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-models-\(UUID().uuidString)")

    deinit { try? FileManager.default.removeItem(at: root) }

    func temporaryDirectory() throws -> URL {
        let url = root.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A checkpoint directory holding a copy of the gpt2_a config and the given safetensors bytes.
    func checkpoint(_ bytes: [UInt8], config: String? = nil) throws -> URL {
        let directory = try temporaryDirectory()
        try Data(bytes).write(to: directory.appendingPathComponent("model.safetensors"))
        let configData =
            try config.map { Data($0.utf8) }
            ?? Data(contentsOf: TestPaths.fixture("models/gpt2_a/config.json"))
        try configData.write(to: directory.appendingPathComponent("config.json"))
        return directory
    }

    func path(_ directory: URL) -> String { directory.appendingPathComponent("model.safetensors").path }

    @Test func truncatedFile() throws {
        let directory = try checkpoint([1, 2, 3])
        #expect(throws: ModelError.truncatedFile(path: path(directory), size: 3)) {
            try Checkpoint(directory: directory)
        }
    }

    @Test func headerLengthPastEndOfFile() throws {
        let directory = try checkpoint(safetensorsBytes(header: "{}", data: [], declaredLength: 1000))
        #expect(throws: ModelError.headerLengthOutOfRange(path: path(directory), headerLength: 1000, fileSize: 10)) {
            try Checkpoint(directory: directory)
        }
    }

    @Test func headerThatIsNotJSON() throws {
        let directory = try checkpoint(safetensorsBytes(header: "{not json", data: []))
        #expect {
            try Checkpoint(directory: directory)
        } throws: { error in
            guard case ModelError.invalidHeader(let reported, let reason)? = error as? ModelError else { return false }
            return reported == path(directory) && reason.hasPrefix("not JSON")
        }
    }

    @Test func offsetsOutOfRange() throws {
        let header =
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        let directory = try checkpoint(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 12)))
        #expect(
            throws: ModelError.offsetsOutOfRange(path: path(directory), tensor: "b", begin: 8, end: 16, dataSize: 12)
        ) {
            try Checkpoint(directory: directory)
        }
    }

    @Test func negativeOffsetsAndOverflowingShapes() throws {
        let negative = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#
        var directory = try checkpoint(safetensorsBytes(header: negative, data: [0, 0, 0, 0]))
        #expect(
            throws: ModelError.offsetsOutOfRange(path: path(directory), tensor: "a", begin: -4, end: 0, dataSize: 4)
        ) {
            try Checkpoint(directory: directory)
        }
        let huge = #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#
        directory = try checkpoint(safetensorsBytes(header: huge, data: [0, 0, 0, 0]))
        #expect(
            throws: ModelError.byteCountMismatch(
                path: path(directory), tensor: "a", dtype: "F32", shape: [4_294_967_296, 4_294_967_296], expected: -1,
                actual: 4)
        ) { try Checkpoint(directory: directory) }
    }

    @Test func overlappingTensors() throws {
        let header =
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let directory = try checkpoint(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 12)))
        #expect(throws: ModelError.overlappingTensors(path: path(directory), first: "a", second: "b")) {
            try Checkpoint(directory: directory)
        }
    }

    @Test func byteCountNotMatchingShape() throws {
        let header = #"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#
        let directory = try checkpoint(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)))
        #expect(
            throws: ModelError.byteCountMismatch(
                path: path(directory), tensor: "a", dtype: "F16", shape: [3], expected: 6, actual: 8)
        ) { try Checkpoint(directory: directory) }
    }

    @Test func unknownDtypeNamesTensorAndDtype() throws {
        let header =
            #"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"#
            + #""c":{"dtype":"Q4","shape":[1],"data_offsets":[8,9]}}"#
        let directory = try checkpoint(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 9)))
        let checkpoint = try Checkpoint(directory: directory)
        #expect(throws: ModelError.unsupportedDtype(path: path(directory), tensor: "a", dtype: "I64")) {
            try checkpoint.tensor("a")
        }
        #expect(throws: ModelError.unsupportedDtype(path: path(directory), tensor: "c", dtype: "Q4")) {
            try checkpoint.tensor("c")
        }
    }

    @Test func halfPrecisionTensorsAreConvertedToFloat32() throws {
        let header =
            #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"#
            + #""b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"#
            + #""f":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F, 0xA0, 0xC0, 0x00, 0x00, 0x20, 0x41]
        let checkpoint = try Checkpoint(directory: try checkpoint(safetensorsBytes(header: header, data: data)))
        #expect(try checkpoint.tensor("h").scalars == [1, -2])
        #expect(try checkpoint.tensor("b").scalars == [1, -5])
        #expect(try checkpoint.tensor("f").scalars == [10])
    }

    @Test func float32TensorsAreUsedInPlaceWhenAlignedAndCopiedOtherwise() throws {
        // Header padded with spaces to 8 bytes (as the safetensors writer does), so the data section is aligned.
        var header =
            #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"#
            + #""odd":{"dtype":"F32","shape":[1],"data_offsets":[2,6]},"#
            + #""even":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        while header.utf8.count % 8 != 0 { header += " " }
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0x00, 0x20, 0x41, 0, 0, 0x00, 0x00, 0x20, 0xC1]
        let checkpoint = try Checkpoint(directory: try checkpoint(safetensorsBytes(header: header, data: data)))
        let odd = try checkpoint.tensor("odd")
        let even = try checkpoint.tensor("even")
        #expect(odd.scalars == [10] && !odd.isBorrowed)
        #expect(even.scalars == [-10] && even.isBorrowed)
    }

    /// A copy of a fixture checkpoint whose tensors are rewritten by `edit` (name -> (dtype, shape, bytes)).
    func editedFixture(_ name: String, edit: (inout [String: (shape: [Int], bytes: [UInt8])]) -> Void) throws -> URL {
        let source = TestPaths.fixture("models/\(name)")
        let original = try Checkpoint(directory: source)
        var tensors: [String: (shape: [Int], bytes: [UInt8])] = [:]
        for tensorName in original.tensorNames {
            let tensor = try original.tensor(tensorName)
            tensors[tensorName] = (tensor.shape, tensor.scalars.withUnsafeBytes { Array($0) })
        }
        edit(&tensors)
        var header: [String] = []
        var data: [UInt8] = []
        for (tensorName, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
            header.append(
                #""\#(tensorName)":{"dtype":"F32","shape":\#(tensor.shape),"#
                    + #""data_offsets":[\#(data.count),\#(data.count + tensor.bytes.count)]}"#
            )
            data += tensor.bytes
        }
        let config = try String(contentsOf: source.appendingPathComponent("config.json"), encoding: .utf8)
        return try checkpoint(
            safetensorsBytes(header: "{" + header.joined(separator: ",") + "}", data: data), config: config)
    }

    @Test func mismatchedShapeNamesKeyAndBothShapes() throws {
        let directory = try editedFixture("t5_v10") { tensors in
            tensors["encoder.block.1.layer.0.SelfAttention.k.weight"] = (
                [25, 32], [UInt8](repeating: 0, count: 25 * 32 * 4)
            )
        }
        #expect(
            throws: ModelError.shapeMismatch(
                name: "encoder.block.1.layer.0.SelfAttention.k.weight", expected: [24, 32], actual: [25, 32])
        ) { try T5Model(directory: directory) }
    }

    @Test func missingAndUnexpectedTensors() throws {
        let missing = try editedFixture("gpt2_a") { $0["transformer.h.1.mlp.c_fc.bias"] = nil }
        #expect(throws: ModelError.missingTensor(name: "transformer.h.1.mlp.c_fc.bias", directory: missing.path)) {
            try GPT2Model(directory: missing)
        }
        let extra = try editedFixture("gpt2_a") { $0["transformer.h.7.surprise"] = ([1], [0, 0, 0, 0]) }
        #expect(throws: ModelError.unexpectedTensors(names: ["transformer.h.7.surprise"], directory: extra.path)) {
            try GPT2Model(directory: extra)
        }
        let buffers = try editedFixture("gpt2_a") { $0["transformer.h.0.attn.bias"] = ([1], [0, 0, 0, 0]) }
        #expect(try GPT2Model(directory: buffers).ignoredTensors == ["transformer.h.0.attn.bias"])
    }

    @Test func missingConfigKeyAndUnknownValues() throws {
        let source = TestPaths.fixture("models/t5_v10/config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any] ?? [:]
        func write(_ object: [String: Any]) throws -> URL {
            let directory = try temporaryDirectory()
            try JSONSerialization.data(withJSONObject: object).write(
                to: directory.appendingPathComponent("config.json"))
            try FileManager.default.copyItem(
                at: TestPaths.fixture("models/t5_v10/model.safetensors"),
                to: directory.appendingPathComponent("model.safetensors"))
            return directory
        }
        config["d_kv"] = nil
        var directory = try write(config)
        #expect(
            throws: ModelError.missingConfigKey(key: "d_kv", path: directory.appendingPathComponent("config.json").path)
        ) {
            try T5Model(directory: directory)
        }
        config["d_kv"] = 8
        config["feed_forward_proj"] = "gated-swish"
        config["dense_act_fn"] = nil
        directory = try write(config)
        #expect(
            throws: ModelError.unknownActivation(
                "swish", key: "feed_forward_proj", path: directory.appendingPathComponent("config.json").path)
        ) { try T5Model(directory: directory) }
        config["feed_forward_proj"] = "relu"
        config["relative_attention_num_buckets"] = 64
        config["relative_attention_max_distance"] = 32
        directory = try write(config)
        #expect(
            throws: ModelError.invalidConfigValue(
                key: "relative_attention_num_buckets", value: "64",
                path: directory.appendingPathComponent("config.json").path,
                expected: ">= 4, with relative_attention_max_distance (32) > buckets / 2")
        ) { try T5Model(directory: directory) }
        config["relative_attention_num_buckets"] = 8
        config["relative_attention_max_distance"] = 20
        config["num_heads"] = -3
        directory = try write(config)
        #expect(
            throws: ModelError.invalidConfigValue(
                key: "num_heads", value: "-3", path: directory.appendingPathComponent("config.json").path,
                expected: "in 1...16777216")
        ) { try T5Model(directory: directory) }
        config["num_heads"] = 3
        config["model_type"] = "llama"
        directory = try write(config)
        #expect(
            throws: ModelError.unknownModelType(
                "llama", path: directory.appendingPathComponent("config.json").path, known: ["gpt2", "t5"])
        ) { try ModelRegistry.load(directory: directory) }
    }

    @Test func shardedCheckpointLoadsAndRejectsDuplicates() throws {
        let source = try Checkpoint(directory: TestPaths.fixture("models/gpt2_a"))
        let names = source.tensorNames
        func shard(_ subset: [String]) throws -> [UInt8] {
            var header: [String] = []
            var data: [UInt8] = []
            for name in subset {
                let tensor = try source.tensor(name)
                let bytes = tensor.scalars.withUnsafeBytes { Array($0) }
                header.append(
                    #""\#(name)":{"dtype":"F32","shape":\#(tensor.shape),"#
                        + #""data_offsets":[\#(data.count),\#(data.count + bytes.count)]}"#
                )
                data += bytes
            }
            return safetensorsBytes(header: "{" + header.joined(separator: ",") + "}", data: data)
        }
        let directory = try temporaryDirectory()
        let half = names.count / 2
        try Data(try shard(Array(names[..<half]))).write(to: directory.appendingPathComponent("a.safetensors"))
        try Data(try shard(Array(names[half...]) + [names[0]])).write(
            to: directory.appendingPathComponent("b.safetensors"))
        try FileManager.default.copyItem(
            at: TestPaths.fixture("models/gpt2_a/config.json"), to: directory.appendingPathComponent("config.json"))
        var map = Dictionary(
            uniqueKeysWithValues: names.enumerated().map { ($1, $0 < half ? "a.safetensors" : "b.safetensors") })
        func writeIndex() throws {
            let index = try JSONSerialization.data(withJSONObject: [
                "metadata": [:] as [String: Any], "weight_map": map,
            ])
            try index.write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        }
        try writeIndex()
        #expect(
            throws: ModelError.duplicateTensor(
                name: names[0], firstPath: directory.appendingPathComponent("a.safetensors").path,
                secondPath: directory.appendingPathComponent("b.safetensors").path)
        ) { try Checkpoint(directory: directory) }
        try Data(try shard(Array(names[half...]))).write(to: directory.appendingPathComponent("b.safetensors"))
        map[names[0]] = "a.safetensors"
        try writeIndex()
        let sharded = try GPT2Model(directory: directory)
        let single = try GPT2Model(directory: TestPaths.fixture("models/gpt2_a"))
        let prompt: [Int32] = [3, 17, 42, 8]
        let a = try sharded.startSequence(promptIDs: prompt)
        let b = try single.startSequence(promptIDs: prompt)
        #expect(a.logits == b.logits)
    }

    @Test func encoderModelCheckpointLoadsAsEncoderButNotAsGenerator() throws {
        // T5EncoderModel.save_pretrained writes shared.weight and encoder.* only.
        let directory = try editedFixture("t5_v10") { tensors in
            for name in tensors.keys where !(name == "shared.weight" || name.hasPrefix("encoder.")) {
                tensors[name] = nil
            }
        }
        let encoder = try T5Encoder(directory: directory)
        #expect(encoder.ignoredTensors.isEmpty)
        let fixture = try ModelFixture("t5_v10")
        let hidden = try encoder.encode(fixture.ids("prompt"))
        #expect(Tolerance.maxAbsDifference(hidden.scalars, fixture.floats("encoder_hidden")) <= 1e-4)
        #expect(
            throws: ModelError.missingTensor(
                name: "decoder.block.0.layer.0.layer_norm.weight", directory: directory.path)
        ) { try T5Model(directory: directory) }
    }

    @Test func directoryWithoutWeights() throws {
        let directory = try temporaryDirectory()
        #expect(throws: ModelError.noSafetensors(directory: directory.path)) { try Checkpoint(directory: directory) }
    }
}
