import Foundation

/// One feature field of a generic record (a CSV/TSV field or a JSON Lines value).
enum FeatureValue {
    /// No such field, or JSON `null`.
    case absent
    case text(ArraySlice<UInt8>)
    /// A JSON list of strings and numbers (categories).
    case list([String])
    /// A JSON boolean, object, or a list holding something else.
    case wrongType

    /// Values read as "missing" rather than as a category of their own: the empty string and the
    /// usual spellings of a missing value in exported tables.
    static let missingSpellings: Set<String> = ["", "nan", "na", "n/a", "null", "none", "?"]
}

/// Reads the feature columns of generic records (``ImportOptions/userAttributes``,
/// ``ImportOptions/itemAttributes``, ``ImportOptions/itemCategories``, ``ImportOptions/itemTitle``)
/// into the import's users and items, so CSV, TSV and JSON Lines give the feature models the same
/// typed `User`/`Item` features as the MovieLens and Amazon importers.
///
/// A value spelled as missing (``FeatureValue/missingSpellings``, any case) is not stored, so the
/// feature rankers read it as the field's unknown value. A value of the wrong type (a JSON
/// boolean or object, a list where one value is expected) is dropped and the event kept; both are
/// counted per field in the report's notes with the first line. A later row's value replaces an
/// earlier one (attributes may change over time); how many users' attributes changed is noted.
struct FeatureColumnsReader {
    /// The attribute names, in the mapping's order.
    let userKeys: [String]
    let itemKeys: [String]
    let readsCategories: Bool
    let readsTitle: Bool
    let separator: UInt8
    private var missing: [String: (count: Int, firstLine: Int)] = [:]
    private var wrongType: [String: (count: Int, firstLine: Int)] = [:]
    private var changed: [String: Int] = [:]

    init(userKeys: [String], itemKeys: [String], readsCategories: Bool, readsTitle: Bool, separator: UInt8) {
        self.userKeys = userKeys
        self.itemKeys = itemKeys
        self.readsCategories = readsCategories
        self.readsTitle = readsTitle
        self.separator = separator
    }

    var isEmpty: Bool { userKeys.isEmpty && itemKeys.isEmpty && !readsCategories && !readsTitle }

    /// The text of a single-valued field, or nil (counted) when it is missing or of the wrong type.
    private mutating func single(_ value: FeatureValue, field: String, line: Int) -> String? {
        switch value {
        case .absent:
            note(&missing, field, line)
            return nil
        case .text(let bytes):
            let text = String(decoding: bytes.trimmingSpaces, as: UTF8.self)
            if FeatureValue.missingSpellings.contains(text.lowercased()) {
                note(&missing, field, line)
                return nil
            }
            return text
        case .list, .wrongType:
            note(&wrongType, field, line)
            return nil
        }
    }

    private func note(_ counts: inout [String: (count: Int, firstLine: Int)], _ field: String, _ line: Int) {
        let seen = counts[field]
        counts[field] = ((seen?.count ?? 0) + 1, seen?.firstLine ?? line)
    }

    /// Adds one kept record's features: `userValues` and `itemValues` in the order of the keys.
    mutating func add(
        user: Int32, item: Int32, userValues: [FeatureValue], itemValues: [FeatureValue], categories: FeatureValue,
        title: FeatureValue, line: Int, into sink: inout ImportSink
    ) {
        if !userKeys.isEmpty {
            var record = sink.userInfo[user] ?? User(id: sink.users.map.id(at: user))
            for (key, value) in zip(userKeys, userValues) {
                guard let text = single(value, field: "user attribute '\(key)'", line: line) else { continue }
                if let old = record.attributes[key], old != text { changed[key, default: 0] += 1 }
                record.attributes[key] = text
            }
            sink.userInfo[user] = record
        }
        guard !itemKeys.isEmpty || readsCategories || readsTitle else { return }
        var record = sink.itemInfo[item] ?? Item(id: sink.items.map.id(at: item))
        for (key, value) in zip(itemKeys, itemValues) {
            guard let text = single(value, field: "item attribute '\(key)'", line: line) else { continue }
            record.attributes[key] = text
        }
        if readsTitle, let text = single(title, field: "item title", line: line) { record.title = text }
        if readsCategories {
            switch categories {
            case .list(let values):
                record.categories = values.filter { !FeatureValue.missingSpellings.contains($0.lowercased()) }
            case .text(let bytes):
                record.categories = bytes.split(separator: separator).map {
                    String(decoding: $0.trimmingSpaces, as: UTF8.self)
                }.filter { !FeatureValue.missingSpellings.contains($0.lowercased()) }
            case .absent: note(&missing, "item categories", line)
            case .wrongType: note(&wrongType, "item categories", line)
            }
        }
        sink.itemInfo[item] = record
    }

    /// What the report says about the feature columns once the file is read.
    func addNotes(to report: inout ImportReport) {
        for (field, seen) in missing.sorted(by: { $0.key < $1.key }) {
            report.notes.append(
                "\(field): \(seen.count) values missing (first at line \(seen.firstLine)); read as unknown")
        }
        for (field, seen) in wrongType.sorted(by: { $0.key < $1.key }) {
            report.notes.append(
                "\(field): \(seen.count) values not a string or a number (first at line \(seen.firstLine)); "
                    + "dropped, events kept")
        }
        for (key, count) in changed.sorted(by: { $0.key < $1.key }) {
            report.notes.append("user attribute '\(key)' changed \(count) times between rows; the latest value is kept")
        }
    }
}
