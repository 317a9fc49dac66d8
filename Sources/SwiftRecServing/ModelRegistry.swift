import Foundation
import SwiftRecData
import SwiftRecModels
import Synchronization

/// A model the service can answer with, and its record in the store.
public struct RegisteredModel: Sendable {
    public let servable: ServableModel
    public let record: ModelRecord
}

/// A registered model and what went wrong with it (loading at start, taking in new items).
public struct ModelFailure: Sendable, Equatable {
    public let name: String
    public let reason: String
}

extension ServableModel {
    /// Loads a model saved by `swiftrec train --out` (or by the service), named `name`
    /// (default: the directory's name).
    public static func load(from directory: URL, name: String? = nil) throws -> ServableModel {
        let model = try ModelCatalog.load(from: directory)
        return ServableModel(
            name: name ?? directory.lastPathComponent, model: model,
            items: try ModelArtifact.readItemIDs(from: directory), users: try ModelArtifact.readUserIDs(from: directory)
        )
    }
}

/// The registry of models the service answers with. Every change is written to the store
/// first, so the models and the active choice survive a restart: models trained by the service
/// are saved under its model directory, models given by path are recorded by path.
final class ModelRegistry: Sendable {
    private let loaded = Mutex<[String: RegisteredModel]>([:])
    /// Serialises registry changes so the store's record and the memory never disagree.
    private let changes = ChangeLock()

    var all: [RegisteredModel] { loaded.withLock { $0.values.sorted { $0.record.name < $1.record.name } } }

    func model(named name: String) -> RegisteredModel? { loaded.withLock { $0[name] } }

    func withChange<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await changes.acquire()
        do {
            let result = try await body()
            await changes.release()
            return result
        } catch {
            await changes.release()
            throw error
        }
    }

    func put(_ entry: RegisteredModel) { loaded.withLock { $0[entry.record.name] = entry } }

    func remove(_ name: String) { _ = loaded.withLock { $0.removeValue(forKey: name) } }

    var isEmpty: Bool { loaded.withLock { $0.isEmpty } }
}

/// A lock held across suspension points (first come, first served).
actor ChangeLock {
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { held = false } else { waiting.removeFirst().resume() }
    }
}

extension RecommendationService {
    /// Adds `model` to the registry: saves it under ``modelDirectory`` unless `directory` says
    /// where it is already saved, records it in the store, then makes it servable. The first
    /// model, or any with `activate`, becomes active. A model of the same name is replaced.
    public func install(
        _ model: ServableModel, directory: URL? = nil, metrics: [String: Double] = [:], activate: Bool = false
    ) async throws {
        // Written before the registry is locked: saving a large model must not hold up other
        // registry changes (or every PUT /items).
        var saved = directory.map(recordedPath)
        if saved == nil, let root = modelDirectory {
            saved = recordedPath(try Self.save(model, under: root))
        }
        try await registry.withChange {
            // Replacing the active model keeps the name active with the new instance.
            let replacesActive = registry.model(named: model.name).map { $0.servable === self.active.current } ?? false
            let makeActive = activate || registry.isEmpty || replacesActive
            let record = ModelRecord(
                name: model.name, type: model.model.name, directory: saved, items: model.items.count,
                metrics: metrics.filter { $0.value.isFinite }, active: makeActive)
            try await store.saveModel(record)
            registry.put(RegisteredModel(servable: model, record: record))
            if makeActive { self.active.activate(model) }
        }
        // Items stored while it trained (or since it was saved) are taken in now.
        if (model.model as? any CatalogueExtending)?.canExtendCatalogue == true {
            try await extendCataloguesFromStore()
        }
    }

