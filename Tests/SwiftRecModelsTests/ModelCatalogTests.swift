import Foundation
import SwiftRecData
import SwiftRecModels
import Testing

/// Small non-default settings per model, so each trains in a moment and the round trips carry
/// values other than the defaults.
private let smallOptions: [String: ModelCatalog.Options] = {
    let sequence: ModelCatalog.Options = ["epochs": 1, "dim": "8", "max-len": "8", "batch": 16, "seed": "3"]
    var options: [String: ModelCatalog.Options] = [
        "pop": ["half-life": "86400"], "segment-pop": ["smoothing": 5, "attributes": "age,gender"],
        "itemknn": ["neighbors": 7, "similarity": "jaccard"], "userknn": ["neighbors": "9", "shrinkage": 2.5],
        "cf-fusion": ["item-weight": 0.25, "neighbors": 5], "ease": ["lambda": "80"],
        "bpr": ["epochs": "2", "factors": 8, "lr": 0.02],
        "lightgcn": ["epochs": 2, "dim": "8", "layers": 2, "batch": 64],
        "lightgcn-kg": ["epochs": "2", "dim": 8, "attribute-min-count": 3, "batch": 64],
        "ials": ["factors": "8", "iterations": 2, "alpha": 3],
        "content": ["history": 12, "decay": "0.8", "representation": "tfidf"],
        "sasrec-content": sequence.merging(["text-dim": "16", "id-dropout": 0.3]) { $1 },
        "bert4rec": sequence.merging(["mask-ratio": 0.3]) { $1 },
    ]
    for name in ["sasrec", "gru4rec", "lstm"] { options[name] = sequence }
    for name in ["blend", "cascade"] { options[name] = sequence.merging(["candidates": 30]) { $1 } }
    options["stack"] = ["members": "ease,itemknn", "lambda": 50, "neighbors": 5]
    return options
}()

private let data: Dataset = SyntheticGenerator.generate(
    SyntheticConfig(
        users: 40, categories: 4, itemsPerCategory: 8, eventsPerUser: 10...16, switches: .probability(0.05),
        seed: 11)
).dataset

/// A value as a command line gives it after `--set key=`.
private func commandLineText(_ value: JSONValue) -> String {
    switch value {
    case .null: return "none"
    case .bool(let b): return String(b)
    case .number(let n): return Int64(exactly: n).map(String.init) ?? String(n)
    case .string(let s): return s
    case .array(let a): return a.map(commandLineText).joined(separator: ",")
    case .object: return "{}"
    }
}

@Suite("Model catalogue and configs")
struct ModelCatalogTests {
    @Test("every model's config reads back the same from --set text, JSON and its manifest")
    func configsRoundTrip() throws {
        let split = Split.leaveOneOut(data)
        for name in ModelCatalog.names {
            let options = smallOptions[name] ?? [:]
            let resolved = try ModelCatalog.resolve(name, options: options)
            #expect(!resolved.isEmpty || name == "pop", "\(name) has no options")
            // --set key=value text.
            let text = resolved.mapValues { JSONValue.string(commandLineText($0)) }
            #expect(try ModelCatalog.resolve(name, options: text) == resolved, "\(name): --set text")
            // A --config file or POST /train body.
            let json = try JSONDecoder().decode(ModelCatalog.Options.self, from: JSONEncoder().encode(resolved))
            #expect(try ModelCatalog.resolve(name, options: json) == resolved, "\(name): JSON")
            // The manifest of the trained, saved model.
            let model = try ModelCatalog.make(name, options: options)
            try model.fit(split.train, validation: split.validation, progress: nil)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(name)-\(UUID())")
            defer { try? FileManager.default.removeItem(at: directory) }
            try model.save(to: directory)
            let (manifest, _) = try ModelArtifact.read(from: directory)
            var saved = manifest.config, expected = resolved
            if ["blend", "stack", "cascade"].contains(name) {
                // A fusion saves the weights it tuned and its own options; members keep theirs.
                for key in ["weights", "members"] { saved[key] = nil }
                expected = expected.filter { saved.keys.contains($0.key) }
            }
            #expect(saved == expected, "\(name): manifest")
            let reloaded = try ModelCatalog.load(from: directory)
            let (again, _) = try ModelArtifact.read(from: directory)
            #expect(reloaded.itemCount == model.itemCount && again.config == manifest.config)
        }
    }

