import Synchronization

/// The run's shared state: the report the stages fill in, the stage running now (for the
/// deadline's message), whether the post has started (after which nothing cuts the run
/// short), and what the classifier keeps.
public final class RunRecorder: Sendable {
    private let state = Mutex((report: RunReport(), stage: "start", posting: false, resultsSaved: false, resultPNG: String?.none))
    /// Results the classifier keeps in case its time runs out.
    public let partial = PartialResults()
    /// Facts the classifier reports.
    public let metrics = ClassifierMetrics()

    public init() {}

    /// Changes the report.
    public func update(_ change: (inout RunReport) -> Void) { state.withLock { change(&$0.report) } }

    /// The report so far, with the classifier's facts.
    public var report: RunReport {
        var r = state.withLock { $0.report }
        r.stages.removeAll { $0.seconds.isNaN }
        r.classifierFacts = metrics.facts
        return r
    }

    /// The stage running now.
    public var currentStage: String { state.withLock { $0.stage } }
    /// Whether the results POST has started.
    public var postingStarted: Bool { state.withLock { $0.posting } }

    /// Whether validated results were saved (partial results are not written then).
    public var resultsSaved: Bool { state.withLock { $0.resultsSaved } }
    /// `result.png`, once drawn.
    public var resultPNG: String? { state.withLock { $0.resultPNG } }
    func markResultsSaved() { state.withLock { $0.resultsSaved = true } }
    func keep(resultPNG: String?) { state.withLock { $0.resultPNG = resultPNG } }

    /// Runs `body` as the stage `name`: checks for cancellation first, records its time and
    /// the detail `summary` gives for its value.
    /// - Parameter current: whether this is the run's main line (named in the deadline's
    ///   message); false for work running beside it (the thumbnail, the picture).
    public func time<T>(
        _ name: String, current: Bool = true, summary: (T) -> String = { _ in "ok" }, _ body: () async throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        if current {
            state.withLock { s in
                s.stage = name
                if name == "post" { s.posting = true }
            }
        }
        let start = ContinuousClock.now
        let value = try await body()
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        let detail = summary(value)
        let timing = RunReport.StageTiming(name: name, seconds: seconds, detail: detail)
        update { report in
            if let slot = report.stages.firstIndex(where: { $0.name == name && $0.seconds.isNaN }) {
                report.stages[slot] = timing
            } else {
                report.stages.append(timing)
            }
        }
        return value
    }

    /// Keeps places, in this order, for stages about to run side by side, so the report
    /// lists them the same way whichever finishes first. A place a stage never fills is
    /// dropped from the report.
    public func reserve(_ names: [String]) {
        update { $0.stages += names.map { RunReport.StageTiming(name: $0, seconds: .nan, detail: "") } }
    }
}