    /// Loads every model the store's registry records and re-activates the one that was active
    /// (else the first loaded). Models that fail to load stay recorded and are reported; a
    /// record without saved files (trained by a process with no model directory) is dropped.
    @discardableResult
    public func restoreModels() async throws -> [ModelFailure] {
        var failures: [ModelFailure] = []
        try await registry.withChange {
            var first: RegisteredModel?
            var recordedActive: RegisteredModel?
            for record in try await store.modelRecords() {
                guard let directory = resolvedDirectory(of: record) else {
                    _ = try await store.deleteModel(record.name)
                    continue
                }
                do {
                    let model = try ServableModel.load(from: directory, name: record.name)
                    let entry = RegisteredModel(servable: model, record: record)
                    registry.put(entry)
                    first = first ?? entry
                    if record.active { recordedActive = entry }
                } catch {
                    failures.append(ModelFailure(name: record.name, reason: "\(directory.path): \(error)"))
                }
            }
            // When the recorded choice did not load, serve the first model without recording it:
            // the operator's choice stands for when its files are back.
            if let chosen = recordedActive ?? first { self.active.activate(chosen.servable) }
        }
        return failures
    }

    /// Makes a registered model the active one, durably; false when no model has that name.
    public func activate(_ name: String) async throws -> Bool {
        try await registry.withChange {
            guard let entry = registry.model(named: name) else { return false }
            try await markActive(entry)
            return true
        }
    }

    /// Records `entry` as the active model in the store, then swaps it in.
    private func markActive(_ entry: RegisteredModel) async throws {
        guard try await store.activateModel(entry.record.name) else {
            throw ModelError.incompatibleArtifact("the store has no record of model '\(entry.record.name)'")
        }
        self.active.activate(entry.servable)
    }

    /// Removes a model that is not active from the registry, and its files when the service
    /// saved them. Throws ``ModelRemovalError`` for the active model; false when unknown.
    public func removeModel(_ name: String) async throws -> Bool {
        try await registry.withChange {
            guard let entry = registry.model(named: name) else { return false }
            guard self.active.current !== entry.servable else { throw ModelRemovalError.active(name) }
            _ = try await store.deleteModel(name)
            registry.remove(name)
            if ownsFiles(of: entry.record), let directory = resolvedDirectory(of: entry.record) {
                try? FileManager.default.removeItem(at: directory)
            }
            return true
        }
    }

    /// The registered models by name; `record.active` tells the one answering requests.
    public var models: [RegisteredModel] {
        let current = active.current
        return registry.all.map { entry in
            var record = entry.record
            record.active = entry.servable === current
            return RegisteredModel(servable: entry.servable, record: record)
        }
    }

    /// Adds the items a registered model does not know to every model that can take them in
    /// (``CatalogueExtending``: content models, content-aware SASRec), in memory and atomically,
    /// so a new item is recommendable at once. Other models skip them until retrained. Returns
    /// the models extended and those that failed (the items stay stored either way).
    @discardableResult
    public func extendCatalogues(with items: [Item]) async throws -> (
        extended: [String], failures: [ModelFailure]
    ) {
        // Most puts change an item every model knows: no lock, no work.
        let needed = registry.all.contains { entry in
            (entry.servable.model as? any CatalogueExtending)?.canExtendCatalogue == true
                && items.contains { entry.servable.items.index(of: $0.id) == nil }
        }
        guard needed else { return ([], []) }
        let (extended, failures) = try await updateTextModels { entry, model in
            var ids = entry.servable.items
            var fresh: [Item] = []
            for item in items where ids.index(of: item.id) == nil {
                _ = ids.intern(item.id)
                fresh.append(item)
            }
            return fresh.isEmpty ? nil : (try model.extended(with: fresh), ids)
        }
        return (extended, failures)
    }

    /// Replaces each registered model that reads item text by what `change` makes of it (a
    /// model and the items it scores; nil leaves it), in one registry change. Returns the models
    /// changed and those whose change threw.
    private func updateTextModels(
        _ change: (RegisteredModel, any CatalogueExtending) throws -> (any Recommender, IDMap)?
    ) async throws -> (updated: [String], failures: [ModelFailure]) {
        try await registry.withChange {
            var updated: [String] = [], failures: [ModelFailure] = []
            for entry in registry.all {
                guard let model = entry.servable.model as? any CatalogueExtending, model.canExtendCatalogue else {
                    continue
                }
                do {
                    guard let (changed, items) = try change(entry, model) else { continue }
                    let servable = ServableModel(
                        name: entry.record.name, model: changed, items: items, users: entry.servable.users)
                    await replace(entry, with: servable)
                    updated.append(entry.record.name)
                } catch {
                    failures.append(ModelFailure(name: entry.record.name, reason: "\(error)"))
                }
            }
            return (updated, failures)
        }
    }

