import AsyncHTTPClient
import Foundation
import MHSContract
import MHSDynamicLibrary
import MHSGPU
import MHSImaging
import MHSSecrets
import MHSSlide
import MHSTransport
import UnixSignals

/// Runs one Model Hosting Service task, the way `mhs run` does in the container:
/// GPU line → configuration → token → download → open → classify (beside the thumbnail) →
/// validate → `results.json` → post once (beside `result.png`) → run report and debug bundle.
/// Each stage is a small type of its own (`Pipeline/Stages`); each failure ends the run with
/// its own ``ExitStatus`` and a message naming what was wrong; results are never lost
/// (written before posting, printed when posting fails).
public struct TaskRunner: Sendable {
    let environment: [String: String]
    let choice: Choice
    let console: Console
    let handleSignals: Bool
    let probeExecutable: String?
    let processorCount: Int

    enum Choice: Sendable {
        case given(any Classifier)
        case byName(ClassifierCatalog)
    }

    /// Runs `classifier` (`MHS_CLASSIFIER` is not consulted).
    /// - Parameters:
    ///   - environment: the task's variables (the platform's and mhs's own).
    ///   - handleSignals: take over SIGTERM and SIGINT (stop, write the run report, exit
    ///     143/130). `mhs run` does; in-process callers such as `mhs demo` don't.
    ///   - probeExecutable: an `mhs` binary to open and first read the slide with in a child
    ///     process (``SlideProbe``) before it is opened here, so a crash or hang in OpenSlide
    ///     is exit 4 with a message, a run report and a debug bundle; nil opens it directly.
    ///   - processorCount: processors the task may use (the entry point measures them).
    public init(
        environment: [String: String], classifier: any Classifier, console: Console, handleSignals: Bool = false,
        probeExecutable: String? = nil, processorCount: Int = Processors.online
    ) {
        self.init(environment, .given(classifier), console, handleSignals, probeExecutable, processorCount)
    }

    /// Runs the classifier `MHS_CLASSIFIER` names among `classifiers` (the first when unset);
    /// an unknown name is reported with the other configuration problems.
    public init(
        environment: [String: String], classifiers: ClassifierCatalog, console: Console, handleSignals: Bool = false,
        probeExecutable: String? = nil, processorCount: Int = Processors.online
    ) {
        self.init(environment, .byName(classifiers), console, handleSignals, probeExecutable, processorCount)
    }

    private init(
        _ environment: [String: String], _ choice: Choice, _ console: Console, _ handleSignals: Bool, _ probeExecutable: String?,
        _ processorCount: Int
    ) {
        self.environment = environment
        self.choice = choice
        self.console = console
        self.handleSignals = handleSignals
        self.probeExecutable = probeExecutable
        self.processorCount = processorCount
    }

    /// How the run ended, as a watcher or the stages saw it.
    typealias Ending = (status: ExitStatus, message: String?)

    /// Runs the task and returns its exit status.
    ///
    /// The stages race two watchers: the deadline (`MHS_DEADLINE` minus `MHS_POST_MARGIN`,
    /// which cancels everything before the post: exit 8, nothing half-posted) and, with
    /// `handleSignals`, SIGTERM/SIGINT (exit 143/130). The post itself is never cut short.
    public func run() async -> ExitStatus {
        let recorder = RunRecorder()
        let clockStart = ContinuousClock.now
        recorder.update { $0.startedAt = Date() }
        let signals = handleSignals ? await SignalWatcher.trap() : nil

        // The GPU line comes first, whatever else is wrong.
        let libraries = LibraryLocations(environment: environment)
        let gpu = CUDAProbe.probe(locations: libraries, surroundings: .observe(environment: environment))
        console.say(gpu.description)
        recorder.update { $0.gpu = gpu.description }
        if gpu.isAvailable {
            let check = GPUCheck.summary(status: gpu, locations: libraries)
            console.say(check)
            recorder.update { $0.gpuCheck = check }
        }

        var configuration: TaskConfiguration?
        var trusting: HTTPClient?
        let ending: Ending
        do {
            let names: [String]? = if case .byName(let catalog) = choice { catalog.names } else { nil }
            let parsed = try TaskConfiguration.parse(environment, classifiers: names, processorCount: processorCount)
            configuration = parsed
            trusting = parsed.caFile.map { HTTPClient.trusting(caFile: $0) }
            ending = await race(parsed, client: trusting ?? .shared, gpu: gpu, recorder: recorder, clockStart: clockStart, signals: signals)
        } catch {
            ending = (.configuration, error.description)
        }
        if handleSignals { SignalWatcher.ignoreFromNowOn() }
        if let message = ending.message {
            console.say("ERROR (exit \(ending.status.rawValue), \(ending.status.meaning)): \(message)")
        }
        let timings = recorder.report.stages.map { "\($0.name) \(Self.seconds($0.seconds))" }.joined(separator: ", ")
        if !timings.isEmpty { console.say("Stage timings: \(timings)") }
        await ReportStage(console: console, recorder: recorder, client: trusting ?? .shared).run(
            status: ending.status, message: ending.message.map(console.redact), configuration: configuration,
            fallbackOutput: environment["MHS_OUTPUT_DIR"] ?? "/output", resultsKept: recorder.resultsSaved,
            resultPNG: recorder.resultPNG)
        try? await trusting?.shutdown()
        return ending.status
    }

