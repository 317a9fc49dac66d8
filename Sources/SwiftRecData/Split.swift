/// Items held out for some users, for evaluation: `items[k]` belongs to `users[k]`.
public struct HeldOut: Sendable, Equatable {
    public var users: [Int32]
    public var items: [[Int32]]

    public init(users: [Int32] = [], items: [[Int32]] = []) {
        precondition(users.count == items.count, "HeldOut: \(users.count) users but \(items.count) item lists")
        self.users = users
        self.items = items
    }

    public var isEmpty: Bool { users.isEmpty }
}

/// A dataset divided for evaluation. All parts share the full dataset's id maps, so an
/// index means the same user or item everywhere.
public struct Split: Sendable {
    /// How the split was made, for reports (e.g. "leave-one-out by time").
    public let name: String
    /// The events models fit on.
    public let train: Dataset
    /// Held out for validation; scored against `train` as history.
    public let validation: HeldOut
    /// Held out for testing; scored against `trainWithValidation` as history.
    public let test: HeldOut
    /// `train` plus the validation events: the history when testing.
    public let trainWithValidation: Dataset

    public init(name: String, train: Dataset, validation: HeldOut, test: HeldOut, trainWithValidation: Dataset) {
        self.name = name
        self.train = train
        self.validation = validation
        self.test = test
        self.trainWithValidation = trainWithValidation
    }
}
