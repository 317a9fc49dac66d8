import Foundation

/// Reads the sequence format: one user per line, item ids separated by spaces (or tabs) in
/// time order. Line n (from 1) is user "n"; an item's timestamp is its position in the line.
///
/// A token that is not a non-negative integer rejects its whole line (the user's order would
/// be wrong without it); blank lines are skipped and counted.
public enum SequenceImporter {
    public static func read(url: URL) throws -> (dataset: Dataset, report: ImportReport) {
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw ImportError.unreadable(path: url.path, reason: "no such readable file")
        }
        var users = IDMap(), items = IDMap()
        var log = InteractionLog()
        var report = ImportReport()
        let file = url.lastPathComponent
        var lineNumber = 0
        for line in LineReader(url: url) {
            lineNumber += 1
            report.linesRead += 1
            let tokens = line.fields(separatedBy: 0x20, collapse: true).flatMap {
                $0.fields(separatedBy: 0x09, collapse: true)
            }
            if tokens.isEmpty {
                report.reject(file: file, line: lineNumber, reason: "blank line")
                continue
            }
            guard let bad = tokens.firstIndex(where: { $0.unsignedInteger == nil }) else {
                let user = users.intern(String(lineNumber))
                for (position, token) in tokens.enumerated() {
                    let item = items.intern(String(token.unsignedInteger!))
                    log.append(user: user, item: item, timestamp: Int64(position), value: .nan, type: .view)
                }
                report.recordsKept += tokens.count
                continue
            }
            report.reject(
                file: file, line: lineNumber, reason: "item id is not a non-negative integer",
                detail: "token \(bad + 1) is '\(String(decoding: tokens[bad].prefix(40), as: UTF8.self))'")
        }
        return (Dataset(users: users, items: items, log: log), report)
    }
}