    /// The stages against the deadline and the signals; the first to finish decides.
    private func race(
        _ configuration: TaskConfiguration, client: HTTPClient, gpu: CUDAStatus, recorder: RunRecorder, clockStart: ContinuousClock.Instant,
        signals: UnixSignalsSequence?
    ) async -> Ending {
        let cutoff = clockStart + .seconds(configuration.deadline - configuration.postMargin)
        return await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                do {
                    try await self.stages(configuration, client: client, gpu: gpu, recorder: recorder, cutoff: cutoff)
                    return (.posted, nil)
                } catch let failure as StageFailure {
                    return (failure.status, failure.message)
                } catch is CancellationError {
                    return nil
                } catch {
                    return (.classifier, "\(error)")
                }
            }
            group.addTask {
                while ContinuousClock.now < cutoff {
                    do { try await Task.sleep(until: min(cutoff, ContinuousClock.now + .seconds(1))) } catch { return nil }
                }
                if recorder.postingStarted { return nil }
                return (.deadline, "the task's time is up: MHS_DEADLINE \(Self.duration(configuration.deadline)) with \(Self.duration(configuration.postMargin)) kept for posting ran out during the \(recorder.currentStage) stage; the classifier was cancelled and nothing was posted")
            }
            if let signals {
                group.addTask {
                    guard let signal = await SignalWatcher.first(of: signals) else { return nil }
                    return signal == SIGTERM
                        ? (.terminated, "received SIGTERM: stopping")
                        : (.interrupted, "received SIGINT: stopping")
                }
            }
            var ending: Ending?
            while ending == nil, let next = await group.next() {
                if let next {
                    ending = next
                    group.cancelAll()
                }
            }
            return ending ?? (.classifier, "the run ended without an outcome")
        }
    }

    static func duration(_ seconds: Double) -> String {
        seconds >= 60 && seconds.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(seconds / 60))m" : "\(Int(seconds))s"
    }

    static func seconds(_ s: Double) -> String {
        s < 10 ? String(format: "%.2f s", s) : String(format: "%.1f s", s)
    }

    // MARK: The stages

    private func stages(_ env: TaskConfiguration, client: HTTPClient, gpu: CUDAStatus, recorder: RunRecorder, cutoff: ContinuousClock.Instant) async throws {
        let classifier: any Classifier
        switch choice {
        case .given(let c): classifier = c
        case .byName(let catalog):
            guard let c = catalog.named(env.classifierName) else {
                throw StageFailure(.configuration, "no classifier to run (the package offers none)")
            }
            classifier = c
        }
        console.hide(env.secrets)
        recorder.update {
            $0.taskID = env.taskID
            $0.scanID = env.scanID
            $0.classifier = classifier.name
        }
        for dir in [env.outputDirectory, env.workDirectory] {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw StageFailure(.configuration, "cannot create \(dir): \(error.localizedDescription)")
            }
        }
        let context = ClassifierContext(
            taskID: env.taskID, taskNumber: env.taskNumber, scanID: env.scanID, outputDirectory: env.outputDirectory,
            workDirectory: env.workDirectory, logger: console.logger(label: "classifier"), deadline: cutoff,
            partial: recorder.partial, gpu: gpu, device: env.inferenceDevice, metrics: recorder.metrics, settings: env.settings,
            processorCount: env.processorCount)
        // What the classifier loads (a model directory, say) is checked before anything is downloaded.
        let chosen = classifier
        let ready: any Classifier
        do {
            ready = try await recorder.time("prepare") { try await chosen.prepared(context: context) }
        } catch let error as ClassifierSetupError {
            throw StageFailure(.configuration, "classifier \(chosen.name) cannot run: \(error)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw StageFailure(.configuration, "classifier \(chosen.name) could not be prepared: \(error)")
        }
        let redactor = Redactor(secrets: env.secrets)
        let api = TechcyteAPI(baseURL: env.apiBaseURL, client: client, redactor: redactor)

        // A wrong API key must not cost a whole run: exchange it before downloading. The
        // probe's child starts now, so that its start overlaps the exchange and the download.
        let (token, scan, slide) = try await withProbeChild(env) { started in
            let token = try await recorder.time("credentials") {
                try await CredentialsStage(api: api, credentials: env.credentials, console: console).run()
            }
            let scan = try await recorder.time("download", summary: \.summary) {
                try await DownloadStage(configuration: env, redactor: redactor, console: console, recorder: recorder, client: client).run()
            }
            let slide = try await recorder.time("open", summary: { "\($0.dimensions.width)x\($0.dimensions.height)" }) {
                try await OpenStage(configuration: env, probeExecutable: probeExecutable, console: console, recorder: recorder).run(scan, in: started)
            }
            return (token, scan, slide)
        }

        // The thumbnail (for result.png, and the proof that pixels can be read) is read
        // beside the classifier; when it cannot be, the classifier is cancelled.
        console.say("Processing image: \(URL(fileURLWithPath: scan.path).lastPathComponent) with classifier \(classifier.name)")
        let classify = ClassifyStage(classifier: ready, context: context, console: console, recorder: recorder)
        enum Part { case thumbnail(RGBAImage), body(ResultsBody) }
        recorder.reserve(["thumbnail", "classify"])
        let (thumbnail, body) = try await withThrowingTaskGroup(of: Part.self) { group in
            group.addTask {
                .thumbnail(try await recorder.time("thumbnail", current: false, summary: { "\($0.width)x\($0.height)" }) {
                    try ThumbnailStage().run(slide)
                })
            }
            group.addTask {
                .body(try await recorder.time("classify", summary: { "\($0.scanResults.reduce(0) { $0 + ($1.geojson?.features.count ?? 0) }) annotations" }) {
                    try await classify.run(slide)
                })
            }
            var thumbnail: RGBAImage?, body: ResultsBody?
            for try await part in group {
                switch part {
                case .thumbnail(let t): thumbnail = t
                case .body(let b): body = b
                }
            }
            guard let thumbnail, let body else { throw CancellationError() }
            return (thumbnail, body)
        }

        let results = ResultsStage(scanID: env.scanID, outputDirectory: env.outputDirectory, console: console)
        let size = SlideSize(width: Double(slide.dimensions.width), height: Double(slide.dimensions.height))
        let report = try await recorder.time("validate", summary: { "\($0.errors.count) errors, \($0.warnings.count) warnings" }) {
            try results.validate(body, slideSize: size)
        }
        let validated = try results.save(body, report: report)
        recorder.markResultsSaved()

        // result.png is drawn, and the QuPath objects written, while the results are posted.
        let width = slide.dimensions.width
        recorder.reserve(["render", "post"])
        async let picture = recorder.time("render", current: false, summary: { $0 == nil ? "not written" : "written" }) {
            results.saveForQuPath(body)
            return results.drawPicture(body, on: thumbnail, slideWidth: width)
        }
        let posted: Result<String, any Error>
        do {
            posted = .success(try await recorder.time("post", summary: { $0 }) {
                try await PostStage(api: api, configuration: env, console: console, recorder: recorder).run(validated, token: token)
            })
        } catch {
            posted = .failure(error)
        }
        recorder.keep(resultPNG: (try? await picture) ?? nil)
        _ = try posted.get()
    }

    /// Runs `body` beside a probe child started ahead, when the slide is to be probed.
    private func withProbeChild<R>(_ env: TaskConfiguration, _ body: (SlideProbe.StartedChild?) async throws -> R) async throws -> R {
        guard let probeExecutable else { return try await body(nil) }
        return try await OpenStage.probe(probeExecutable, env).withStartedChild { try await body($0) }
    }
}
