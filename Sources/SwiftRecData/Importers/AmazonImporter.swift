import Foundation

/// Reads the Amazon JSON pair of the LC-Rec/LETTER preprocessing (e.g. `Scientific.inter.json`
/// and `Scientific.item.json`) from a directory:
/// - `*.inter.json` (required): one object `{"user": [item, …]}` with each user's items in time
///   order; each item becomes a view event whose timestamp is its position (0, 1, …);
/// - `*.item.json` (optional): `{"item": {"title", "description", "brand", "categories"}}`;
///   `categories` (a comma-joined path or a list) → categories, `brand` → attribute `brand`.
///
/// Users keep the order of the file. A bad entry (not a list, an id that is neither a string nor
/// an integer, an item missing from the item file) rejects that user or item with the line its
/// key is on; the other entries are kept.
public enum AmazonImporter {
    public static func read(directory: URL, options: ImportOptions = .init()) throws -> (
        dataset: Dataset, report: ImportReport
    ) {
        try ImportFiles.requireDirectory(directory, format: .amazon)
        var sink = ImportSink(options: options)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        let interNames = names.filter { $0.hasSuffix(".inter.json") }
        guard let interName = interNames.first else {
            throw ImportError.unreadable(
                path: directory.appendingPathComponent("*.inter.json").path, reason: "no such file")
        }
        if interNames.count > 1 {
            sink.report.notes.append("several *.inter.json files; reading \(interName)")
        }
        let interURL = directory.appendingPathComponent(interName)
        try ImportFiles.requireFile(interURL)
        let stem = String(interName.dropLast(".inter.json".count))
        let itemURL = ImportFiles.optionalFile(
            stem + ".item.json", in: directory, purpose: "items have no text", report: &sink.report)
        if let itemURL { try readItems(itemURL, into: &sink) }
        try readInteractions(interURL, knownItems: itemURL?.lastPathComponent, into: &sink)
        if let itemURL { sink.noteItemsWithoutEvents(from: itemURL.lastPathComponent) }
        return sink.finish()
    }

    private static func load(_ url: URL) throws -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw ImportError.unreadable(path: url.path, reason: error.localizedDescription)
        }
    }

    /// A JSON id: a string, or an integer number.
    private static func id(_ value: Any) -> String? {
        if let s = value as? String { return s }
        return JSONValues.integerText(value)
    }

    static func readItems(_ url: URL, into sink: inout ImportSink) throws {
        let file = url.lastPathComponent
        let bytes = try load(url)
        sink.report.linesRead += ImportFiles.lineCount(bytes)
        let (entries, failure) = JSONObjectScanner.entries(of: bytes)
        for entry in entries {
            guard let object = JSONObjectScanner.value(of: entry) as? [String: Any] else {
                sink.report.reject(
                    file: file, line: entry.line, reason: "item is not a JSON object", detail: "item '\(entry.key)'")
                continue
            }
            guard !entry.key.isEmpty else {
                sink.report.reject(file: file, line: entry.line, reason: "item id is empty")
                continue
            }
            if sink.items.index(of: entry.key) != nil {
                sink.report.reject(file: file, line: entry.line, reason: "duplicate item id", detail: "'\(entry.key)'")
                continue
            }
            func text(_ key: String) -> String? {
                guard let s = object[key] as? String, !s.isEmpty else { return nil }
                return s
            }
            var categories: [String] = []
            if let path = object["categories"] as? String {
                categories = path.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
            } else if let list = object["categories"] as? [Any] {
                categories = list.compactMap { $0 as? String }
            }
            var attributes: [String: String] = [:]
            if let brand = text("brand") { attributes["brand"] = brand }
            sink.itemInfo[sink.items.intern(entry.key)] = Item(
                id: entry.key, title: text("title"), description: text("description"), categories: categories,
                attributes: attributes)
            sink.report.recordsKept += 1
        }
        if let failure {
            sink.report.reject(file: file, line: failure.line, reason: "invalid JSON", detail: failure.detail)
        }
    }

    static func readInteractions(_ url: URL, knownItems: String?, into sink: inout ImportSink) throws {
        let file = url.lastPathComponent
        let bytes = try load(url)
        sink.report.linesRead += ImportFiles.lineCount(bytes)
        let (entries, failure) = JSONObjectScanner.entries(of: bytes)
        var itemIndices: [Int32] = []
        entries: for entry in entries {
            guard let list = JSONObjectScanner.value(of: entry) as? [Any] else {
                sink.report.reject(
                    file: file, line: entry.line, reason: "items are not a JSON list", detail: "user '\(entry.key)'")
                continue
            }
            guard !entry.key.isEmpty else {
                sink.report.reject(file: file, line: entry.line, reason: "user id is empty")
                continue
            }
            guard !list.isEmpty else {
                sink.report.reject(file: file, line: entry.line, reason: "user has no items", detail: "'\(entry.key)'")
                continue
            }
            if sink.users.index(of: entry.key) != nil {
                sink.report.reject(file: file, line: entry.line, reason: "duplicate user id", detail: "'\(entry.key)'")
                continue
            }
            // Check the whole list first: a user's order would be wrong with an item left out.
            itemIndices.removeAll(keepingCapacity: true)
            for (position, element) in list.enumerated() {
                guard let itemID = id(element), !itemID.isEmpty else {
                    sink.report.reject(
                        file: file, line: entry.line, reason: "item id is not a string or an integer",
                        detail: "user '\(entry.key)', position \(position)")
                    continue entries
                }
                if let knownItems {
                    guard let known = sink.items.index(of: itemID) else {
                        sink.report.reject(
                            file: file, line: entry.line, reason: "unknown item in \(knownItems)",
                            detail: "user '\(entry.key)', item '\(itemID)'")
                        continue entries
                    }
                    itemIndices.append(known)
                } else {
                    itemIndices.append(sink.items.intern(itemID))
                }
            }
            let user = sink.users.intern(entry.key)
            for (position, item) in itemIndices.enumerated() {
                sink.addEvent(user: user, item: item, timestamp: Int64(position), value: nil, type: .view)
            }
            sink.report.recordsKept += itemIndices.count
        }
        if let failure {
            sink.report.reject(file: file, line: failure.line, reason: "invalid JSON", detail: failure.detail)
        }
    }
}
