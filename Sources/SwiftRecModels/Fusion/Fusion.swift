import Foundation
import SwiftRecData
import SwiftRecTensor

/// How ``FusionRecommender`` combines its members.
public enum FusionKind: String, Codable, Sendable, CaseIterable, OptionChoice {
    /// A weighted sum of each member's standardised scores; weights tuned on validation unless given.
    case blend
    /// A logistic ranker over each member's standardised score and reciprocal rank, trained on
    /// the validation users' targets against hard negatives from the members' top lists.
    case stack
    /// Retrieve then rank: the first member retrieves its top `candidates`; the second (a
    /// feature ranker such as `din`, scoring only those) orders them, its standardised score
    /// mixed with the retriever's by a weight tuned on validation.
    case cascade
}

/// Options of ``FusionRecommender`` (a fusion also takes its members' options, which the
/// catalogue passes on to each member that has them).
public struct FusionConfig: ModelConfig {
    /// Member model names; empty: `sasrec,ease` (a cascade: `ease,sasrec`).
    public var members: [String] = []
    /// Blend: one per member; stack: two per member and a bias; cascade: one, the retriever's
    /// share of the candidates' order (0: the ranker alone); empty: tuned on validation (a
    /// cascade fitted without validation mixes the two evenly, 0.5).
    public var weights: [Float] = []
    public var candidates = 100

    public init() {}

    public static let options: [ConfigOption<Self>] = [
        .checked(
            "members", \.members, range: "2 to 8 model names, comma-separated",
            "The models combined (default sasrec,ease; a cascade's ease,sasrec retrieves with ease)."
        ) {
            $0.isEmpty || (2...8).contains($0.count)
        },
        .checked(
            "weights", \.weights, range: "finite numbers, comma-separated",
            "Fixed weights (default: tuned on validation)."
        ) { $0.allSatisfy(\.isFinite) },
        .value("candidates", \.candidates, in: 1...100_000, "Items the cascade's first member retrieves."),
    ]

    /// The members named, or the default for `kind`.
    public func memberNames(for kind: FusionKind) -> [String] {
        members.isEmpty ? (kind == .cascade ? ["ease", "sasrec"] : ["sasrec", "ease"]) : members
    }
}

/// Several models combined into one. It is itself a ``Recommender``: it fits, scores, saves,
/// loads and serves like any member.
public final class FusionRecommender: Recommender {
    public let kind: FusionKind
    public let members: [any Recommender]
    /// Blend: one weight per member. Stack: two per member (score, reciprocal rank) and a bias.
    /// Cascade: the retriever's share of the candidates' order.
    public private(set) var weights: [Float]
    /// Cascade: items the first member retrieves. Stack: each member's top list for negatives.
    public let candidates: Int
    /// Validation users used to tune weights (the first ones, for speed).
    public let tuningUsers = 2000

    public var name: String { kind.rawValue }

    /// What the manifest saves: the members' names, the weights in effect and the candidates.
    public var config: FusionConfig {
        var config = FusionConfig()
        config.members = members.map(\.name)
        config.weights = weights
        config.candidates = candidates
        return config
    }
    public var inputs: Set<ModelInput> { members.reduce(into: []) { $0.formUnion($1.inputs) } }
    public var itemCount: Int { members.first?.itemCount ?? 0 }
    public var epochSeconds: [Double] { members.flatMap(\.epochSeconds) }

    public init(kind: FusionKind, members: [any Recommender], weights: [Float] = [], candidates: Int = 100) throws {
        guard members.count >= 2 else {
            throw ModelError.invalidParameter(name: "members", reason: "fusion needs at least two models")
        }
        guard kind != .cascade || members.count == 2 else {
            throw ModelError.invalidParameter(name: "members", reason: "a cascade has exactly two models")
        }
        guard kind != .blend || weights.isEmpty || weights.count == members.count else {
            throw ModelError.invalidParameter(
                name: "weights", reason: "\(weights.count) weights for \(members.count) models")
        }
        // A stack's weights are its ranker: two features per member and a bias.
        guard kind != .stack || weights.isEmpty || weights.count == 2 * members.count + 1 else {
            throw ModelError.invalidParameter(
                name: "weights",
                reason:
                    "a stack of \(members.count) models takes \(2 * members.count + 1) weights, got \(weights.count)")
        }
        guard kind != .cascade || weights.count <= 1 else {
            throw ModelError.invalidParameter(
                name: "weights", reason: "a cascade takes one weight (the retriever's share), got \(weights.count)")
        }
        guard weights.allSatisfy(\.isFinite) else {
            throw ModelError.invalidParameter(name: "weights", reason: "must be finite numbers")
        }
        try ParameterCheck.positive(candidates, "candidates")
        self.kind = kind
        self.members = members
        self.weights = weights
        self.candidates = candidates
    }

