import Foundation
import SwiftRecData

/// A model's hyper-parameters: one `Codable` value with its defaults in `init()` and one
/// ``ConfigOption`` per option, which gives the option its only spelling (kebab-case, the same
/// in CLI flags, `--set`, `--config`, the `POST /train` body and `manifest.json`) and its valid
/// range.
///
/// Decoding starts from the defaults and applies the options present; an unknown key is
/// rejected by name with the closest valid key suggested, and a value outside its range is
/// rejected with the range. Encoding writes every option, so a saved config needs no defaults
/// to be read back.
public protocol ModelConfig: Codable, Sendable, Equatable {
    /// The defaults.
    init()
    /// Every option, in the order help lists them.
    static var options: [ConfigOption<Self>] { get }
    /// Checks across options (e.g. `dim` divisible by `heads`), after each option passed its own range.
    func validate() throws
    /// An upper estimate of the bytes a fit with this config holds at its peak on data of
    /// `shape` (see ``MemoryEstimate``): the service refuses a training above its budget
    /// before allocating anything.
    func estimatedTrainingBytes(_ shape: DataShape) -> Double
}

extension ModelConfig {
    public func validate() throws {}

    /// Models whose fit only counts events hold little more than the data.
    public func estimatedTrainingBytes(_ shape: DataShape) -> Double { MemoryEstimate.data(shape) }

    /// Every option's key.
    public static var optionKeys: [String] { options.map(\.key) }

    /// The defaults with `values` applied. Values may be JSON-typed (`64`, `true`) or text as
    /// given on a command line (`"64"`, `"true"`); both read the same.
    public init(values: [String: JSONValue], ignoringUnknown: Bool = false) throws {
        self.init()
        let byKey = Dictionary(uniqueKeysWithValues: Self.options.map { ($0.key, $0) })
        for key in values.keys.sorted() {
            guard let option = byKey[key] else {
                if ignoringUnknown { continue }
                throw ModelError.invalidParameter(
                    name: key, reason: ConfigKeys.unknown(key, known: Self.optionKeys))
            }
            try option.apply(values[key]!, &self)
        }
        try validate()
    }

    /// This config after every option's range and ``validate()``: how a model checks a config
    /// made in code, by the same rules as one decoded from options.
    public func checked() throws -> Self { try Self(values: values) }

    /// Every option's value, JSON-typed.
    public var values: [String: JSONValue] {
        Dictionary(
            uniqueKeysWithValues: Self.options.compactMap { option in option.read(self).map { (option.key, $0) } })
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.singleValueContainer().decode([String: JSONValue].self)
        try self.init(values: values)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(values)
    }
}

/// One option of a ``ModelConfig``: its key, what it means, its range, and how it reads and
/// writes the config.
public struct ConfigOption<Config>: Sendable {
    public let key: String
    public let help: String
    /// The valid values, as help and errors print them (e.g. `1...10000`, `one of ce, sampled, bce`).
    public let range: String
    let apply: @Sendable (JSONValue, inout Config) throws -> Void
    let read: @Sendable (Config) -> JSONValue?

    /// An option whose values must lie in `range` (NaN never does).
    public static func value<V: OptionValue & Comparable>(
        _ key: String, _ path: WritableKeyPath<Config, V> & Sendable, in range: ClosedRange<V>, _ help: String
    ) -> Self {
        let text = "\(range.lowerBound.json.description)...\(range.upperBound.json.description)"
        return checked(key, path, range: text, help) { range.contains($0) }
    }

    /// An optional option (absent or `none` is nil) whose other values must lie in `range`.
    public static func value<V: OptionValue & Comparable>(
        _ key: String, _ path: WritableKeyPath<Config, V?> & Sendable, in range: ClosedRange<V>, _ help: String
    ) -> Self {
        let text = "\(range.lowerBound.json.description)...\(range.upperBound.json.description), or none"
        return checked(key, path, range: text, help) { $0.map(range.contains) ?? true }
    }

    /// An option whose values pass `isValid` (described by `range`).
    public static func checked<V: OptionValue>(
        _ key: String, _ path: WritableKeyPath<Config, V> & Sendable, range: String, _ help: String,
        isValid: @escaping @Sendable (V) -> Bool = { _ in true }
    ) -> Self {
        ConfigOption(
            key: key, help: help, range: range,
            apply: { json, config in
                guard let value = V(json: json) else {
                    throw ModelError.invalidParameter(
                        name: key, reason: "\(json.description) is not \(V.typeDescription)")
                }
                guard isValid(value) else {
                    throw ModelError.invalidParameter(
                        name: key, reason: "\(value.json.description) is outside its range \(range)")
                }
                config[keyPath: path] = value
            },
            read: { config in
                let json = config[keyPath: path].json
                return json == .null ? nil : json
            })
    }

    /// An option that takes one of an enum's cases.
    public static func choice<V: OptionValue & CaseIterable & RawRepresentable>(
        _ key: String, _ path: WritableKeyPath<Config, V> & Sendable, _ help: String
    ) -> Self where V.RawValue == String {
        checked(key, path, range: "one of " + V.allCases.map(\.rawValue).joined(separator: ", "), help)
    }

