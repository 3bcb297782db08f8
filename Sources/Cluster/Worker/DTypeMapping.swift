import Models
import Wire

extension Wire.DType {
    /// The model side's name for this wire dtype.
    var numerics: WireDType {
        switch self {
        case .float32: return .float32
        case .float16: return .float16
        case .bfloat16: return .bfloat16
        }
    }

    /// The wire dtype of a bundle's `wire_dtype`.
    init(_ dtype: WireDType) {
        switch dtype {
        case .float32: self = .float32
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        }
    }
}