    /// Stores `item` (created or replaced), then brings the models that read item text up to
    /// date: models that did not know it take it in, and when its text changed, models that
    /// knew it embed it again. Returns the models updated and those that failed (the item is
    /// stored either way). Models the service saved are saved again shortly after, so they do
    /// not redo this at the next start.
    public func putItem(_ item: Item) async throws -> (updated: [String], failures: [ModelFailure]) {
        let previous = try await store.item(item.id)
        try await store.upsert(items: [item])
        var updated: [String] = [], failures: [ModelFailure] = []
        if let previous, ItemText.of(previous) != ItemText.of(item) {
            (updated, failures) = try await reembedCatalogues([item])
        }
        let (extended, failed) = try await extendCatalogues(with: [item])
        return (updated + extended, failures + failed)
    }

    /// Embeds `items` again, from their current text, in every model that knows them and reads
    /// item text; the trained weights stay. Returns the models updated and those that failed.
    @discardableResult
    public func reembedCatalogues(_ items: [Item]) async throws -> (updated: [String], failures: [ModelFailure]) {
        let needed = registry.all.contains { entry in
            (entry.servable.model as? any CatalogueExtending)?.canExtendCatalogue == true
                && items.contains { entry.servable.items.index(of: $0.id) != nil }
        }
        guard needed else { return ([], []) }
        return try await updateTextModels { entry, model in
            var changes: [Int: Item] = [:]
            for item in items {
                if let index = entry.servable.items.index(of: item.id) { changes[Int(index)] = item }
            }
            return changes.isEmpty ? nil : (try model.reembedded(changes), entry.servable.items)
        }
    }

    /// Puts `servable` in `entry`'s place (keeping it active if it was) and schedules a save
    /// when the service saved the model. Called with the registry locked.
    private func replace(_ entry: RegisteredModel, with servable: ServableModel) async {
        registry.put(RegisteredModel(servable: servable, record: entry.record))
        if self.active.current === entry.servable { self.active.activate(servable) }
        if ownsFiles(of: entry.record) { await pendingSaves.schedule(entry.record.name, service: self) }
    }

    /// Whether the record's files are the service's own (under ``modelDirectory``); files a
    /// model was loaded from elsewhere are never overwritten.
    func ownsFiles(of record: ModelRecord) -> Bool {
        guard let directory = resolvedDirectory(of: record), let root = modelDirectory else { return false }
        return directory.deletingLastPathComponent().standardizedFileURL.path == root.standardizedFileURL.path
    }

    /// How the store records a model's directory: its name alone when it is one directory below
    /// ``modelDirectory`` (so a store copied along with its models directory still finds them),
    /// else the absolute path (models loaded from elsewhere with `--model`).
    func recordedPath(_ directory: URL) -> String {
        let directory = directory.standardizedFileURL
        if let root = modelDirectory?.standardizedFileURL,
            directory.deletingLastPathComponent().path == root.path
        {
            return directory.lastPathComponent
        }
        return directory.path
    }

    /// A record's directory: a relative one is below ``modelDirectory`` (nil without one).
    func resolvedDirectory(of record: ModelRecord) -> URL? {
        guard let path = record.directory else { return nil }
        if path.hasPrefix("/") { return URL(fileURLWithPath: path) }
        return modelDirectory?.appendingPathComponent(path, isDirectory: true)
    }

    /// Saves the registered model `name` as it is now, over its files, when the service owns
    /// them. The registry stays locked while it writes, so a newer version cannot be overtaken.
    func saveNow(_ name: String) async throws {
        guard let root = modelDirectory else { return }
        try await registry.withChange {
            guard let entry = registry.model(named: name), ownsFiles(of: entry.record) else { return }
            _ = try Self.save(entry.servable, under: root)
        }
    }

    /// Writes every scheduled save now (tests, and a clean shutdown).
    public func flushPendingSaves() async { await pendingSaves.flush(service: self) }

