/// What an import read, kept and rejected, with the first problems by file and line.
public struct ImportReport: Sendable, Equatable, CustomStringConvertible {
    /// One rejected line.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public let file: String
        public let line: Int
        public let reason: String
        public var description: String { "\(file):\(line): \(reason)" }
    }

    public var linesRead = 0
    public var recordsKept = 0
    /// Rejected lines by reason.
    public var rejected: [String: Int] = [:]
    /// The first ``maximumProblems`` problems in file order.
    public private(set) var problems: [Problem] = []
    public let maximumProblems: Int
    /// Facts about the import that are not problems with a line: a missing optional file,
    /// how a field was interpreted, items listed without events, …
    public var notes: [String] = []

    public init(maximumProblems: Int = 100) { self.maximumProblems = maximumProblems }

    public var rejectedCount: Int { rejected.values.reduce(0, +) }

    /// Records a rejected line.
    public mutating func reject(file: String, line: Int, reason: String, detail: String? = nil) {
        rejected[reason, default: 0] += 1
        if problems.count < maximumProblems {
            problems.append(Problem(file: file, line: line, reason: detail.map { "\(reason): \($0)" } ?? reason))
        }
    }

    public var description: String {
        var text = "read \(linesRead) lines, kept \(recordsKept), rejected \(rejectedCount)"
        for (reason, n) in rejected.sorted(by: { $0.key < $1.key }) { text += "\n  \(n) × \(reason)" }
        for p in problems.prefix(10) { text += "\n  \(p)" }
        for note in notes { text += "\n  note: \(note)" }
        return text
    }
}