    public func fit(_ dataset: Dataset, validation: HeldOut?, progress: TrainingProgress?) throws {
        try members[0].fit(dataset, validation: validation, progress: progress)
        for member in members.dropFirst() {
            try withRetrievedNegatives(for: member, dataset, progress: progress) {
                try member.fit(dataset, validation: validation, progress: progress)
            }
        }
        guard let validation, !validation.isEmpty else {
            if weights.isEmpty { weights = defaultWeights }
            return
        }
        let count = min(validation.users.count, tuningUsers)
        let states = validation.users.prefix(count).map { UserState(user: $0, in: dataset) }
        let targets = validation.items.prefix(count).map { $0[0] }
        if kind == .cascade {
            if weights.isEmpty { weights = [tuneCascade(states: states, targets: targets, progress: progress)] }
            return
        }
        // Every member's standardised scores for the tuning users, computed once.
        let n = itemCount
        var standardised: [[Float]] = []
        for member in members {
            var scores = [Float](repeating: 0, count: count * n)
            scores.withUnsafeMutableBufferPointer { member.scoreBatch(states, into: $0) }
            for u in 0..<count { Self.standardise(&scores, row: u, width: n) }
            standardised.append(scores)
        }
        switch kind {
        case .blend:
            if weights.isEmpty {
                weights = tuneBlend(standardised, states: states, targets: targets, progress: progress)
            }
        case .stack:
            weights = trainStack(standardised, states: states, targets: targets)
            progress?(.message("stack: weights \(weights.map { String(format: "%.3f", $0) }.joined(separator: ", "))"))
        case .cascade:
            break
        }
    }

    private var defaultWeights: [Float] {
        switch kind {
        case .blend: return members.map { _ in 1 / Float(members.count) }
        case .stack: return members.flatMap { _ in [1, 0] } + [0]
        case .cascade: return [0.5]
        }
    }

    // MARK: Retrieve then rank

    /// Runs `fit` with a cascade's ranker holding what the retriever proposes to every user of
    /// `dataset` along their training history, when the ranker draws negatives from it
    /// (``CandidateNegativeSampling``); otherwise just runs `fit`.
    private func withRetrievedNegatives(
        for member: any Recommender, _ dataset: Dataset, progress: TrainingProgress?, fit: () throws -> Void
    ) throws {
        guard kind == .cascade, let ranker = member as? any CandidateNegativeSampling,
            case let share = ranker.candidateNegativeShare(on: dataset), share > 0
        else { return try fit() }
        let started = Date()
        let retrieved = retrieverCandidates(dataset)
        ranker.negativeCandidates = retrieved
        defer { ranker.negativeCandidates = nil }
        progress?(
            .message(
                String(
                    format:
                        "cascade: %@ draws %d %% of its negatives from %@'s top %d, retrieved at %d points of the users' histories (%.1f s)",
                    member.name, Int((share * 100).rounded()), members[0].name, candidates,
                    retrieved.checkpoints.reduce(0) { $0 + $1.count }, Date().timeIntervalSince(started))))
        try fit()
    }

    /// Training events between two retrievals of ``retrieverCandidates(_:)``: an example's
    /// negatives come from a list at most this many events older than the example.
    static let retrievalStride = 10
    /// Retrievals before the users' last events, at most: a larger log spaces them wider, so
    /// the lists stay bounded (about 80 MB at 200 candidates) however many events there are.
    static let mostRetrievals = 100_000

    /// Training events between two retrievals on a log of `events` events.
    static func retrievalInterval(events: Int) -> Int { max(retrievalStride, events / mostRetrievals) }

