import Foundation
import SwiftRecData

/// How users, items and their features become rows of one embedding table, as the feature
/// rankers (``FeatureRanker``) read them.
///
/// A *field* is one feature: the user id, the item id, one user attribute (`gender`, `age`,
/// `occupation`, `zip`, …), one item attribute (`year`, …) and the item's categories (genres),
/// which is multi-valued and read as the mean of its values' vectors. Each field owns a range of
/// rows starting at ``Field/offset``; its row 0 is "unknown": a value missing, rarer than
/// `minCount`, beyond the `maxVocabulary` most frequent, or never seen in training (a new user's
/// id). So a high-cardinality field like `zip` is a vocabulary of its frequent values, and a new
/// user with attributes is still read through them. The last row of the table is padding
/// (zero, no gradient) for items with fewer categories than the widest.
public struct FeatureSpace: Codable, Sendable, Equatable {
    /// Where a field's value comes from.
    public enum Source: String, Codable, Sendable {
        case userID, itemID, userAttribute, itemAttribute, itemCategories
    }

    public struct Field: Codable, Sendable, Equatable {
        /// `user`, `item`, `user.gender`, `item.year`, `item.categories`, …
        public var name: String
        public var source: Source
        /// The attribute key, for attribute fields.
        public var key: String?
        /// The known values (row `offset + 1 + k` is `vocabulary[k]`); empty for id fields.
        public var vocabulary: [String]
        /// Rows this field owns, unknown included.
        public var size: Int
        /// The field's first row in the table.
        public var offset: Int
    }

    /// User fields first (id, then attributes), then item fields (id, attributes, categories).
    public private(set) var fields: [Field]
    /// The most categories one item has: the width multi-valued indices are padded to.
    public private(set) var categoryWidth: Int
    /// Rows in the embedding table, padding included.
    public private(set) var rowCount: Int
    /// The scenarios the training events happened in, most events first; nil when no event
    /// names one (and in models saved before events kept their scenario).
    public private(set) var scenarioNames: [String]?

    /// The padding row (zero, never trained).
    public var paddingRow: Int { rowCount - 1 }
    public var userFields: [Field] { fields.filter { $0.source == .userID || $0.source == .userAttribute } }
    /// The single-valued item fields (id and attributes).
    public var itemFields: [Field] { fields.filter { $0.source == .itemID || $0.source == .itemAttribute } }
    public var hasCategories: Bool { fields.contains { $0.source == .itemCategories } }
    /// Vectors per example: one per single-valued field and one for the categories.
    public var fieldCount: Int { userFields.count + itemFields.count + (hasCategories ? 1 : 0) }

    /// Which features to read and how large their vocabularies may be.
    public struct Selection: Sendable, Equatable {
        /// User attribute keys to read; nil reads every key some user has.
        public var userAttributes: [String]?
        /// Item attribute keys to read (`categories` names the categories); nil reads all.
        public var itemAttributes: [String]?
        public var minCount = 2
        public var maxVocabulary = 10_000

        public init(
            userAttributes: [String]? = nil, itemAttributes: [String]? = nil, minCount: Int = 2,
            maxVocabulary: Int = 10_000
        ) {
            self.userAttributes = userAttributes
            self.itemAttributes = itemAttributes
            self.minCount = minCount
            self.maxVocabulary = maxVocabulary
        }
    }

    /// The fields `dataset` has. With every key selected (nil), a key whose values map one to
    /// one onto an earlier key's (ML-1M's `occupation` and `occupation_code`) is read once.
    public init(dataset: Dataset, selection: Selection = .init()) {
        var fields: [Field] = []
        var offset = 0
        func add(_ name: String, _ source: Source, key: String? = nil, vocabulary: [String] = [], size: Int) {
            fields.append(
                Field(name: name, source: source, key: key, vocabulary: vocabulary, size: size, offset: offset))
            offset += size
        }
        add("user", .userID, size: dataset.userCount + 1)
        let userRecords = dataset.userInfo.map { $0?.attributes ?? [:] }
        for key in Self.keys(in: userRecords, selected: selection.userAttributes) {
            let vocabulary = Self.vocabulary(userRecords.compactMap { $0[key] }, selection)
            add("user.\(key)", .userAttribute, key: key, vocabulary: vocabulary, size: vocabulary.count + 1)
        }
        add("item", .itemID, size: dataset.itemCount + 1)
        let itemRecords = dataset.itemInfo.map { $0?.attributes ?? [:] }
        for key in Self.keys(in: itemRecords, selected: selection.itemAttributes) where key != "categories" {
            let vocabulary = Self.vocabulary(itemRecords.compactMap { $0[key] }, selection)
            add("item.\(key)", .itemAttribute, key: key, vocabulary: vocabulary, size: vocabulary.count + 1)
        }
        let readsCategories = selection.itemAttributes.map { $0.contains("categories") } ?? true
        let categories = dataset.itemInfo.flatMap { $0?.categories ?? [] }
        var width = 0
        if readsCategories && !categories.isEmpty {
            let vocabulary = Self.vocabulary(categories, selection)
            add("item.categories", .itemCategories, vocabulary: vocabulary, size: vocabulary.count + 1)
            width = dataset.itemInfo.reduce(1) { max($0, $1?.categories.count ?? 0) }
        }
        self.fields = fields
        self.categoryWidth = width
        self.rowCount = offset + 1
        var scenarioCounts = [Int](repeating: 0, count: dataset.scenarios.count)
        for s in dataset.log.scenarios where s != InteractionLog.noScenario { scenarioCounts[Int(s)] += 1 }
        let named = scenarioCounts.indices.filter { scenarioCounts[$0] > 0 }
            .sorted {
                (-scenarioCounts[$0], dataset.scenarios.ids[$0]) < (-scenarioCounts[$1], dataset.scenarios.ids[$1])
            }
        scenarioNames = named.isEmpty ? nil : named.map { dataset.scenarios.ids[$0] }
    }

