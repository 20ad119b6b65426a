import Dispatch
import Foundation
import MHS
import MHSEmulator

/// A whole task run in-process, for a lab's tests: the classifier on a slide, against the
/// emulator on loopback, through the same runner as `mhs run` (download, open, validate,
/// post once, run report), with what came back.
///
/// ```swift
/// import MHSTesting
/// import Testing
///
/// @Test func postsOnce() async throws {
///     let run = try await TaskHarness.run(MyClassifier())
///     #expect(run.status == .posted)
///     #expect(run.evaluations == 1)
///     #expect(try run.results().scanResults.count == 1)
/// }
/// ```
public enum TaskHarness {
    /// The slide a run reads.
    public enum SlideSource: Sendable {
        /// The demo's synthetic H&E slide (4096 × 3072 JPEG-tiled SVS), generated once per
        /// process into the temporary folder.
        case synthetic
        /// A slide file (SVS, TIFF, DICOM or a DICOM series zip).
        case file(String)
    }

    /// Runs `classifier` on `slide` as a Model Hosting Service task against an emulator
    /// started for this run, and returns what the run produced.
    /// - Parameters:
    ///   - environment: more variables for the task (e.g. `MHS_DEADLINE`, the classifier's own
    ///     settings); they win over the emulator's.
    ///   - output: where the task writes `results.json`, `result.png` and `run-report.json`;
    ///     default a new temporary folder.
    public static func run(
        _ classifier: any Classifier, slide: SlideSource = .synthetic, environment: [String: String] = [:],
        output: String? = nil
    ) async throws -> TaskRun {
        let path: String
        switch slide {
        case .synthetic: path = try await SyntheticSlideCache.path()
        case .file(let file): path = URL(fileURLWithPath: file).standardizedFileURL.path
        }
        let folder = output ?? FileManager.default.temporaryDirectory.appendingPathComponent("mhs-task-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var configuration = EmulatorConfiguration(scans: [ScanSpec(path: path)], auth: .apiKey)
        configuration.workDirectory = folder + "/emulator"
        return try await Emulator.withRunning(configuration) { emulator in
            var env = Dictionary(uniqueKeysWithValues: emulator.environment().map { ($0.name, $0.value) })
            env["MHS_OUTPUT_DIR"] = folder
            env["MHS_WORK_DIR"] = folder + "/work"
            env.merge(environment) { _, given in given }
            let console = Console(echo: false)
            let status = await TaskRunner(environment: env, classifier: classifier, console: console).run()
            let evaluations = await emulator.evaluations()
            let posted = await emulator.posts()
            return TaskRun(
                status: status, evaluations: evaluations.count, duplicates: evaluations.count { $0.duplicate },
                posted: posted.map(\.body), console: console.transcript, outputDirectory: folder)
        }
    }
}

/// What one ``TaskHarness`` run produced.
public struct TaskRun: Sendable {
    /// How the run ended (`.posted` is exit 0).
    public var status: ExitStatus
    /// Evaluations the platform stored for the task (1 after a good run).
    public var evaluations: Int
    /// Evaluations stored on top of an earlier one (0 unless something posted twice).
    public var duplicates: Int
    /// The bodies the platform received, as JSON.
    public var posted: [JSONValue]
    /// Every line the run printed, secrets redacted.
    public var console: [String]
    /// Where the run wrote its files.
    public var outputDirectory: String

    /// The names of the files the run wrote (`results.json`, `result.png`, `run-report.json`…).
    public var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: outputDirectory)) ?? []).filter { !["work", "emulator"].contains($0) }.sorted()
    }

    /// A file the run wrote, by name.
    public func file(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: outputDirectory + "/" + name).map { Array($0) }
    }

    /// `results.json`, decoded.
    public func results() throws -> ResultsBody {
        guard let bytes = file("results.json") else { throw TaskRunError.missing("results.json") }
        return try MHSJSON.decode(ResultsBody.self, from: bytes)
    }

    /// `run-report.json`.
    public func report() throws -> JSONValue {
        guard let bytes = file("run-report.json") else { throw TaskRunError.missing("run-report.json") }
        return try JSONParser.parse(bytes)
    }
}

/// A file a test asked for that the run did not write.
public enum TaskRunError: Error, CustomStringConvertible, Sendable {
    case missing(String)
    public var description: String {
        switch self {
        case .missing(let name): "the run wrote no \(name)"
        }
    }
}

/// The synthetic slide, generated once per process.
enum SyntheticSlideCache {
    private static let made: Result<String, any Error> = Result(catching: {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mhs-testing-synthetic-\(getpid()).svs").path
        _ = try SyntheticSlide.write(to: path)
        return path
    })

    /// Generating takes seconds of CPU: done on a Dispatch thread, not on Swift's cooperative
    /// pool, so that other tasks of the test process (an emulator's timers, other tests) are
    /// not starved meanwhile.
    static func path() async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: made) }
        }
    }
}