    /// For every user of `dataset`, the retriever's top `candidates` outside the events read,
    /// after every ``retrievalStride`` training events (wider on logs over a million events) and
    /// after the whole history: the ranker's negatives, each example's from the newest list
    /// before it. The lists before the end are retrieved without the user's index, from the
    /// events alone, so that no model can bring in what it learned from the user's later events.
    func retrieverCandidates(_ dataset: Dataset) -> RetrievedCandidates {
        let every = Self.retrievalInterval(events: dataset.log.count)
        var points: [(user: Int32, events: Int)] = []
        for user in 0..<dataset.userCount {
            let count = dataset.sequences.items(of: user).count
            for events in stride(from: every, to: count, by: every) {
                points.append((Int32(user), events))
            }
            points.append((Int32(user), count))
        }
        /// The user's state after `events` of their events: the whole state at the end, else
        /// the first events alone, without the index.
        func state(after events: Int, of user: Int32) -> UserState {
            let items = dataset.sequences.items(of: Int(user))
            guard events < items.count else { return UserState(user: user, in: dataset) }
            return UserState(
                items: Array(items.prefix(events)),
                timestamps: Array(dataset.sequences.timestamps(of: Int(user)).prefix(events)),
                features: dataset.userInfo[Int(user)]?.attributes ?? [:])
        }
        let n = itemCount, chunk = 256
        var checkpoints = [[RetrievedCandidates.Checkpoint]](repeating: [], count: dataset.userCount)
        var start = 0
        while start < points.count {
            let end = min(start + chunk, points.count)
            let states = points[start..<end].map { state(after: $0.events, of: $0.user) }
            var scores = [Float](repeating: 0, count: states.count * n)
            scores.withUnsafeMutableBufferPointer { members[0].scoreBatch(states, into: $0) }
            scores.withUnsafeBufferPointer { all in
                for (k, state) in states.enumerated() {
                    let point = points[start + k]
                    let items = retrieved(UnsafeBufferPointer(rebasing: all[(k * n)..<((k + 1) * n)]), for: state)
                    checkpoints[Int(point.user)].append(.init(events: point.events, items: items))
                }
            }
            start = end
        }
        return RetrievedCandidates(checkpoints: checkpoints)
    }

    /// The top `candidates` of the retriever's `scores` for `state`, outside its history, best first.
    private func retrieved(_ scores: UnsafeBufferPointer<Float>, for state: UserState) -> [Int32] {
        historyFlags(state).withUnsafeBufferPointer { TopK.select(candidates, from: scores, excluded: $0) }
    }

    /// The first member's top `candidates` outside the user's history, best first, with the
    /// retriever's and the ranker's scores of each, both standardised over the candidates. A
    /// ranker that scores pairs (``PairScoring``) scores the candidates only.
    func cascadeCandidates(_ state: UserState) -> (items: [Int32], retriever: [Float], ranker: [Float]) {
        var first = [Float](repeating: 0, count: itemCount)
        first.withUnsafeMutableBufferPointer { members[0].score(state, into: $0) }
        let items = first.withUnsafeBufferPointer { retrieved($0, for: state) }
        var retriever = items.map { first[Int($0)] }
        var ranker: [Float]
        if let pairs = members[1] as? any PairScoring {
            ranker = pairs.logits(state, items: items)
        } else {
            let all = members[1].scores(for: state)
            ranker = items.map { all[Int($0)] }
        }
        retriever.withUnsafeMutableBufferPointer { Self.standardise($0) }
        ranker.withUnsafeMutableBufferPointer { Self.standardise($0) }
        return (items, retriever, ranker)
    }

    /// The retriever's share w of the order (score = (1 − w)·ranker + w·retriever over the
    /// candidates) with the best validation NDCG@10, in steps of 0.1: 1 keeps the retriever's
    /// order, 0 is the ranker alone, so the cascade is never worse than either on validation.
    private func tuneCascade(states: [UserState], targets: [Int32], progress: TrainingProgress?) -> Float {
        let lists = states.map(cascadeCandidates)
        let shares = stride(from: Float(0), through: 1.0001, by: 0.1).map { $0 }
        var best: (share: Float, ndcg: Double) = (0, -1)
        for share in shares {
            var total = 0.0
            for (u, list) in lists.enumerated() {
                guard let t = list.items.firstIndex(of: targets[u]) else { continue }
                let target = (1 - share) * list.ranker[t] + share * list.retriever[t]
                var above = 0
                for k in list.items.indices where k != t {
                    if (1 - share) * list.ranker[k] + share * list.retriever[k] >= target { above += 1 }
                }
                total += RankingOutcome.ndcg(rank: above, k: 10)
            }
            let ndcg = total / Double(max(lists.count, 1))
            if ndcg > best.ndcg + 1e-9 { best = (share, ndcg) }
        }
        progress?(
            .message(
                String(
                    format:
                        "cascade: %@ retrieves %d, %@ ranks; retriever share %.1f (validation NDCG@10 %.4f on %d users)",
                    members[0].name, candidates, members[1].name, best.share, best.ndcg, states.count)))
        return best.share
    }

