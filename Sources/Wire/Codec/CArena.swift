import L2SProtoC

/// C memory backing one protobuf-c message tree while it is packed: protobuf-c's `pack` reads raw
/// pointers, so every string, array and sub-message must outlive the call. The arena owns them all
/// and frees them together when it is released (after `pack` returns).
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for allocation in allocations { allocation.deallocate() }
    }

    /// A NUL-terminated copy of `value`; protobuf-c measures strings with strlen, so NUL bytes cannot be sent.
    func string(_ value: String, field: String) throws(WireError) -> UnsafeMutablePointer<CChar> {
        let utf8 = value.utf8
        if utf8.contains(0) { throw .stringContainsNUL(field: field) }
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        allocations.append(UnsafeMutableRawPointer(pointer))
        var index = 0
        for byte in utf8 {
            pointer[index] = CChar(bitPattern: byte)
            index += 1
        }
        pointer[index] = 0
        return pointer
    }

    /// A C copy of `values`, or nil when empty (protobuf-c reads nothing when the count is 0).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: values.count)
        pointer.initialize(from: values, count: values.count)
        allocations.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    /// A protobuf `bytes` field holding a copy of `bytes`.
    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: bytes.count, data: array(bytes))
    }

    /// A sub-message, zero-filled and then set up by its protobuf-c `__init` function.
    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: 1)
        UnsafeMutableRawPointer(pointer).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
        allocations.append(UnsafeMutableRawPointer(pointer))
        initialize(pointer)
        return pointer
    }

    /// An array of pointers to sub-messages, as protobuf-c lays out repeated message fields.
    func pointerArray<T>(_ pointers: [UnsafeMutablePointer<T>?]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        array(pointers)
    }
}
