import Foundation

/// A usage error: a bad or missing flag. The executable prints it with the subcommand's usage line and exits 64.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One flag a subcommand accepts, as `--help` shows it.
struct OptionSpec: Sendable {
    /// The flag, with its dashes: `--max-new-tokens`.
    let name: String
    /// Placeholder for the value (`N`, `DIR`, `EP`); nil for a boolean flag.
    let value: String?
    /// One line saying what it does.
    let help: String
    /// Built-in default shown by `--help` and used when neither the flag nor the environment sets it.
    let defaultValue: String?
    /// Environment variable consulted when the flag is absent (`L2S_THREADS`).
    let environment: String?

    init(_ name: String, value: String? = nil, help: String, default defaultValue: String? = nil, env: String? = nil) {
        self.name = name
        self.value = value
        self.help = help
        self.defaultValue = defaultValue
        self.environment = env
    }

    var isFlag: Bool { value == nil }
}

/// The arguments of one subcommand after parsing: flag values, boolean flags and positional words.
/// Value lookups follow the order docs/architecture.md gives: the flag, then its `L2S_*` environment variable, then
/// the built-in default.
struct ParsedArguments {
    let specs: [OptionSpec]
    private(set) var values: [String: String] = [:]
    /// Every value of each option given on the command line, in order (`strings` reads a repeatable option).
    private(set) var repeatedValues: [String: [String]] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positionals: [String] = []
    let environment: [String: String]

    /// Parses `arguments` (without the subcommand name) against `specs`.
    init(
        _ arguments: [String], specs: [OptionSpec], environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        self.specs = specs
        self.environment = environment
        var index = 0
        var onlyPositionals = false
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if onlyPositionals || !word.hasPrefix("--") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" {
                onlyPositionals = true
                continue
            }
            var name = word
            var inlineValue: String?
            if let equals = word.firstIndex(of: "=") {
                name = String(word[..<equals])
                inlineValue = String(word[word.index(after: equals)...])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '\(name)'")
            }
            if spec.isFlag {
                if inlineValue != nil { throw UsageError("option '\(name)' takes no value") }
                flags.insert(name)
            } else if let inlineValue {
                values[name] = inlineValue
                repeatedValues[name, default: []].append(inlineValue)
            } else {
                guard index < arguments.count else {
                    throw UsageError("option '\(name)' needs a value (\(spec.value!))")
                }
                values[name] = arguments[index]
                repeatedValues[name, default: []].append(arguments[index])
                index += 1
            }
        }
    }

    private func spec(_ name: String) -> OptionSpec {
        guard let spec = specs.first(where: { $0.name == name }) else {
            preconditionFailure("programming error: option \(name) is not declared")
        }
        return spec
    }

    /// True when the boolean flag was given, or its environment variable is `1`/`true`.
    func flag(_ name: String) -> Bool {
        if flags.contains(name) { return true }
        if let variable = spec(name).environment, let value = environment[variable] {
            return ["1", "true", "yes"].contains(value.lowercased())
        }
        return false
    }

    /// True when the value was given on the command line (not from the environment or a default).
    func isExplicit(_ name: String) -> Bool { values[name] != nil || flags.contains(name) }

    /// The raw value: flag, environment, default, or nil.
    func string(_ name: String) -> String? {
        let spec = spec(name)
        if let value = values[name] { return value }
        if let variable = spec.environment, let value = environment[variable], !value.isEmpty { return value }
        return spec.defaultValue
    }

    /// Every value of a repeatable option, in command-line order; else its environment variable's or default value.
    func strings(_ name: String) -> [String] {
        repeatedValues[name] ?? string(name).map { [$0] } ?? []
    }

    /// A value that must be present.
    func required(_ name: String) throws -> String {
        guard let value = string(name) else {
            let variable = spec(name).environment.map { " (or set \($0))" } ?? ""
            throw UsageError("missing required option '\(name)'\(variable)")
        }
        return value
    }

    /// An integer in `range`, or nil when absent.
    func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else { throw UsageError("option '\(name)' expects an integer, got '\(text)'") }
        guard range.contains(value) else {
            throw UsageError("option '\(name)' must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        return value
    }

    /// A floating-point number in `range`, or nil when absent.
    func double(_ name: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let text = string(name) else { return nil }
        guard let value = Double(text), value.isFinite else {
            throw UsageError("option '\(name)' expects a number, got '\(text)'")
        }
        guard range.contains(value) else {
            throw UsageError("option '\(name)' must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        return value
    }

    /// A comma-separated list of integers (`1,2,3`), or nil when absent.
    func intList(_ name: String) throws -> [Int]? {
        guard let text = string(name) else { return nil }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var result: [Int] = []
        for (position, part) in parts.enumerated() {
            guard let value = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw UsageError("option '\(name)' expects comma-separated integers; item \(position + 1) is '\(part)'")
            }
            result.append(value)
        }
        return result
    }

    /// `name` as prompt token ids (comma-separated, at least one, each in 0...Int32.max), or nil when absent.
    func tokenIDs(_ name: String) throws -> [Int32]? {
        guard let ids = try intList(name) else { return nil }
        guard !ids.isEmpty else { throw UsageError("option '\(name)' needs at least one id") }
        if let bad = ids.first(where: { $0 < 0 || $0 > Int(Int32.max) }) {
            throw UsageError("option '\(name)': id \(bad) is not in 0...\(Int32.max)")
        }
        return ids.map { Int32($0) }
    }
}
