import CZeroMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one place that decides what a failing ZeroMQ call means (the swift-nio pattern): EINTR is retried,
/// EAGAIN means "would block / timed out" (nil), ETERM means the context is gone, anything else is an error.
enum ZMQCall {
    /// Runs `call` (a libzmq function returning -1 on failure) under the errno policy above.
    /// Returns the call's result, or nil when it would have blocked.
    static func run(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(WireError) -> Int32? {
        while true {
            let result = call()
            if result >= 0 { return result }
            let code = zmq_errno()
            switch code {
            case EINTR: continue
            case EAGAIN: return nil
            case ETERM: throw .contextTerminated
            default: throw error(operation(), code)
            }
        }
    }

    /// Like `run`, for calls where "would block" cannot happen or is itself an error.
    @discardableResult
    static func check(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(WireError) -> Int32 {
        guard let result = try run(operation(), call) else { throw error(operation(), EAGAIN) }
        return result
    }

    /// A `WireError.zmq` carrying libzmq's text for `code`.
    static func error(_ operation: String, _ code: Int32) -> WireError {
        .zmq(operation: operation, errno: code, message: String(cString: zmq_strerror(code)))
    }
}