    @Test("an unknown key is rejected by name with the closest valid key")
    func unknownKeys() {
        #expect {
            try ModelCatalog.make("itemknn", options: ["neighbours": 5])
        } throws: { error in
            "\(error)".contains("neighbours") && "\(error)".contains("did you mean 'neighbors'?")
        }
        #expect {
            try ModelCatalog.make("sasrec", options: ["max_len": 50])
        } throws: { error in "\(error)".contains("did you mean 'max-len'?") }
        // A fusion takes its members' options, and suggests among them.
        #expect(throws: Never.self) { try ModelCatalog.make("blend", options: ["members": "ease,pop", "lambda": 50]) }
        #expect {
            try ModelCatalog.make("blend", options: ["members": "ease,pop", "lamda": 50])
        } throws: { error in "\(error)".contains("did you mean 'lambda'?") }
        #expect {
            try ModelCatalog.make("sasrek")
        } throws: { error in "\(error)".contains("did you mean 'sasrec'?") }
        // Several models at once may share one option set.
        #expect(throws: Never.self) {
            try ModelCatalog.make("ease", options: ["lambda": 50, "dim": 8], ignoringUnknown: true)
        }
    }

    @Test("values outside an option's range, of the wrong type or NaN are rejected with the range")
    func ranges() {
        let bad: [(String, ModelCatalog.Options, String)] = [
            ("itemknn", ["neighbors": "9223372036854775807"], "1...10000"),
            ("itemknn", ["neighbors": 0], "1...10000"),
            ("bpr", ["factors": 100_000_000], "1...4096"),
            ("sasrec", ["dim": 1_000_000], "1...4096"),
            ("sasrec", ["epochs": 1e9], "0...10000"),
            ("gru4rec", ["dropout": "nan"], "0...0.95"),
            ("lstm", ["time-budget": "-3"], "0.001...10000000"),
            ("bert4rec", ["mask-ratio": 1.5], "0.01...0.99"),
            ("sasrec", ["loss": "hinge"], "one of ce, sampled, bce"),
            ("bpr", ["factors": "abc"], "is not an integer"),
            ("bpr", ["factors": 8.5], "is not an integer"),
            ("sasrec", ["shared-output": 1], "is not true or false"),
            ("sasrec", ["heads": 3], "not divisible"),
        ]
        for (name, options, expected) in bad {
            #expect {
                try ModelCatalog.make(name, options: options)
            } throws: { error in
                "\(error)".contains(expected) && "\(error)".contains(options.keys.first!)
            }
        }
    }

    @Test("every model is listed once, with its options described")
    func registry() {
        #expect(Set(ModelCatalog.names).count == ModelCatalog.names.count)
        for entry in ModelCatalog.entries {
            #expect(Set(entry.optionKeys).count == entry.optionKeys.count, "\(entry.name) lists a key twice")
            for option in entry.options {
                #expect(!option.help.isEmpty && !option.range.isEmpty, "\(entry.name).\(option.key)")
                #expect(option.key == option.key.lowercased() && !option.key.contains("_"), "\(option.key)")
            }
        }
        #expect(ModelCatalog.acceptedKeys("blend").contains("lambda"))
    }
}

@Suite("Memory estimates")
struct MemoryEstimateTests {
    /// ML-1M's size: every model's defaults fit a laptop, and each estimate is at least the
    /// process's measured peak there (BENCHMARKS.md, "memory estimates").
    let movielens = DataShape(users: 6_040, items: 3_706, events: 1_000_209)

    @Test func everyModelsDefaultsAreEstimatedWithinALaptop() throws {
        for name in ModelCatalog.names {
            let bytes = try ModelCatalog.estimatedTrainingBytes(name, shape: movielens)
            #expect(bytes > 128e6 && bytes < 4e9, "\(name): \(MemoryEstimate.describe(bytes))")
        }
    }

    @Test func theTestersAbsurdOptionsAreEstimatedAbsurd() throws {
        let big = DataShape(users: 1_000_000, items: 200_000, events: 50_000_000)
        let cases: [(String, ModelCatalog.Options)] = [
            ("itemknn", ["neighbors": 10_000]), ("bpr", ["factors": 4096]), ("sasrec", ["dim": 4096]),
            ("ease", [:]), ("blend", ["members": "ease,itemknn"]),
        ]
        for (name, options) in cases {
            let bytes = try ModelCatalog.estimatedTrainingBytes(name, options: options, shape: big)
            #expect(bytes > 16e9, "\(name) \(options): \(MemoryEstimate.describe(bytes))")
        }
        // Bigger options never need less.
        let small = try ModelCatalog.estimatedTrainingBytes("sasrec", options: ["dim": 32], shape: movielens)
        let large = try ModelCatalog.estimatedTrainingBytes("sasrec", options: ["dim": 256], shape: movielens)
        #expect(small < large)
        #expect(throws: ModelError.self) {
            try ModelCatalog.estimatedTrainingBytes("sasrec", options: ["dim": 0], shape: big)
        }
    }

    @Test func sizesReadAsCommandLinesGiveThem() {
        #expect(MemoryEstimate.parse("8GB") == 8e9)
        #expect(MemoryEstimate.parse("512 MB") == 512e6)
        #expect(MemoryEstimate.parse("1.5GiB") == 1.5 * 1024 * 1024 * 1024)
        #expect(MemoryEstimate.parse("1000") == 1000)
        for bad in ["", "GB", "-1GB", "nanGB", "8 apples"] { #expect(MemoryEstimate.parse(bad) == nil, "\(bad)") }
        #expect(MemoryEstimate.describe(2.5e9) == "2.5 GB")
    }
}