    /// The attribute keys to read: the selected ones, or every key without its one-to-one duplicates.
    static func keys(in records: [[String: String]], selected: [String]?) -> [String] {
        if let selected { return selected }
        let all = Set(records.flatMap(\.keys)).sorted()
        var kept: [String] = []
        for key in all {
            let duplicate = kept.contains { earlier in
                var forward: [String: String] = [:], backward: [String: String] = [:]
                for record in records {
                    let a = record[earlier] ?? "", b = record[key] ?? ""
                    if forward[a, default: b] != b || backward[b, default: a] != a { return false }
                    forward[a] = b
                    backward[b] = a
                }
                return true
            }
            if !duplicate { kept.append(key) }
        }
        return kept
    }

    /// The values seen at least `minCount` times, most frequent first (ties by value), at most `maxVocabulary`.
    static func vocabulary(_ values: [String], _ selection: Selection) -> [String] {
        var counts: [String: Int] = [:]
        for value in values { counts[value, default: 0] += 1 }
        return counts.filter { $0.value >= selection.minCount }
            .sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            .prefix(selection.maxVocabulary).map(\.key)
    }

    /// Looks values up; built once per model from ``fields``.
    public struct Encoder: Sendable {
        public let space: FeatureSpace
        private let lookups: [[String: Int32]]
        /// Per item: its single-valued item fields' rows, `itemFields.count` each.
        public let itemRows: [Int32]
        /// Per item: its categories' rows, padded to `categoryWidth`, and how many are real.
        public let categoryRows: [Int32]
        public let categoryCounts: [Float]

        /// The items' rows, as a saved model kept them.
        public init(space: FeatureSpace, itemRows: [Int32], categoryRows: [Int32], categoryCounts: [Float]) {
            self.space = space
            lookups = Self.lookups(space)
            self.itemRows = itemRows
            self.categoryRows = categoryRows
            self.categoryCounts = categoryCounts
        }

        static func lookups(_ space: FeatureSpace) -> [[String: Int32]] {
            space.fields.map { field in
                Dictionary(
                    uniqueKeysWithValues: field.vocabulary.enumerated().map { ($0.element, Int32($0.offset + 1)) })
            }
        }

        /// The items the rows cover.
        public var itemCount: Int { space.itemFields.isEmpty ? 0 : itemRows.count / space.itemFields.count }

        public init(space: FeatureSpace, items: [Item?]) {
            self.space = space
            let lookups = Self.lookups(space)
            self.lookups = lookups
            var itemRows: [Int32] = []
            var categoryRows: [Int32] = []
            var categoryCounts: [Float] = []
            let itemFieldIndices = space.fields.indices.filter {
                space.fields[$0].source == .itemID || space.fields[$0].source == .itemAttribute
            }
            let categoryField = space.fields.firstIndex { $0.source == .itemCategories }
            let itemCount = space.fields.first { $0.source == .itemID }.map { $0.size - 1 } ?? 0
            for i in 0..<itemCount {
                let item = i < items.count ? items[i] : nil
                for f in itemFieldIndices {
                    let field = space.fields[f]
                    switch field.source {
                    case .itemID: itemRows.append(Int32(field.offset + 1 + i))
                    default:
                        let value = item?.attributes[field.key!]
                        itemRows.append(Int32(field.offset) + (value.flatMap { lookups[f][$0] } ?? 0))
                    }
                }
                if let c = categoryField {
                    let field = space.fields[c]
                    var rows = (item?.categories ?? []).prefix(space.categoryWidth).map {
                        Int32(field.offset) + (lookups[c][$0] ?? 0)
                    }
                    if rows.isEmpty { rows = [Int32(field.offset)] }
                    categoryCounts.append(Float(rows.count))
                    rows += Array(repeating: Int32(space.paddingRow), count: space.categoryWidth - rows.count)
                    categoryRows += rows
                }
            }
            self.itemRows = itemRows
            self.categoryRows = categoryRows
            self.categoryCounts = categoryCounts
        }

        /// The rows of a user's fields: their id (unknown for a new user) and attributes.
        public func userRows(user: Int32?, features: [String: String]) -> [Int32] {
            var rows: [Int32] = []
            for (f, field) in space.fields.enumerated() {
                switch field.source {
                case .userID:
                    let known = user.map { $0 >= 0 && Int($0) < field.size - 1 } ?? false
                    rows.append(Int32(field.offset) + (known ? user! + 1 : 0))
                case .userAttribute:
                    rows.append(Int32(field.offset) + (features[field.key!].flatMap { lookups[f][$0] } ?? 0))
                default: continue
                }
            }
            return rows
        }
    }
}
