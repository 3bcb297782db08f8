import Foundation

/// Paths and tolerance helpers shared by every test target.
public enum TestPaths {
    /// The repository root, found from this file's location (Tests/TestSupport/TestSupport.swift).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `Tests/Fixtures`: golden data written by `scripts/make_fixtures.py`.
    public static let fixtures: URL = repositoryRoot.appendingPathComponent("Tests/Fixtures")

    /// A fixture file or directory by its path below `Tests/Fixtures`.
    public static func fixture(_ relativePath: String) -> URL {
        fixtures.appendingPathComponent(relativePath)
    }

    /// The built `l2s` executable beside the test bundle (same build configuration).
    public static var l2sExecutable: URL {
        let bundle = Bundle.main.bundleURL
        var directory = bundle
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("l2s")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug/l2s")
    }
}

/// Comparison of float arrays against golden values.
public enum Tolerance {
    /// The largest absolute difference between two equally long arrays (infinity when lengths differ).
    public static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        var worst: Float = 0
        for index in a.indices {
            let difference = abs(a[index] - b[index])
            if difference.isNaN { return .infinity }
            worst = max(worst, difference)
        }
        return worst
    }
}
