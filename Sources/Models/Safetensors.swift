import Foundation
import Numerics

#if canImport(Glibc)
    import Glibc
#endif

/// A read-only memory mapping of a whole file, unmapped when the last reference goes.
/// Sendable: the mapping is created read-only in `init` and never written, so concurrent reads are safe.
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ModelError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw ModelError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else {
            throw ModelError.cannotOpen(path: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// One tensor's entry in a safetensors header.
struct SafetensorsEntry: Sendable {
    let name: String
    let dtype: String
    let shape: [Int]
    /// Byte range relative to the start of the data section.
    let begin: Int
    let end: Int
}

/// A memory-mapped `.safetensors` file (https://github.com/huggingface/safetensors, format section) whose header
/// has been validated: the 8-byte little-endian length lies within the file, the header is a JSON object, every
/// tensor's offsets lie inside the data section with a byte count that matches shape and dtype, and no two
/// tensors overlap. Tensors are converted to float32 when read.
final class SafetensorsFile: Sendable {
    let file: MappedFile
    let entries: [String: SafetensorsEntry]
    /// Offset of the data section from the start of the file.
    let dataStart: Int
    var path: String { file.path }

    /// Bytes per element of the dtypes safetensors defines (used to check byte counts, even for dtypes we cannot load).
    static let elementSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
        "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    ]

    init(path: String) throws {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= 8 else { throw ModelError.truncatedFile(path: path, size: bytes.count) }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw ModelError.headerLengthOutOfRange(path: path, headerLength: headerLength, fileSize: bytes.count)
        }
        dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        let headerData = Data(bytes: bytes.baseAddress! + 8, count: Int(headerLength))
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw ModelError.invalidHeader(path: path, reason: "not JSON (\(error.localizedDescription))")
        }
        guard let header = object as? [String: Any] else {
            throw ModelError.invalidHeader(path: path, reason: "top level is not a JSON object")
        }
        var entries: [String: SafetensorsEntry] = [:]
        for (name, value) in header where name != "__metadata__" {
            let entry = try Self.parseEntry(name: name, value: value, path: path)
            guard entry.begin >= 0, entry.begin <= entry.end, entry.end <= dataSize else {
                throw ModelError.offsetsOutOfRange(
                    path: path, tensor: name, begin: entry.begin, end: entry.end, dataSize: dataSize)
            }
            if let size = Self.elementSizes[entry.dtype] {
                // A shape whose byte count overflows cannot match any real byte range.
                let expected = entry.shape.reduce(size) { total, dimension in
                    let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
                    return overflow ? -1 : product
                }
                guard expected == entry.end - entry.begin else {
                    throw ModelError.byteCountMismatch(
                        path: path, tensor: name, dtype: entry.dtype, shape: entry.shape, expected: expected,
                        actual: entry.end - entry.begin)
                }
            }
            entries[name] = entry
        }
        let ordered = entries.values.filter { $0.end > $0.begin }.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.begin < previous.end {
            throw ModelError.overlappingTensors(path: path, first: previous.name, second: next.name)
        }
        self.entries = entries
    }

    private static func parseEntry(name: String, value: Any, path: String) throws -> SafetensorsEntry {
        guard let fields = value as? [String: Any] else {
            throw ModelError.invalidHeader(path: path, reason: "entry \(name) is not an object")
        }
        guard let dtype = fields["dtype"] as? String else {
            throw ModelError.invalidHeader(path: path, reason: "entry \(name) has no string \"dtype\"")
        }
        guard let shape = integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
            throw ModelError.invalidHeader(path: path, reason: "entry \(name) has no valid \"shape\"")
        }
        guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
            throw ModelError.invalidHeader(path: path, reason: "entry \(name) has no valid \"data_offsets\" pair")
        }
        return SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    /// A JSON array of non-fractional numbers as Ints, or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for element in array {
            guard let number = element as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double == double.rounded(), abs(double) < 1e15 else { return nil }
            result.append(number.intValue)
        }
        return result
    }

    /// The rank-2 tensor `name` as its 16-bit bits when stored as F16 or BF16, else nil (then use `tensor`).
    func halfMatrix(_ name: String) throws -> HalfMatrix? {
        guard let entry = entries[name] else { throw ModelError.missingTensor(name: name, directory: path) }
        let format: HalfMatrix.Format
        switch entry.dtype {
        case "F16": format = .float16
        case "BF16": format = .bfloat16
        default: return nil
        }
        guard entry.shape.count == 2 else { return nil }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + entry.begin)..<(dataStart + entry.end)])
        #if _endian(little)
            // Used in place when aligned, as float32 tensors are: no copy, and the page cache is shared.
            if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<UInt16>.alignment == 0 {
                let values = BorrowedHalves(
                    base: base.assumingMemoryBound(to: UInt16.self), count: raw.count / 2, owner: file)
                return try HalfMatrix(format: format, shape: entry.shape, borrowing: values)
            }
        #endif
        return try HalfMatrix(format: format, shape: entry.shape, littleEndianBytes: raw)
    }

    /// The tensor `name` converted to float32; throws for dtypes other than F32, F16 and BF16.
    func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw ModelError.missingTensor(name: name, directory: path) }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + entry.begin)..<(dataStart + entry.end)])
        let scalars: [Float]
        switch entry.dtype {
        case "F32":
            #if _endian(little)
                // Used in place when aligned: no copy, and the page cache is shared by every process.
                if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                    let floats = BorrowedFloats(
                        base: base.assumingMemoryBound(to: Float.self), count: raw.count / 4, owner: file)
                    return try Tensor(shape: entry.shape, borrowing: floats)
                }
            #endif
            scalars = HalfPrecision.floats(fromFloat32: raw)
        case "F16": scalars = HalfPrecision.floats(fromFloat16: raw)
        case "BF16": scalars = HalfPrecision.floats(fromBFloat16: raw)
        default: throw ModelError.unsupportedDtype(path: path, tensor: name, dtype: entry.dtype)
        }
        return try Tensor(shape: entry.shape, scalars: scalars)
    }
}