    /// This option as an option of a bigger config that holds this one at `path`.
    public func lifted<Outer>(_ path: WritableKeyPath<Outer, Config> & Sendable) -> ConfigOption<Outer> {
        let apply = self.apply, read = self.read
        return ConfigOption<Outer>(
            key: key, help: help, range: range,
            apply: { json, outer in try apply(json, &outer[keyPath: path]) },
            read: { outer in read(outer[keyPath: path]) })
    }
}

/// A value an option can hold: read from JSON or from the text a command line gives.
public protocol OptionValue: Sendable {
    /// The value of `json`, or nil when it is not one. A `.string` is read as command-line text.
    init?(json: JSONValue)
    var json: JSONValue { get }
    /// "an integer", "a number", … for errors.
    static var typeDescription: String { get }
}

extension Int: OptionValue {
    public init?(json: JSONValue) {
        switch json {
        case .number(let n):
            guard let value = Int(exactly: n) else { return nil }
            self = value
        case .string(let s):
            guard let value = Int(s.trimmingCharacters(in: .whitespaces)) else { return nil }
            self = value
        default: return nil
        }
    }
    public var json: JSONValue { .number(Double(self)) }
    public static var typeDescription: String { "an integer" }
}

extension UInt64: OptionValue {
    public init?(json: JSONValue) {
        switch json {
        case .number(let n):
            guard let value = UInt64(exactly: n) else { return nil }
            self = value
        case .string(let s):
            guard let value = UInt64(s.trimmingCharacters(in: .whitespaces)) else { return nil }
            self = value
        default: return nil
        }
    }
    // Seeds above 2^53 would lose digits as a JSON number, so they are written as text.
    public var json: JSONValue { self < 1 << 53 ? .number(Double(self)) : .string(String(self)) }
    public static var typeDescription: String { "a non-negative integer" }
}

extension Double: OptionValue {
    public init?(json: JSONValue) {
        switch json {
        case .number(let n): self = n
        case .string(let s):
            guard let value = Double(s.trimmingCharacters(in: .whitespaces)) else { return nil }
            self = value
        default: return nil
        }
    }
    public var json: JSONValue { .number(self) }
    public static var typeDescription: String { "a number" }
}

extension Float: OptionValue {
    public init?(json: JSONValue) {
        guard let value = Double(json: json) else { return nil }
        self = Float(value)
    }
    // Through the shortest decimal text, so 0.2 is saved as 0.2, not 0.20000000298023224.
    public var json: JSONValue { .number(Double(description) ?? Double(self)) }
    public static var typeDescription: String { "a number" }
}

extension Bool: OptionValue {
    public init?(json: JSONValue) {
        switch json {
        case .bool(let b): self = b
        case .string("true"): self = true
        case .string("false"): self = false
        default: return nil
        }
    }
    public var json: JSONValue { .bool(self) }
    public static var typeDescription: String { "true or false" }
}

extension String: OptionValue {
    public init?(json: JSONValue) {
        guard case .string(let s) = json else { return nil }
        self = s
    }
    public var json: JSONValue { .string(self) }
    public static var typeDescription: String { "a string" }
}

extension Optional: OptionValue where Wrapped: OptionValue {
    /// `null` or `none` is nil.
    public init?(json: JSONValue) {
        if json == .null || json == .string("none") {
            self = .none
        } else if let value = Wrapped(json: json) {
            self = .some(value)
        } else {
            return nil
        }
    }
    public var json: JSONValue { self?.json ?? .null }
    public static var typeDescription: String { "\(Wrapped.typeDescription) or none" }
}

extension Array: OptionValue where Element: OptionValue {
    /// A JSON array, or comma-separated text (`sasrec,ease`).
    public init?(json: JSONValue) {
        let elements: [JSONValue]
        switch json {
        case .array(let a): elements = a
        case .string(let s):
            elements = s.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }
        default: return nil
        }
        var values: [Element] = []
        for element in elements {
            guard let value = Element(json: element) else { return nil }
            values.append(value)
        }
        self = values
    }
    public var json: JSONValue { .array(map(\.json)) }
    public static var typeDescription: String { "a list of \(Element.typeDescription)s" }
}

/// `OptionValue` for string enums: `extension MyEnum: OptionChoice {}`.
public protocol OptionChoice: OptionValue, CaseIterable, RawRepresentable where RawValue == String {}

extension OptionChoice {
    public init?(json: JSONValue) {
        guard case .string(let s) = json, let value = Self(rawValue: s) else { return nil }
        self = value
    }
    public var json: JSONValue { .string(rawValue) }
    public static var typeDescription: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Error texts for option keys.
public enum ConfigKeys {
    /// "unknown option; did you mean 'neighbors'? options are …".
    public static func unknown(_ key: String, known: [String]) -> String {
        "unknown option; " + hint(key, known: known)
    }

    /// "did you mean 'neighbors'? options are …" (the question only when a key is close).
    public static func hint(_ key: String, known: [String]) -> String {
        guard !known.isEmpty else { return "there are no options" }
        let closest = known.min { distance(key, $0) < distance(key, $1) }!
        let question = distance(key, closest) <= max(1, closest.count / 3) ? "did you mean '\(closest)'? " : ""
        return question + "options are \(known.sorted().joined(separator: ", "))"
    }

    /// Levenshtein distance, for the suggestion.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = Swift.min(
                    previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
