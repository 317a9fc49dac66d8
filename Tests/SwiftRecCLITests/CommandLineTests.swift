import ArgumentParser
import Foundation
import SwiftRecData
import SwiftRecModels
import SwiftRecServing
import Testing

@testable import SwiftRecCLI

@Suite("The command line: parsing, data options and model options")
struct CommandLineTests {
    @Test func everyCommandThatReadsDataTakesTheSameDataOptions() throws {
        let data = ["--data", "events.csv", "--format", "csv", "--user-column", "uid", "--delimiter", "tab"]
        let train = try #require(
            try SwiftRecCommand.parseAsRoot(["train", "--model", "sasrec"] + data) as? TrainCommand)
        let evaluate = try #require(try SwiftRecCommand.parseAsRoot(["evaluate"] + data) as? EvaluateCommand)
        let importing = try #require(try SwiftRecCommand.parseAsRoot(["import"] + data) as? ImportCommand)
        for source in [train.source, evaluate.source, importing.source] {
            #expect(source.format == .csv)
            #expect(source.userColumn == "uid")
            let options = try source.importOptions
            #expect(options.user == .name("uid"))
            #expect(options.delimiter == UInt8(ascii: "\t"))
        }
    }

    /// Only `serve` hands Swift's executor to the event loops, and `SWIFTREC_COMPUTE=queue`
    /// keeps it from doing so; neither case touches the executor or the compute queue.
    @Test func onlyServeRunsRequestsOnTheirEventLoops() {
        #expect(!SwiftRecCommand.prepareExecutor(for: ["swiftrec", "evaluate", "--models", "pop"], environment: [:]))
        #expect(!SwiftRecCommand.prepareExecutor(for: ["swiftrec"], environment: [:]))
        #expect(
            !SwiftRecCommand.prepareExecutor(for: ["swiftrec", "serve"], environment: ["SWIFTREC_COMPUTE": "queue"]))
        #expect(!ComputeQueue.shared.runsOnCallerThread)
    }

    @Test func formatsAreAnEnumWithTheirNamesInTheError() {
        #expect(throws: (any Error).self) {
            try SwiftRecCommand.parseAsRoot(["import", "--data", "x", "--format", "xml"])
        }
        let names = DataFormat.allValueStrings
        #expect(names.contains("ml-1m") && names.contains("jsonl") && names.contains("csv"))
    }

    @Test func trainFlagsConfigAndSetMergeInPriorityOrderUnderTheConfigKeys() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-cli-\(getpid()).json")
        try Data(#"{"dim": 32, "epochs": 5, "loss": "bce"}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let train = try #require(
            try SwiftRecCommand.parseAsRoot([
                "train", "--model", "sasrec", "--data", "x", "--format", "ml-1m-seq", "--config", file.path,
                "--epochs", "7", "--time-budget", "2m", "--set", "loss=ce",
            ]) as? TrainCommand)
        let options = try train.options()
        #expect(options["dim"] == 32)
        #expect(options["epochs"] == 7)
        #expect(options["time-budget"] == 120)
        #expect(options["loss"] == "ce")
        let model = try ModelRunner.make(models: ["sasrec"], options: options)[0]
        #expect((model as? SASRec)?.config.dim == 32)
    }

    @Test func badModelOptionsFailBeforeAnyDataIsReadNamingTheClosestKey() throws {
        #expect(throws: ValidationError.self) { try ModelRunner.make(models: ["nope"], options: [:]) }
        do {
            _ = try ModelRunner.make(models: ["itemknn"], options: try ModelRunner.settings(["neighbours=20"]))
            Issue.record("an unknown key was accepted")
        } catch let error as ValidationError {
            #expect(error.message.contains("neighbors"), "\(error.message)")
        }
        #expect(throws: ValidationError.self) {
            try ModelRunner.make(models: ["sasrec"], options: ModelRunner.settings(["dim=1000000"]))
        }
        #expect(throws: ValidationError.self) { try ModelRunner.settings(["novalue"]) }
        // With several models, each takes the keys it knows.
        let made = try ModelRunner.make(models: ["pop", "itemknn"], options: ModelRunner.settings(["neighbors=5"]))
        #expect(made.count == 2)
    }

    @Test func durationsAndCutoffsParseOrFailWithTheirFlag() throws {
        #expect(try TrainCommand.seconds("90") == 90)
        #expect(try TrainCommand.seconds("1.5h") == 5400)
        #expect(throws: ValidationError.self) { try TrainCommand.seconds("soon") }
        #expect(throws: ValidationError.self) { try TrainCommand.seconds("-3s") }
        #expect(try ModelRunner.cutoffs("10, 20") == [10, 20])
        #expect(throws: ValidationError.self) { try ModelRunner.cutoffs("10,0") }
    }

    @Test func thePairUnitBenchRunsAndRefusesBadSizesByFlag() throws {
        let bench = try #require(
            try SwiftRecCommand.parseAsRoot([
                "bench", "pair-unit", "--dims", "8,20", "--candidates", "5", "--history", "3", "--seconds", "0",
            ]) as? PairUnitBench)
        try bench.run()
        for bad in [["--dims", "0"], ["--dims", "x"], ["--layers", ""], ["--candidates", "0"], ["--history", "0"]] {
            let command = try #require(try SwiftRecCommand.parseAsRoot(["bench", "pair-unit"] + bad) as? PairUnitBench)
            #expect(throws: ValidationError.self, "\(bad)") { try command.run() }
        }
    }

    @Test func theExecutableEntryPointRunsAsynchronousCommands() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-cli-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("events.csv"), db = folder.appendingPathComponent("store.sqlite")
        try Data("user_id,item_id,timestamp\nu1,a,1\nu1,b,2\nu2,a,3\n".utf8).write(to: csv)
        // `import` is asynchronous: it only writes the store when it really runs.
        await SwiftRecCommand.dispatch(["import", "--data", csv.path, "--format", "csv", "--db", db.path])
        #expect(FileManager.default.fileExists(atPath: db.path))
    }

    @Test func recommendTakesAQueryInWordsAndRefusesABlankOne() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-cli-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("events.csv"), model = folder.appendingPathComponent("pop")
        var lines = ["user_id,item_id,timestamp,title"]
        for u in 0..<6 {
            lines += [
                "u\(u),a,\(10 * u),Star telescope", "u\(u),b,\(10 * u + 1),Duct tape",
                "u\(u),c,\(10 * u + 2),Pipe fitting",
            ]
            if u % 2 == 0 { lines.append("u\(u),d,\(10 * u + 3),Astronomy book") }
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: csv)
        let data = ["--data", csv.path, "--format", "csv", "--item-title-column", "title"]
        await SwiftRecCommand.dispatch(["train", "--model", "pop", "--out", model.path] + data)
        let asked = try #require(
            try SwiftRecCommand.parseAsRoot(
                [
                    "recommend", "--model-dir", model.path, "--user", "u1", "--query", "something for astronomy",
                    "--explain",
                ]
                    + data) as? RecommendCommand)
        try asked.run()
        for (bad, flag) in [
            (["--query", "  "], "--query"), (["--query", "x", "--query-weight", "2"], "--query-weight"),
        ] {
            let command = try #require(
                try SwiftRecCommand.parseAsRoot(["recommend", "--model-dir", model.path, "--user", "u1"] + bad + data)
                    as? RecommendCommand)
            #expect {
                try command.run()
            } throws: { error in
                "\(error)".contains(flag)
            }
        }
        let unknown = try #require(
            try SwiftRecCommand.parseAsRoot(["recommend", "--model-dir", model.path, "--user", "nobody"] + data)
                as? RecommendCommand)
        #expect(throws: ValidationError.self) { try unknown.run() }
    }

    @Test func theDemoAndAPseudonymisedImportWriteTheirStores() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrec-cli-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // The demo calls the import and serve code directly, with no parsed option groups.
        let demo = folder.appendingPathComponent("demo.sqlite")
        await SwiftRecCommand.dispatch(["demo", "--users", "60", "--seconds", "0.5", "--no-serve", "--db", demo.path])
        #expect(FileManager.default.fileExists(atPath: demo.path))
        let csv = folder.appendingPathComponent("events.csv"), db = folder.appendingPathComponent("store.sqlite")
        let key = folder.appendingPathComponent("pseudonym.key")
        try Data("user_id,item_id,timestamp\nperson-one,a,1\nperson-one,b,2\nperson-two,a,3\n".utf8).write(to: csv)
        try Data("sixteen bytes or more of secret\n".utf8).write(to: key)
        await SwiftRecCommand.dispatch([
            "import", "--data", csv.path, "--format", "csv", "--db", db.path, "--pseudonym-key", key.path,
        ])
        let bytes = ["", "-wal"].compactMap { FileManager.default.contents(atPath: db.path + $0) }.reduce(Data(), +)
        #expect(bytes.range(of: Data("person-".utf8)) == nil, "raw user ids in the store")
        let pseudonym = try UserPseudonyms(contentsOf: key).pseudonym(of: "person-one")
        #expect(bytes.range(of: Data(pseudonym.utf8)) != nil, "positive control")
    }
}