    /// Scores minus their mean over the items, over their standard deviation.
    static func standardise(_ scores: inout [Float], row: Int, width: Int) {
        scores.withUnsafeMutableBufferPointer { s in
            standardise(UnsafeMutableBufferPointer(rebasing: s[(row * width)..<((row + 1) * width)]))
        }
    }

    static func standardise(_ s: UnsafeMutableBufferPointer<Float>) {
        guard !s.isEmpty else { return }
        var mean = 0.0, square = 0.0
        for v in s {
            mean += Double(v)
            square += Double(v) * Double(v)
        }
        mean /= Double(s.count)
        let deviation = (max(square / Double(s.count) - mean * mean, 0)).squareRoot()
        let scale = deviation > 1e-12 ? Float(1 / deviation) : 0
        for i in s.indices { s[i] = (s[i] - Float(mean)) * scale }
    }

    /// NDCG@10 of `targets` under the members' `scores` weighted by `w`, each user's `seen`
    /// items excluded, ties counted against.
    private func ndcg(_ w: [Float], scores: [[Float]], seen: [[Int32]], targets: [Int32]) -> Double {
        let n = itemCount
        var combined = [Float](repeating: 0, count: n)
        var excluded = [Bool](repeating: false, count: n)
        var total = 0.0
        for u in targets.indices {
            for j in 0..<n { combined[j] = 0 }
            for m in w.indices where w[m] != 0 {
                let weight = w[m], row = u * n
                scores[m].withUnsafeBufferPointer { s in for j in 0..<n { combined[j] += weight * s[row + j] } }
            }
            for i in seen[u] where i >= 0 && Int(i) < n { excluded[Int(i)] = true }
            let rank = combined.withUnsafeBufferPointer { s in
                excluded.withUnsafeBufferPointer {
                    RankingOutcome.rank(of: Int(targets[u]), scores: s, excluded: $0, limit: 10)
                }
            }
            for i in seen[u] where i >= 0 && Int(i) < n { excluded[Int(i)] = false }
            total += RankingOutcome.ndcg(rank: rank, k: 10)
        }
        return total / Double(max(targets.count, 1))
    }

    /// Coordinate search over weights in steps of 0.1 (sum kept at 1), best validation NDCG@10.
    private func tuneBlend(
        _ scores: [[Float]], states: [UserState], targets: [Int32], progress: TrainingProgress?
    ) -> [Float] {
        let seen = states.map(\.items)
        func evaluate(_ w: [Float]) -> Double { ndcg(w, scores: scores, seen: seen, targets: targets) }
        var best = members.map { _ in 1 / Float(members.count) }
        var bestValue = evaluate(best)
        // Each member alone is a candidate, so the blend is never worse than its best member on validation.
        for m in members.indices {
            var alone = [Float](repeating: 0, count: members.count)
            alone[m] = 1
            let value = evaluate(alone)
            if value > bestValue { (best, bestValue) = (alone, value) }
        }
        for _ in 0..<3 {
            var improved = false
            for m in members.indices {
                for step in stride(from: Float(0), through: 1, by: 0.1) {
                    var w = best
                    let rest = best.enumerated().filter { $0.offset != m }.reduce(Float(0)) { $0 + $1.element }
                    for k in w.indices where k != m {
                        w[k] = rest > 0 ? best[k] / rest * (1 - step) : (1 - step) / Float(w.count - 1)
                    }
                    w[m] = step
                    let value = evaluate(w)
                    if value > bestValue + 1e-9 {
                        (best, bestValue) = (w, value)
                        improved = true
                    }
                }
            }
            if !improved { break }
        }
        progress?(
            .message(
                String(
                    format: "blend: weights %@ (validation NDCG@10 %.4f on %d users)",
                    best.map { String(format: "%.2f", $0) }.joined(separator: ", "), bestValue, states.count)))
        return best
    }

    /// Features of item j for user row u: each member's standardised score and 1/(1 + rank) in
    /// its top list (0 outside it).
    private func features(_ scores: [[Float]], ranks: [[Int: Int]], row u: Int, item j: Int) -> [Float] {
        var f: [Float] = []
        for m in members.indices {
            f.append(scores[m][u * itemCount + j])
            f.append(ranks[m][j].map { 1 / Float(1 + $0) } ?? 0)
        }
        return f
    }

