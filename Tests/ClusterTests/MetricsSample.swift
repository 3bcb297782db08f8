import Metrics

extension MetricsRegistry {
    /// The value of the rendered sample `line` starts with (name and labels as rendered), nil when absent.
    func sample(_ line: String) -> Double? {
        render().split(separator: "\n").first { $0.hasPrefix(line + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }
}
