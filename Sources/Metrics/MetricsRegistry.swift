import Foundation
import Synchronization

/// Prometheus metrics of one process: counters, gauges and histograms with labels, rendered in the text exposition
/// format (version 0.0.4) for `GET /metrics`. Thread-safe: any thread may record; rendering takes a snapshot.
public final class MetricsRegistry: Sendable {
    /// The kind of a metric family, as `# TYPE` names it.
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    private struct Family {
        let name: String
        let help: String
        let kind: Kind
        let labels: [String]
        let buckets: [Double]
        /// Counter and gauge values by label values.
        var values: [[String]: Double] = [:]
        /// Histogram bucket counts (cumulative at render), sums and counts by label values.
        var bucketCounts: [[String]: [UInt64]] = [:]
        var sums: [[String]: Double] = [:]
        var counts: [[String]: UInt64] = [:]
    }

    private let families = Mutex<[String: Family]>([:])
    private let order = Mutex<[String]>([])
    private let samplers = Mutex<[@Sendable () -> Void]>([])

    /// An empty registry.
    public init() {}

    /// Declares a family (idempotent for the same name).
    public func declare(_ name: String, _ kind: Kind, help: String, labels: [String] = [], buckets: [Double] = []) {
        let inserted = families.withLock { families -> Bool in
            guard families[name] == nil else { return false }
            families[name] = Family(name: name, help: help, kind: kind, labels: labels, buckets: buckets.sorted())
            return true
        }
        if inserted { order.withLock { $0.append(name) } }
    }

    /// Adds `amount` to a counter (or a gauge).
    public func add(_ name: String, _ amount: Double = 1, labels: [String] = []) {
        families.withLock { $0[name]?.values[labels, default: 0] += amount }
    }

    /// Sets a gauge.
    public func set(_ name: String, _ value: Double, labels: [String] = []) {
        families.withLock { $0[name]?.values[labels] = value }
    }

    /// Records one observation in a histogram.
    public func observe(_ name: String, _ value: Double, labels: [String] = []) {
        families.withLock { families in
            guard var family = families[name] else { return }
            var counts = family.bucketCounts[labels] ?? [UInt64](repeating: 0, count: family.buckets.count)
            if let index = family.buckets.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
            family.bucketCounts[labels] = counts
            family.sums[labels, default: 0] += value
            family.counts[labels, default: 0] += 1
            families[name] = family
        }
    }

    /// Registers `sample`, run before every render to refresh gauges from their sources.
    public func onRender(_ sample: @escaping @Sendable () -> Void) {
        samplers.withLock { $0.append(sample) }
    }

    /// The text exposition of every family, in declaration order.
    public func render() -> String {
        for sample in samplers.withLock({ $0 }) { sample() }
        let snapshot = families.withLock { $0 }
        var text = ""
        for name in order.withLock({ $0 }) {
            guard let family = snapshot[name] else { continue }
            text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.kind.rawValue)\n"
            func labelText(_ values: [String], extra: (String, String)? = nil) -> String {
                var pairs = zip(family.labels, values).map { "\($0)=\"\(Self.escape($1))\"" }
                if let extra { pairs.append("\(extra.0)=\"\(extra.1)\"") }
                return pairs.isEmpty ? "" : "{\(pairs.joined(separator: ","))}"
            }
            switch family.kind {
            case .counter, .gauge:
                if family.values.isEmpty && family.labels.isEmpty { text += "\(name) 0\n" }
                for (labels, value) in family.values.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                    text += "\(name)\(labelText(labels)) \(Self.number(value))\n"
                }
            case .histogram:
                let keys = family.counts.keys.sorted { $0.lexicographicallyPrecedes($1) }
                for labels in keys.isEmpty && family.labels.isEmpty ? [[]] : keys {
                    var cumulative: UInt64 = 0
                    let counts = family.bucketCounts[labels] ?? [UInt64](repeating: 0, count: family.buckets.count)
                    for (bound, count) in zip(family.buckets, counts) {
                        cumulative += count
                        text += "\(name)_bucket\(labelText(labels, extra: ("le", Self.number(bound)))) \(cumulative)\n"
                    }
                    let total = family.counts[labels] ?? 0
                    text += "\(name)_bucket\(labelText(labels, extra: ("le", "+Inf"))) \(total)\n"
                    text += "\(name)_sum\(labelText(labels)) \(Self.number(family.sums[labels] ?? 0))\n"
                    text += "\(name)_count\(labelText(labels)) \(total)\n"
                }
            }
        }
        return text
    }

    /// Latency buckets in seconds, 1 ms to 60 s.
    public static let latencyBuckets: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
        10, 30, 60,
    ]

    private static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