    /// The rank of each of the row's best `candidates` items outside the user's history; a
    /// partial selection, so no whole score row is sorted.
    private func topRanks(_ row: ArraySlice<Float>, excluded: [Bool]) -> [Int: Int] {
        let order = row.withUnsafeBufferPointer { scores in
            excluded.withUnsafeBufferPointer { TopK.select(candidates, from: scores, excluded: $0) }
        }
        return Dictionary(uniqueKeysWithValues: order.enumerated().map { (Int($0.element), $0.offset) })
    }

    /// True at the items of `state`'s history.
    private func historyFlags(_ state: UserState) -> [Bool] {
        var flags = [Bool](repeating: false, count: itemCount)
        flags.withUnsafeMutableBufferPointer { flags in
            state.items.withUnsafeBufferPointer { items in
                for i in items where i >= 0 && Int(i) < flags.count { flags[Int(i)] = true }
            }
        }
        return flags
    }

    /// Logistic regression: each validation target against the other items of the members' top
    /// lists, by gradient descent with a little L2.
    private func trainStack(_ scores: [[Float]], states: [UserState], targets: [Int32]) -> [Float] {
        let n = itemCount
        var generator = SplitMix64(seed: 0x5_7AC4)
        var rows: [[Float]] = [], labels: [Float] = []
        for (u, state) in states.enumerated() {
            let seen = historyFlags(state)
            let ranks = members.indices.map { topRanks(scores[$0][(u * n)..<((u + 1) * n)], excluded: seen) }
            let target = Int(targets[u])
            rows.append(features(scores, ranks: ranks, row: u, item: target))
            labels.append(1)
            // Hard negatives from the members' top lists, and random ones so the ranker also
            // learns how scores order the whole catalogue (hard ones alone invert it).
            var negatives = Set<Int>()
            for r in ranks { for (j, rank) in r where rank < 20 && j != target { negatives.insert(j) } }
            for _ in 0..<20 {
                let j = Int(generator.next() % UInt64(n))
                if j != target, !seen[j] { negatives.insert(j) }
            }
            for j in negatives.sorted() {
                rows.append(features(scores, ranks: ranks, row: u, item: j))
                labels.append(0)
            }
        }
        let width = 2 * members.count
        var w = [Float](repeating: 0, count: width + 1)
        let positiveWeight = Float(labels.count) / Float(max(labels.filter { $0 == 1 }.count, 1)) - 1
        for _ in 0..<300 {
            var gradient = [Float](repeating: 0, count: width + 1)
            for (x, y) in zip(rows, labels) {
                var z = w[width]
                for k in 0..<width { z += w[k] * x[k] }
                let p = 1 / (1 + expf(-z))
                let scale = (p - y) * (y == 1 ? positiveWeight : 1)
                for k in 0..<width { gradient[k] += scale * x[k] }
                gradient[width] += scale
            }
            for k in 0...width {
                w[k] -= 0.5 * (gradient[k] / Float(rows.count) + (k < width ? 1e-3 * w[k] : 0))
            }
        }
        return w
    }

    public func score(_ state: UserState, into scores: UnsafeMutableBufferPointer<Float>) {
        let n = itemCount
        switch kind {
        case .blend:
            var member = [Float](repeating: 0, count: n)
            for i in 0..<n { scores[i] = 0 }
            for (m, model) in members.enumerated() {
                member.withUnsafeMutableBufferPointer {
                    model.score(state, into: $0)
                    Self.standardise($0)
                }
                let w = weights[m]
                for i in 0..<n { scores[i] += w * member[i] }
            }
        case .stack:
            var member = [Float](repeating: 0, count: n)
            var all: [[Float]] = []
            var ranks: [[Int: Int]] = []
            let seen = historyFlags(state)
            for model in members {
                member.withUnsafeMutableBufferPointer {
                    model.score(state, into: $0)
                    Self.standardise($0)
                }
                all.append(member)
                ranks.append(topRanks(member[...], excluded: seen))
            }
            let width = 2 * members.count
            // The features of ``features(_:ranks:row:item:)``, summed in place: no array per item.
            for j in 0..<n {
                var z = weights[width]
                for m in members.indices {
                    z += weights[2 * m] * all[m][j] + weights[2 * m + 1] * (ranks[m][j].map { 1 / Float(1 + $0) } ?? 0)
                }
                scores[j] = z
            }
        case .cascade:
            // Items the first stage did not retrieve rank below every retrieved one.
            for j in 0..<n { scores[j] = -1e30 }
            let list = cascadeCandidates(state)
            let share = weights.first ?? 0
            for (k, item) in list.items.enumerated() {
                scores[Int(item)] = (1 - share) * list.ranker[k] + share * list.retriever[k]
            }
        }
    }

