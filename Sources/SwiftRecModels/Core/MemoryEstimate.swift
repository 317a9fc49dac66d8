import Foundation
import SwiftRecData

/// Upper estimates of what a fit holds at its peak, in bytes. They are `Double` because a
/// product of option values (a table of `items × neighbors`, a Gram matrix of `items²`) can
/// exceed `Int` before a range check says it is absurd. Each model's config states its own
/// formula (``ModelConfig/estimatedTrainingBytes(_:)``) from the tables and buffers its fit
/// allocates; BENCHMARKS.md compares them with measured peak memory.
public enum MemoryEstimate {
    static let float = 4.0

    /// What every fit holds besides its model: the experiment's split of the events, the
    /// per-user sequences and CSR copies the models read, the id tables, and the evaluation's
    /// buffers and code (128 MB: `swiftrec train --model pop` peaks at 134 MiB on ML-1M).
    public static func data(_ shape: DataShape) -> Double {
        128e6 + Double(shape.events) * 48 + Double(shape.users + shape.items) * 128
    }

    /// A network trained with Adam(W): weights, gradients and both moment estimates of
    /// `parameters` floats, plus `floatsPerExample` floats of activations and their gradients
    /// for each of a batch's examples.
    static func network(parameters: Double, floatsPerExample: Double, batch: Int) -> Double {
        parameters * float * 4 + 2 * floatsPerExample * Double(batch) * float
    }

    /// The fused softmax loss over every item (`linearCrossEntropy`): a block of 256 rows of
    /// logits per thread, never one row per position.
    static func fullSoftmax(items: Int) -> Double {
        Double(ProcessInfo.processInfo.activeProcessorCount) * 256 * Double(items) * float
    }

    /// A sentence encoder's weights and the item vectors it or a keyword model makes (`dim` floats an item).
    static func itemText(items: Int, dim: Double = 384) -> Double {
        256e6 + Double(items) * dim * float * 2
    }

    /// `bytes` for people: "1.2 GB", "350 MB".
    public static func describe(_ bytes: Double) -> String {
        guard bytes.isFinite else { return "an unbounded amount" }
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = bytes, unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// A byte count as a command line gives it: `8000000000`, `512MB`, `8GB`, `1.5GiB`.
    public static func parse(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024), ("TiB", 1024 * 1024 * 1024 * 1024),
            ("kB", 1e3), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            guard let number = Double(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)),
                number.isFinite, number > 0
            else { return nil }
            return number * scale
        }
        guard let number = Double(trimmed), number.isFinite, number > 0 else { return nil }
        return number
    }
}