    /// Extends the registered models with every stored item they do not know (at start: items
    /// put after a model was trained).
    @discardableResult
    public func extendCataloguesFromStore() async throws -> (extended: [String], failures: [ModelFailure]) {
        let extending = registry.all.filter {
            ($0.servable.model as? any CatalogueExtending)?.canExtendCatalogue == true
        }
        guard !extending.isEmpty else { return ([], []) }
        var unknown: [Item] = []
        var cursor: String?
        repeat {
            let page = try await store.items(after: cursor, limit: 10_000)
            unknown += page.elements.filter { item in
                extending.contains { $0.servable.items.index(of: item.id) == nil }
            }
            cursor = page.next
        } while cursor != nil
        return try await extendCatalogues(with: unknown)
    }

    /// Writes the model to `root/name` through a temporary directory, so a crash mid-save never
    /// leaves a half-written model under its name.
    static func save(_ model: ServableModel, under root: URL) throws -> URL {
        try ModelName.check(model.name)
        let files = FileManager.default
        try files.createDirectory(at: root, withIntermediateDirectories: true)
        let base = root.standardizedFileURL.resolvingSymlinksInPath()
        let target = base.appendingPathComponent(model.name, isDirectory: true).standardizedFileURL
        // The name's rules already keep it to one path component; this says so of the result.
        guard target.deletingLastPathComponent().path == base.path else {
            throw ModelName.Invalid(name: model.name, reason: "it would be saved outside \(base.path)")
        }
        let partial = base.appendingPathComponent(".\(model.name).partial-\(UUID().uuidString)", isDirectory: true)
        let previous = base.appendingPathComponent(".\(model.name).previous-\(UUID().uuidString)", isDirectory: true)
        do {
            try model.model.save(to: partial)
            try ModelArtifact.writeItemIDs(model.items, to: partial)
            if let users = model.users { try ModelArtifact.writeUserIDs(users, to: partial) }
            // Re-training a name: the old files step aside, the new ones take their place, the
            // old ones go (a rename of a non-empty directory onto another fails on Linux).
            if files.fileExists(atPath: target.path) {
                try files.moveItem(at: target, to: previous)
                do { try files.moveItem(at: partial, to: target) } catch {
                    try? files.moveItem(at: previous, to: target)
                    throw error
                }
                try? files.removeItem(at: previous)
            } else {
                try files.moveItem(at: partial, to: target)
            }
        } catch {
            try? files.removeItem(at: partial)
            throw error
        }
        return target
    }
}

/// Models to save again after a change in memory. A burst of changes (items put one by one)
/// becomes one save per model, `delay` after the first; a failed save is retried at the next.
actor PendingSaves {
    private var names: Set<String> = []
    private var task: Task<Void, Never>?
    let delay: Duration

    init(delay: Duration = .seconds(2)) { self.delay = delay }

    func schedule(_ name: String, service: RecommendationService) {
        names.insert(name)
        guard task == nil else { return }
        task = Task { [delay] in
            try? await Task.sleep(for: delay)
            await self.flush(service: service)
        }
    }

    func flush(service: RecommendationService) async {
        let due = names
        names = []
        task = nil
        for name in due.sorted() {
            do { try await service.saveNow(name) } catch { names.insert(name) }
        }
    }
}

/// What a model name may be: 1 to 64 of `A–Z a–z 0–9 . _ -`, not starting with a dot, so a name
/// is one directory below the models directory and a clean metrics label.
public enum ModelName {
    public static let maxLength = 64

    public struct Invalid: Error, CustomStringConvertible {
        public let name: String
        public let reason: String
        public var description: String { "model name '\(name.prefix(80))': \(reason)" }
    }

    public static func check(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
        guard !name.isEmpty, name.utf8.count <= maxLength, allowed, !name.hasPrefix(".") else {
            throw Invalid(
                name: name, reason: "expected 1 to \(maxLength) of A-Z a-z 0-9 . _ - (not starting with a dot)")
        }
    }
}

/// Why a model could not be removed.
public enum ModelRemovalError: Error, CustomStringConvertible {
    case active(String)

    public var description: String {
        switch self {
        case .active(let name): "'\(name)' is the active model; activate another one first"
        }
    }
}
