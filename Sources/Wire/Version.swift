/// Versions every peer announces: the software release and the wire protocol of `proto/l2s.proto`.
public enum L2SVersion {
    /// The software release string sent in `Hello.software`.
    public static let software = "l2s 0.1.0"
    /// `PROTOCOL_VERSION_CURRENT` in `proto/l2s.proto`; envelopes with another version are rejected.
    public static let protocolVersion: UInt32 = 1
}
