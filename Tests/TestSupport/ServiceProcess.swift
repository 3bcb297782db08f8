import Foundation

/// A long-running `l2s` service (router, encoder, decoder) started by a test the way an operator starts it.
/// Its standard output is collected line by line; it is killed when the object goes away, so a failing test
/// never leaves processes behind.
public final class ServiceProcess: @unchecked Sendable {
    // `lines` is appended by the pipe's reader queue and read by the test thread, always under `lock`.
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = Data()
    public let process = Process()
    public let name: String
    private let errorLog: URL

    /// Starts `l2s` with `arguments`; standard error goes to a temporary file shown when the test asks.
    public init(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        self.name = name
        process.executableURL = TestPaths.l2sExecutable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["L2S_THREADS"] = env["L2S_THREADS"] ?? "1"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        errorLog = FileManager.default.temporaryDirectory.appendingPathComponent("l2s-test-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errorLog)
        let pipe = Pipe()
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.partial.append(data)
            while let newline = self.partial.firstIndex(of: 10) {
                self.lines.append(String(decoding: self.partial[self.partial.startIndex..<newline], as: UTF8.self))
                self.partial.removeSubrange(self.partial.startIndex...newline)
            }
            self.lock.unlock()
        }
        try process.run()
    }

    /// The first stdout line that parses as a JSON object with `"event": event`, waiting up to `timeout`.
    public func waitForEvent(_ event: String, timeout: TimeInterval = 30) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            lock.lock()
            let snapshot = lines
            lock.unlock()
            for line in snapshot {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    object["event"] as? String == event
                {
                    return object
                }
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw ServiceProcessError.noEvent(name: name, event: event, log: log)
    }

    /// What the service wrote to standard error so far.
    public var log: String { (try? String(contentsOf: errorLog, encoding: .utf8)) ?? "" }

    /// SIGKILL: the abrupt death the failover tests need.
    public func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM and wait (SIGKILL after `grace`).
    public func terminate(grace: TimeInterval = 5) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        kill9()
    }

    deinit {
        kill9()
        try? FileManager.default.removeItem(at: errorLog)
    }
}

/// A service that did not say what the test waited for.
public enum ServiceProcessError: Error, CustomStringConvertible {
    case noEvent(name: String, event: String, log: String)

    public var description: String {
        switch self {
        case .noEvent(let name, let event, let log):
            return "\(name) never printed event '\(event)'; its log:\n\(log.suffix(4000))"
        }
    }
}