    public func save(to directory: URL) throws {
        for (m, member) in members.enumerated() {
            try member.save(to: directory.appendingPathComponent("member-\(m)"))
        }
        try ModelArtifact.write(
            manifest: ModelManifest(model: name, config: config.values, itemCount: itemCount),
            tensors: [:], to: directory)
    }

    public static func load(from directory: URL) throws -> FusionRecommender {
        let (manifest, _) = try ModelArtifact.read(from: directory)
        guard let kind = FusionKind(rawValue: manifest.model) else {
            throw ModelError.incompatibleArtifact("fusion: '\(manifest.model)' is not a fusion")
        }
        let config = try manifest.config(FusionConfig.self)
        let members = try config.members.indices.map {
            try ModelCatalog.load(from: directory.appendingPathComponent("member-\($0)"))
        }
        return try FusionRecommender(
            kind: kind, members: members, weights: config.weights, candidates: config.candidates)
    }
}

/// A fusion scores at a precision through the members that can (the others stay at float), so
/// `serve --quantize int8` and `evaluate --precisions float,int8` reach a cascade's retriever.
/// A fusion none of whose members can has no int8 scoring (``precisionSwitching(of:)`` is nil).
extension FusionRecommender: PrecisionSwitching {
    var switchingMembers: [any PrecisionSwitching] { members.compactMap { $0 as? any PrecisionSwitching } }
    public var hasInt8Scoring: Bool { switchingMembers.contains { $0.hasInt8Scoring } }
    public var scoringPrecision: ScoringPrecision { switchingMembers.first?.scoringPrecision ?? .float }
    public func setScoringPrecision(_ precision: ScoringPrecision) {
        for member in switchingMembers { member.setScoringPrecision(precision) }
    }
    public var scoringTableBytes: Int { switchingMembers.reduce(0) { $0 + $1.scoringTableBytes } }
}

extension FusionRecommender: CatalogueExtending {
    /// Extends every member with the same items; the weights stay as tuned. Throws when a member
    /// cannot take items in after training.
    public var canExtendCatalogue: Bool {
        members.allSatisfy { ($0 as? any CatalogueExtending)?.canExtendCatalogue == true }
    }

    public func extended(with items: [Item]) throws -> any Recommender {
        let grown = try members.map { member -> any Recommender in
            guard let extending = member as? any CatalogueExtending else {
                throw ModelError.invalidParameter(
                    name: "members",
                    reason: "\(member.name) cannot score items added after training; retrain to add them")
            }
            return try extending.extended(with: items)
        }
        return try FusionRecommender(kind: kind, members: grown, weights: weights, candidates: candidates)
    }

    public func reembedded(_ changes: [Int: Item]) throws -> any Recommender {
        let updated = try members.map { member -> any Recommender in
            guard let extending = member as? any CatalogueExtending else {
                throw ModelError.invalidParameter(
                    name: "members", reason: "\(member.name) cannot embed items again; retrain to change them")
            }
            return try extending.reembedded(changes)
        }
        return try FusionRecommender(kind: kind, members: updated, weights: weights, candidates: candidates)
    }
}

extension FusionRecommender: Explaining, FeatureExplaining {
    /// The member that decides the order explains it: a cascade's ranker first, then the
    /// retriever; a blend or stack asks its members in order. Empty when none can explain.
    private var explainingOrder: [any Recommender] { kind == .cascade ? members.reversed() : members }

    public func explain(_ item: Int32, for state: UserState, top: Int) -> [Attribution] {
        explain([item], for: state, top: top)[0]
    }

    public func explain(_ items: [Int32], for state: UserState, top: Int) -> [[Attribution]] {
        explain(items, for: state, top: top, method: .attention)
    }

    public func explain(
        _ items: [Int32], for state: UserState, top: Int, method: ExplanationMethod
    ) -> [[Attribution]] {
        for member in explainingOrder {
            guard let explainer = member as? any Explaining else { continue }
            let lists = explainer.explain(items, for: state, top: top, method: method)
            if lists.contains(where: { !$0.isEmpty }) { return lists }
        }
        return items.map { _ in [] }
    }

    /// Nil when no member reads features.
    public func explainFeatures(_ items: [Int32], for state: UserState, top: Int) -> [[FeatureAttribution]]? {
        for member in explainingOrder {
            if let explainer = member as? any FeatureExplaining {
                return explainer.explainFeatures(items, for: state, top: top)
            }
        }
        return nil
    }
}
