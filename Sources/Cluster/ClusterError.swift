/// Failures of the services themselves (not of a job): each names what and where.
public enum ClusterError: Error, CustomStringConvertible {
    case bindFailed(link: String, endpoint: String, reason: String)
    case connectFailed(endpoint: String, reason: String)
    case unreadableBundle(path: String)
    case unreadableKeyList(path: String, reason: String)

    public var description: String {
        switch self {
        case .bindFailed(let link, let endpoint, let reason):
            return "cannot listen for \(link) on \(endpoint): \(reason)"
        case .connectFailed(let endpoint, let reason):
            return "cannot connect to \(endpoint): \(reason)"
        case .unreadableBundle(let path):
            return "cannot read the bundle manifest \(path)"
        case .unreadableKeyList(let path, let reason):
            return "CURVE key list \(path): \(reason)"
        }
    }
}
