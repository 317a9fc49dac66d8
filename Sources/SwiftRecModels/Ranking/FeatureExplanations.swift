import Foundation
import SwiftRecData
import SwiftRecTensor

/// One feature's part in a feature model's score.
public struct FeatureAttribution: Sendable, Equatable, Codable {
    /// The field: `user.gender`, `item.year`, `item.categories`, `user` (the id), `item`, …
    public var field: String
    /// The value the model read, as the field knows it (`F`, `Comedy|Drama`, an id), or `unknown`.
    public var value: String
    /// Its signed share of the explanation: the score's drop when the field reads as unknown,
    /// over the sum of every field's drop in absolute value (so they sum to 1 in absolute value).
    public var weight: Float
}

/// A model that can say which of the user's and the item's features drove a score.
public protocol FeatureExplaining {
    /// For each of `items`, the `top` fields whose values most moved its score for `state`,
    /// largest share first; nil when the model reads no features (a fusion without a feature
    /// model).
    func explainFeatures(_ items: [Int32], for state: UserState, top: Int) -> [[FeatureAttribution]]?
}

extension FeatureRanker {
    /// One example per item for `state`, as ``logits(states:items:)`` scores them.
    func batch(for state: UserState, items: [Int32], network: Network, encoder: FeatureSpace.Encoder)
        -> FeatureBatch
    {
        Self.batch(
            [], items, histories: [state.items[...]],
            userRows: [encoder.userRows(user: state.user, features: state.features)],
            scenarios: [network.scenario(features: state.features, requested: state.scenario)], encoder: encoder,
            historyLength: options.history)
    }
}

extension FeatureRanker: FeatureExplaining {
    /// Occlusion: each field in turn reads as its "unknown" row (what a missing or unseen value
    /// reads as), and the field's part is how much the logit drops. For FM, whose logit is a
    /// sum over fields and pairs of fields, this is exact up to the pairs shared by two fields;
    /// for the deep models it is a one-field-at-a-time sensitivity, not an additive split. Every
    /// variant of every item is scored in one batch.
    public func explainFeatures(_ items: [Int32], for state: UserState, top: Int) -> [[FeatureAttribution]]? {
        guard let network, let encoder, !items.isEmpty, top > 0 else { return items.map { _ in [] } }
        let space = encoder.space
        let base = batch(for: state, items: items, network: network, encoder: encoder)
        // The fields in the batch's order: the single-valued ones, then the categories.
        let single = space.userFields + space.itemFields
        let categoryField = space.fields.first { $0.source == .itemCategories }
        let explained = single + (categoryField.map { [$0] } ?? [])
        let width = single.count, m = items.count, categoryWidth = space.categoryWidth
        // Variant 0 is the example itself; variant 1 + f has field f unknown.
        var rows: [Int32] = [], categories: [Int32] = [], scale: [Float] = [], history: [Int32] = []
        let baseScale = base.categoryScale.scalars
        for variant in 0...explained.count {
            for k in 0..<m {
                var own = Array(base.singleRows[(k * width)..<((k + 1) * width)])
                if variant >= 1 && variant <= width { own[variant - 1] = Int32(single[variant - 1].offset) }
                rows += own
                if categoryWidth > 0 {
                    if variant == width + 1, let categoryField {
                        categories.append(Int32(categoryField.offset))
                        categories += repeatElement(Int32(space.paddingRow), count: categoryWidth - 1)
                        scale.append(1)
                    } else {
                        categories += base.categoryRows[(k * categoryWidth)..<((k + 1) * categoryWidth)]
                        scale.append(baseScale[k])
                    }
                }
                history += base.history[(k * base.historyLength)..<((k + 1) * base.historyLength)]
            }
        }
        let count = (explained.count + 1) * m
        let variants = FeatureBatch(
            size: count, singleRows: rows, categoryRows: categories,
            categoryScale: Tensor(
                shape: [count, 1], scalars: categoryWidth > 0 ? scale : Array(repeating: 1, count: count)),
            items: Array((0...explained.count).map { _ in items }.joined()), history: history,
            historyLength: base.historyLength, scenarios: Array(repeating: base.scenarios[0], count: count))
        let logits = withNoGrad { network.logits(variants, encoder: encoder).value.scalars }
        return (0..<m).map { k in
            var parts: [(field: Int, drop: Float)] = explained.indices.map { f in
                (f, logits[k] - logits[(f + 1) * m + k])
            }
            let total = parts.reduce(Float(0)) { $0 + abs($1.drop) }
            guard total > 0 else { return [] }
            parts.sort { abs($0.drop) > abs($1.drop) }
            return parts.prefix(top).map { part in
                let field = explained[part.field]
                return FeatureAttribution(
                    field: field.name, value: Self.value(of: field, item: items[k], state: state, encoder: encoder),
                    weight: part.drop / total)
            }
        }
    }

    /// What `field` reads for `item` and `state`, as a person would name it.
    static func value(
        of field: FeatureSpace.Field, item: Int32, state: UserState, encoder: FeatureSpace.Encoder
    ) -> String {
        let space = encoder.space, i = Int(item)
        func named(_ row: Int32) -> String {
            let k = Int(row) - field.offset - 1
            return k >= 0 && k < field.vocabulary.count ? field.vocabulary[k] : "unknown"
        }
        switch field.source {
        case .userID:
            return state.user.map { $0 >= 0 && Int($0) < field.size - 1 } == true ? "known user" : "unknown"
        case .userAttribute: return state.features[field.key!] ?? "unknown"
        case .itemID: return "this item"
        case .itemAttribute:
            let index = space.itemFields.firstIndex(of: field)!
            return named(encoder.itemRows[i * space.itemFields.count + index])
        case .itemCategories:
            let w = space.categoryWidth
            return encoder.categoryRows[(i * w)..<((i + 1) * w)].filter { Int($0) != space.paddingRow }.map(named)
                .joined(separator: "|")
        }
    }
}

extension FeatureRanker: Explaining {
    /// History items: DIN's activation-unit weights of the user's recent items for the
    /// candidate (as shares of their absolute sum); models that read no history name none.
    public func explain(_ item: Int32, for state: UserState, top: Int) -> [Attribution] {
        explain([item], for: state, top: top)[0]
    }

    public func explain(_ items: [Int32], for state: UserState, top: Int) -> [[Attribution]] {
        guard let network, let encoder, Network.readsHistory, !state.items.isEmpty, top > 0 else {
            return items.map { _ in [] }
        }
        let examples = batch(for: state, items: items, network: network, encoder: encoder)
        guard let weights = withNoGrad({ network.historyWeights(examples, encoder: encoder) }) else {
            return items.map { _ in [] }
        }
        let length = examples.historyLength
        let shown = min(length, state.items.count)
        // The batch's history is right-aligned: slot s holds state item count − length + s.
        let first = state.items.count - length
        return items.indices.map { k in
            let row = weights[(k * length)..<((k + 1) * length)]
            let total = row.reduce(Float(0)) { $0 + abs($1) }
            guard total > 0 else { return [] }
            let slots = (length - shown..<length).sorted { abs(row[k * length + $0]) > abs(row[k * length + $1]) }
            return slots.prefix(top).map { s in
                Attribution(item: state.items[first + s], position: first + s, weight: row[k * length + s] / total)
            }
        }
    }
}
