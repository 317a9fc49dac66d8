import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecTensor
import Synchronization

/// A trained model with the item and user ids its indices refer to. Scoring only reads the
/// model, so one instance serves concurrent requests.
public final class ServableModel: @unchecked Sendable {
    public let name: String
    public let model: any Recommender
    /// Item index ↔ id of the data the model was trained on.
    public let items: IDMap
    /// User index ↔ id of the data the model was trained on, so a served user is the trained
    /// user (BPR starts from their vector, user-kNN leaves their own row out); nil for a model
    /// saved without its user ids, which then serves every user as new.
    public let users: IDMap?

    /// Distinct for every instance ever made: results computed from one are never taken for
    /// another's, even when a freed instance's memory is reused.
    public let serial: Int

    private static let instances = Atomic<Int>(0)

    public init(name: String, model: any Recommender, items: IDMap, users: IDMap? = nil) {
        precondition(
            model.itemCount == items.count, "ServableModel: \(model.itemCount) scores for \(items.count) items")
        self.name = name
        self.model = model
        self.items = items
        self.users = users
        serial = Self.instances.add(1, ordering: .relaxed).newValue
    }

    private let vectorCache = Mutex<Tensor??>(nil)
    /// The catalogue's text index for queries: built once, by the first query; concurrent
    /// first queries wait for the same build.
    let queryIndexBuild = Mutex<Task<QueryIndex, any Error>?>(nil)

    /// The model's item vectors ([items, dim]) when it has them, read once.
    public var itemVectors: Tensor? {
        vectorCache.withLock { cache in
            if let cached = cache { return cached }
            let vectors = (model as? any ItemVectorProviding)?.itemVectors
            cache = .some(vectors)
            return vectors
        }
    }
}

extension ServableModel {
    /// The state the evaluator gives this model for the same user and history
    /// (``UserState/init(user:in:)``): the user's index in the training data, every event of
    /// the history the model knows the item of, oldest first, and the features and scenario.
    /// A model that reads a window (a sequence model's `max-len`) takes it from this whole
    /// history, offline and served alike.
    public func state(
        user: String?, history: UserHistory, features: [String: String] = [:], scenario: String? = nil
    ) -> UserState {
        var items: [Int32] = [], timestamps: [Int64] = []
        items.reserveCapacity(history.count)
        timestamps.reserveCapacity(history.count)
        for (item, time) in zip(history.items, history.timestamps) {
            guard let index = self.items.index(of: item) else { continue }
            items.append(index)
            timestamps.append(time)
        }
        return UserState(
            user: user.flatMap { users?.index(of: $0) }, items: items, timestamps: timestamps, features: features,
            scenario: scenario)
    }
}

/// The model that answers requests. Swapping is atomic: a request sees the old model or the
/// new one, never a mix.
public final class ActiveModel: Sendable {
    private let slot: Mutex<ServableModel?>

    public init(_ model: ServableModel? = nil) { slot = Mutex(model) }

    public var current: ServableModel? { slot.withLock { $0 } }

    public func activate(_ model: ServableModel) { slot.withLock { $0 = model } }
}
