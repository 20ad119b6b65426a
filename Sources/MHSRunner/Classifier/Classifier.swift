import Foundation
import Logging
import MHSContract
import MHSGPU
import MHSSlide
import Synchronization

/// A lab's model: it receives the opened slide and returns the results to post.
///
/// Implement ``classify(_:context:)``; `mhs run` does everything around it (download,
/// validation, the picture, posting once). Throwing ends the run with exit 5; results
/// that break the contract end it with exit 6, before anything is sent.
public protocol Classifier: Sendable {
    /// Shown in logs and the run report.
    var name: String { get }
    /// Loads and checks what the classifier needs (a model, its settings) before the scan is
    /// downloaded, and returns the classifier that will classify — `self` by default.
    /// Throwing ends the run with exit 2 (configuration) before any download; throw
    /// ``ClassifierSetupError`` to name each problem.
    func prepared(context: ClassifierContext) async throws -> any Classifier
    /// Looks at the slide and says what it found.
    func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody
}

extension Classifier {
    public func prepared(context: ClassifierContext) async throws -> any Classifier { self }
}

/// Why a classifier cannot run with the task's settings: every problem at once. From
/// ``Classifier/prepared(context:)`` it is exit 2, before the download.
public struct ClassifierSetupError: Error, Sendable, CustomStringConvertible {
    /// One line per problem.
    public var problems: [String]

    public init(_ problems: [String]) { self.problems = problems }

    public var description: String {
        problems.count == 1 ? problems[0] : "\(problems.count) problems:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// What a classifier knows about its task.
public struct ClassifierContext: Sendable {
    /// `TASK_ID` as the platform gave it.
    public var taskID: String
    public var taskNumber: Int
    /// The scan to report on: put it in ``ScanResult/scanId``.
    public var scanID: String
    /// Where files for the lab may be written (`MHS_OUTPUT_DIR`).
    public var outputDirectory: String
    /// Scratch space (`MHS_WORK_DIR`).
    public var workDirectory: String
    /// Log through this: lines reach the platform's log tab, secrets redacted.
    public var logger: Logger
    /// When the classifier will be cancelled: the start of the run plus `MHS_DEADLINE` less
    /// `MHS_POST_MARGIN` (the platform stops the task a margin later). Check it to stop
    /// early with partial results.
    public var deadline: ContinuousClock.Instant?
    /// The task's variables but the secrets: a classifier's own settings (see ``setting(_:)``).
    public var settings: [String: String]
    /// Processors the task may use.
    public var processorCount: Int
    /// Where to keep results found so far: if the deadline or a signal stops the run, they
    /// are written to `results.partial.json` (never posted).
    public var partial: PartialResults
    /// What the CUDA probe found at start-up.
    public var gpu: CUDAStatus
    /// Where models should run (`MHS_INFERENCE_DEVICE`: auto, cpu or cuda).
    public var device: ComputeDevice
    /// Per-stage timings a classifier reports (busy and wall time, utilisation): they go
    /// into `run-report.json` under `pipeline`.
    public var metrics: ClassifierMetrics

    public init(
        taskID: String, taskNumber: Int, scanID: String, outputDirectory: String, workDirectory: String, logger: Logger,
        deadline: ContinuousClock.Instant? = nil, partial: PartialResults = PartialResults(),
        gpu: CUDAStatus = CUDAStatus(driverVersion: nil, devices: [], unavailableReason: "not probed"), device: ComputeDevice = .auto,
        metrics: ClassifierMetrics = ClassifierMetrics(), settings: [String: String] = [:], processorCount: Int = 1
    ) {
        self.settings = settings
        self.processorCount = max(1, processorCount)
        self.partial = partial
        self.gpu = gpu
        self.device = device
        self.metrics = metrics
        self.taskID = taskID
        self.taskNumber = taskNumber
        self.scanID = scanID
        self.outputDirectory = outputDirectory
        self.workDirectory = workDirectory
        self.logger = logger
        self.deadline = deadline
    }
}

extension ClassifierContext {
    /// The variable `name` from the task's environment, trimmed; nil when unset or empty.
    /// A classifier reads its own settings here (e.g. `MHS_NUCLEI_MODEL`), never from the
    /// process environment, so tests and the demo can set them.
    public func setting(_ name: String) -> String? {
        guard let v = settings[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
        return v
    }
}

/// Results a classifier has so far, kept in case its time runs out.
public final class PartialResults: Sendable {
    private let stored = Mutex<ResultsBody?>(nil)
    public init() {}
    /// Replaces what is kept.
    public func save(_ body: ResultsBody) { stored.withLock { $0 = body } }
    /// What was kept last.
    public var body: ResultsBody? { stored.withLock { $0 } }
}

/// Facts a classifier reports about how it ran (stage timings, the inference provider),
/// kept for the run report.
public final class ClassifierMetrics: Sendable {
    private let stored = Mutex<JSONObject>([:])
    public init() {}
    /// Sets one fact, e.g. `record("pipeline", timings)`.
    public func record(_ key: String, _ value: JSONValue) { stored.withLock { $0[key] = value } }
    /// Everything recorded.
    public var facts: JSONObject { stored.withLock { $0 } }
}

/// The classifiers a package offers, by name (`MHS_CLASSIFIER`, `--classifier`); the first
/// is the default.
public struct ClassifierCatalog: Sendable {
    /// In the order given.
    public let classifiers: [any Classifier]

    /// Why a list of classifiers cannot be a catalog.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// - Throws: ``Problem`` when a name is empty or used twice.
    public init(_ classifiers: [any Classifier]) throws(Problem) {
        var seen = Set<String>()
        for c in classifiers {
            if c.name.isEmpty { throw Problem(description: "a classifier (\(type(of: c))) has an empty name") }
            if !seen.insert(c.name).inserted { throw Problem(description: "two classifiers are called '\(c.name)'") }
        }
        self.classifiers = classifiers
    }

    private init(unchecked: [any Classifier]) { classifiers = unchecked }

    /// No classifiers at all.
    public static let empty = ClassifierCatalog(unchecked: [])

    /// Every name, in order.
    public var names: [String] { classifiers.map(\.name) }

    /// The classifier called `name`; the first one when `name` is nil.
    public func named(_ name: String?) -> (any Classifier)? {
        guard let name else { return classifiers.first }
        return classifiers.first { $0.name == name }
    }
}
