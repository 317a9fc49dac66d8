import ArgumentParser
import Foundation
import SwiftRecTensor

/// A one-minute tour: generates users whose interests drift between categories, trains a
/// causal Transformer on their sequences, and compares it with popularity on each user's
/// held-out last item.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a next-item Transformer on generated drifting-interest data and evaluate it.")

    @Option(help: "Users to generate.") var users = 2000
    @Option(help: "Training budget in seconds.") var seconds = 40.0
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(help: "Print one JSON object as the last line.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        let categories = 20, perCategory = 25, length = 30
        let items = categories * perCategory
        var generator = SeededGenerator(seed: seed)
        // Each user walks through a category in a mostly fixed order, then switches category.
        var sequences: [[Int32]] = []
        for _ in 0..<users {
            var category = generator.nextInt(below: categories)
            var position = generator.nextInt(below: perCategory)
            let switchAt = 10 + generator.nextInt(below: length - 12)
            var seq: [Int32] = []
            for t in 0...length {
                if t == switchAt { category = (category + 1 + generator.nextInt(below: categories - 1)) % categories }
                position =
                    generator.nextUniform() < 0.8 ? (position + 1) % perCategory : generator.nextInt(below: perCategory)
                seq.append(Int32(1 + category * perCategory + position))
            }
            sequences.append(seq)
        }
        Console.log(
            "SwiftRec \(SwiftRecInfo.version) demo: \(users) users, \(items) items in \(categories) categories, sequences of \(length + 1)"
        )
        Console.log(
            "kernels: \(GEMM.nativeISA), GEMM backends \(GEMM.availableBackends.map(\.rawValue)), \(Threading.threadCount) threads"
        )

        // Train on all but the last item; the last one is the test target.
        let model = NextItemTransformer(
            items: items, maxLength: length, dim: 64, heads: 2, blocks: 2, dropout: 0.1, generator: &generator)
        let optimizer = AdamW(parameters: model.parameters, learningRate: 2e-3, weightDecay: 0.0)
        let batch = 128
        let start = ProcessStats.now()
        var epoch = 0
        var order = Array(0..<users)
        while ProcessStats.now() - start < seconds {
            order.shuffle(using: &generator)
            var total: Float = 0, batches = 0
            for b in stride(from: 0, to: users, by: batch) {
                let ids = order[b..<min(users, b + batch)]
                // Positions 0..<length predict items 1...length; the last target is held out for testing.
                var inputs: [Int32] = [], targets: [Int32] = []
                for u in ids {
                    inputs += sequences[u][0..<length]
                    targets += sequences[u][1..<length].map { $0 - 1 }
                    targets.append(-1)
                }
                optimizer.zeroGrad()
                let loss = model.loss(inputs: inputs, batch: ids.count, targets: targets)
                loss.backward()
                optimizer.step()
                total += loss.value.scalar
                batches += 1
            }
            epoch += 1
            Console.log(
                String(
                    format: "epoch %d  loss %.4f  (%.0f s)", epoch, total / Float(batches), ProcessStats.now() - start))
        }
        let fitSeconds = ProcessStats.now() - start

        // Evaluate: the sequence up to the held-out item predicts it; full ranking, history excluded.
        model.setTraining(false)
        var popularity = [Float](repeating: 0, count: items)
        for s in sequences { for v in s.dropLast() { popularity[Int(v) - 1] += 1 } }
        var hitsModel = 0, hitsPop = 0, ndcgModel = 0.0, ndcgPop = 0.0
        for b in stride(from: 0, to: users, by: 256) {
            let ids = Array(b..<min(users, b + 256))
            let scores = model.nextItemScores(inputs: ids.flatMap { sequences[$0][0..<length] }, batch: ids.count)
            for (row, u) in ids.enumerated() {
                let target = Int(sequences[u][length]) - 1
                let seen = Set(sequences[u][0..<length].map { Int($0) - 1 })
                let modelScores = (0..<items).map { scores[row, $0] }
                let modelRank = Self.rank(of: target, in: modelScores, excluding: seen)
                let popRank = Self.rank(of: target, in: popularity, excluding: seen)
                if modelRank < 10 {
                    hitsModel += 1
                    ndcgModel += 1 / log2(Double(modelRank) + 2)
                }
                if popRank < 10 {
                    hitsPop += 1
                    ndcgPop += 1 / log2(Double(popRank) + 2)
                }
            }
        }
        let n = Double(users)
        Console.log("")
        Console.log(
            "Held-out last item, full ranking over \(items) items, history excluded, ties counted against the model:")
        Console.log(
            Console.table(
                ["model", "HR@10", "NDCG@10"],
                [
                    [
                        "transformer", String(format: "%.4f", Double(hitsModel) / n),
                        String(format: "%.4f", ndcgModel / n),
                    ],
                    ["popularity", String(format: "%.4f", Double(hitsPop) / n), String(format: "%.4f", ndcgPop / n)],
                ]))
        Console.log(String(format: "trained %d epochs in %.1f s", epoch, fitSeconds))
        if json {
            try Console.printJSON([
                "models": [
                    "transformer": [
                        "test": ["HR@10": Double(hitsModel) / n, "NDCG@10": ndcgModel / n], "fit_seconds": fitSeconds,
                    ],
                    "pop": ["test": ["HR@10": Double(hitsPop) / n, "NDCG@10": ndcgPop / n], "fit_seconds": 0],
                ]
            ])
        }
    }

    /// The 0-based rank of `target`: unseen items scoring at least as high (ties count against it).
    static func rank(of target: Int, in scores: [Float], excluding seen: Set<Int>) -> Int {
        let t = scores[target]
        var rank = 0
        for (i, s) in scores.enumerated() where i != target && s >= t && !seen.contains(i) { rank += 1 }
        return rank
    }
}
