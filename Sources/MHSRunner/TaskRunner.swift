import Foundation
import Logging
import MHSContract
import MHSGPU
import MHSImaging
import MHSSecrets
import MHSSlide
import MHSTransport
import Synchronization

/// Runs one Model Hosting Service task, the way `mhs run` does in the container:
/// GPU line → environment → (token) → download → open → classify → validate →
/// `results.json` → `result.png` → post once → debug bundle. Each failure ends the run
/// with its own ``ExitStatus`` and a message naming what was wrong; results are never
/// lost (written before posting, printed when posting fails).
public struct TaskRunner: Sendable {
    let environment: [String: String]
    let classifier: any Classifier
    let console: Console
    let handleSignals: Bool
    let probeExecutable: String?

    /// - Parameters:
    ///   - handleSignals: take over SIGTERM and SIGINT (stop, write the run report, exit
    ///     143/130). `mhs run` does; in-process callers such as `mhs demo` don't.
    ///   - probeExecutable: an `mhs` binary to open and first read the slide with in a child
    ///     process (``SlideProbe``) before it is opened here, so a crash or hang in OpenSlide
    ///     is exit 4 with a message, a run report and a debug bundle; nil opens it directly.
    public init(
        environment: [String: String], classifier: any Classifier, console: Console, handleSignals: Bool = false, probeExecutable: String? = nil
    ) {
        self.environment = environment
        self.classifier = classifier
        self.console = console
        self.handleSignals = handleSignals
        self.probeExecutable = probeExecutable
    }

    /// A stage's outcome for the run report.
    struct Stage {
        var name: String
        var seconds: Double
        var detail: String
    }

    /// Ends a run early with a status and a message.
    struct Stop: Error {
        var status: ExitStatus
        var message: String
    }

    /// State that accumulates over the run, for the report and the bundle.
    final class Record: @unchecked Sendable {
        // @unchecked: the plain fields are written by the stages task and read after it
        // has finished; what the deadline and signal watchers read is behind a Mutex.
        var stages: [Stage] = []
        var facts = JSONObject()
        var environment: TaskEnvironment?
        var resultPNG: String?
        /// Encoded results, once the classifier returned them.
        var results: [UInt8]?
        let partial = PartialResults()
        let metrics = ClassifierMetrics()
        private let progress = Mutex((stage: "start", posting: false))

        var currentStage: String { progress.withLock { $0.stage } }
        var postingStarted: Bool { progress.withLock { $0.posting } }
        func enter(_ stage: String) { progress.withLock { $0.stage = stage; if stage == "post" { $0.posting = true } } }
    }

    /// How the run ended, as a watcher or the stages saw it.
    typealias Ending = (status: ExitStatus, message: String?)

    /// Runs the task and returns its exit status.
    ///
    /// The stages race two watchers: the deadline (`MHS_DEADLINE` minus `MHS_POST_MARGIN`,
    /// which cancels everything before the post: exit 8, nothing half-posted) and, with
    /// `handleSignals`, SIGTERM/SIGINT (exit 143/130). The post itself is never cut short.
    public func run() async -> ExitStatus {
        let record = Record()
        let started = Date()
        let clockStart = ContinuousClock.now
        let signals = handleSignals ? SignalWatcher() : nil
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                do {
                    try await self.stages(record)
                    return (.posted, nil)
                } catch let stop as Stop {
                    return (stop.status, stop.message)
                } catch is CancellationError {
                    return nil
                } catch {
                    return (.classifier, "\(error)")
                }
            }
            group.addTask {
                // Wait for the environment to say how long the task may take.
                guard let limits = Self.deadline(environment) else { return nil }
                let cutoff = clockStart + .seconds(limits.total - limits.margin)
                while ContinuousClock.now < cutoff {
                    do { try await Task.sleep(until: min(cutoff, ContinuousClock.now + .seconds(1))) } catch { return nil }
                }
                if record.postingStarted { return nil }
                return (.deadline, "the task's time is up: MHS_DEADLINE \(Self.duration(limits.total)) with \(Self.duration(limits.margin)) kept for posting ran out during the \(record.currentStage) stage; the classifier was cancelled and nothing was posted")
            }
            if let signals {
                group.addTask {
                    guard let signal = await signals.next() else { return nil }
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
        signals?.stop()
        if let message = ending.message {
            console.say("ERROR (exit \(ending.status.rawValue), \(ending.status.meaning)): \(message)")
        }
        let timings = record.stages.map { "\($0.name) \(Self.seconds($0.seconds))" }.joined(separator: ", ")
        if !timings.isEmpty { console.say("Stage timings: \(timings)") }
        await finish(record, status: ending.status, message: ending.message, started: started)
        return ending.status
    }

    /// `MHS_DEADLINE` (default 90 minutes) and `MHS_POST_MARGIN` (default 5 minutes, at
    /// most half the deadline), in seconds; nil when malformed (the environment check
    /// reports that).
    static func deadline(_ env: [String: String]) -> (total: Double, margin: Double)? {
        guard let total = env["MHS_DEADLINE"].map(TaskEnvironment.seconds) ?? 5400,
            let margin = env["MHS_POST_MARGIN"].map(TaskEnvironment.seconds) ?? 300,
            total > 0, total <= TaskEnvironment.maximumDeadline, margin >= 0, margin <= TaskEnvironment.maximumDeadline
        else { return nil }
        return (total, min(margin, total / 2))
    }

    static func duration(_ seconds: Double) -> String {
        seconds >= 60 && seconds.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(seconds / 60))m" : "\(Int(seconds))s"
    }

    static func seconds(_ s: Double) -> String {
        s < 10 ? String(format: "%.2f s", s) : String(format: "%.1f s", s)
    }

    private func time<T>(_ record: Record, _ name: String, _ body: () async throws -> (T, String)) async throws -> T {
        try Task.checkCancellation()
        record.enter(name)
        let start = ContinuousClock.now
        let (value, detail) = try await body()
        record.stages.append(Stage(name: name, seconds: (ContinuousClock.now - start) / .seconds(1), detail: detail))
        return value
    }

    // MARK: The stages

    private func stages(_ record: Record) async throws {
        let gpu = CUDAProbe.probe(environment: environment)
        console.say(gpu.description)
        record.facts["gpu"] = .string(gpu.description)
        if gpu.isAvailable {
            let check = GPUCheck.summary(status: gpu, environment: environment)
            console.say(check)
            record.facts["gpu_check"] = .string(check)
        }

        let env: TaskEnvironment
        do {
            env = try TaskEnvironment.parse(environment)
        } catch {
            throw Stop(status: .configuration, message: error.description)
        }
        record.environment = env
        console.hide(env.secrets)
        record.facts["task_id"] = .string(env.taskID)
        record.facts["scan_id"] = .string(env.scanID)
        record.facts["classifier"] = .string(classifier.name)
        for dir in [env.outputDirectory, env.workDirectory] {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw Stop(status: .configuration, message: "cannot create \(dir): \(error.localizedDescription)")
            }
        }
        let redactor = Redactor(secrets: env.secrets)
        let api = TechcyteAPI(baseURL: env.apiBaseURL, redactor: redactor)

        // A wrong API key must not cost a whole run: exchange it before downloading.
        let token: String = try await time(record, "credentials") {
            do {
                let t = try await api.bearer(for: env.credentials)
                console.hide([t])
                if case .apiKey = env.credentials { console.say("API key exchanged for a token at \(env.apiBaseURL)/token") }
                return (t, "ok")
            } catch {
                throw Stop(status: .configuration, message: "cannot obtain a token: \(error)")
            }
        }

        let slidePath = try await time(record, "download") { try await download(env, redactor: redactor, record: record) }

        // The probe child decodes the thumbnail anyway: it hands it over instead of this
        // process reading it a second time.
        let probedThumbnail = env.workDirectory + "/thumbnail-\(env.scanID).rgba"
        let slide: Slide = try await time(record, "open") {
            if let probeExecutable {
                let probe = SlideProbe(executable: probeExecutable, timeout: .milliseconds(Int64(env.probeTimeout * 1000)))
                let finding = await probe.problem(with: slidePath, thumbnail: probedThumbnail)
                record.facts["probe"] = .string(finding?.message ?? "readable")
                if let finding {
                    // A refusal names the file already; a crash or a hang does not.
                    if case .refused = finding.outcome { throw Stop(status: .slide, message: finding.message) }
                    throw Stop(status: .slide, message: "\(URL(fileURLWithPath: slidePath).lastPathComponent): \(finding.message)")
                }
            }
            do {
                let s = try Slide(path: slidePath)
                if let warning = s.mppWarning { console.say("WARNING: \(warning)") }
                if probeExecutable != nil, let image = SlideProbe.readThumbnail(from: probedThumbnail) {
                    record.facts["thumbnail_from_probe"] = .bool(s.adoptThumbnail(image, maxSide: 1024))
                }
                let size = "\(s.dimensions.width)x\(s.dimensions.height)"
                let mpp = s.mpp.map { String(format: "%.3f µm/px", $0.x) } ?? "no MPP"
                console.say("Opened \(URL(fileURLWithPath: slidePath).lastPathComponent): \(s.vendor ?? "unknown vendor"), \(size), \(s.levels.count) level(s), \(mpp)")
                record.facts["slide"] = [
                    "vendor": s.vendor.map(JSONValue.string) ?? .null, "width": .int(Int64(s.dimensions.width)),
                    "height": .int(Int64(s.dimensions.height)), "levels": .int(Int64(s.levels.count)),
                    "mpp": s.mpp.map { .double($0.x) } ?? .null,
                ]
                return (s, size)
            } catch {
                throw Stop(status: .slide, message: "\(error)")
            }
        }
        // OpenSlide opens some broken files and fails only when pixels are read: read
        // the whole-slide thumbnail now (result.png needs it anyway).
        let thumbnail: RGBAImage = try await time(record, "thumbnail") {
            do {
                let t = try slide.thumbnail(maxSide: 1024)
                return (t, "\(t.width)x\(t.height)")
            } catch {
                throw Stop(status: .slide, message: "the slide opens but its pixels cannot be read: \(error)")
            }
        }

        console.say("Processing image: \(URL(fileURLWithPath: slidePath).lastPathComponent) with classifier \(classifier.name)")
        let context = ClassifierContext(
            taskID: env.taskID, taskNumber: env.taskNumber, scanID: env.scanID, outputDirectory: env.outputDirectory,
            workDirectory: env.workDirectory, logger: console.logger(label: "classifier"), partial: record.partial, gpu: gpu,
            device: env.inferenceDevice, metrics: record.metrics)
        let body: ResultsBody = try await time(record, "classify") {
            do {
                let b = try await classifier.classify(slide, context: context)
                let count = b.scanResults.reduce(0) { $0 + ($1.geojson?.features.count ?? 0) }
                console.say("Generated \(count) annotations")
                record.facts["annotations"] = .int(Int64(count))
                return (b, "\(count) annotations")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw Stop(status: .classifier, message: "the classifier \(classifier.name) failed: \(error)")
            }
        }

        let validation = ValidationContext(
            scanIds: [env.scanID],
            slideSize: SlideSize(width: Double(slide.dimensions.width), height: Double(slide.dimensions.height)))
        let report = try await time(record, "validate") {
            let r = Validator.validate(body, context: validation)
            return (r, "\(r.errors.count) errors, \(r.warnings.count) warnings")
        }
        for w in report.warnings.prefix(20) { console.say("WARNING: \(w.path): \(w.message) [\(w.rule)]") }

        // Validated before anything is encoded: a body that breaks the contract (NaN
        // included) is reported with its paths and kept as results.invalid.json, never as
        // results.json, and never sent.
        func keepInvalid(_ reason: String) throws -> Never {
            let path = env.outputDirectory + "/results.invalid.json"
            let (bytes, replaced) = MHSJSON.encodeReplacingNonFinite(body)
            if (try? Data(bytes).write(to: URL(fileURLWithPath: path))) != nil {
                console.say("The invalid results were saved to \(path)" + (replaced > 0 ? " (\(replaced) NaN or infinite number(s) written as null)" : ""))
            }
            throw Stop(status: .invalidResults, message: reason)
        }
        if !report.isValid {
            for e in report.errors.prefix(50) { console.say("  error   \(e.path): \(e.message) [\(e.rule)]") }
            if report.errors.count > 50 { console.say("  … and \(report.errors.count - 50) more error(s)") }
            try keepInvalid("the results break the contract (\(report.errors.count) error(s), listed above); nothing was posted")
        }
        let json: [UInt8]
        do {
            json = try MHSJSON.encode(body)
        } catch {
            try keepInvalid("the results cannot be written as JSON: \(error); nothing was posted")
        }
        record.results = json
        let resultsPath = env.outputDirectory + "/results.json"
        do {
            try Data(json).write(to: URL(fileURLWithPath: resultsPath))
            console.say("Results saved to \(resultsPath)")
        } catch {
            console.say("WARNING: cannot write \(resultsPath): \(error.localizedDescription)")
        }

        _ = try await time(record, "render") {
            let picture = AnnotationRenderer.render(body, scanId: env.scanID, on: thumbnail, slideWidth: Double(slide.dimensions.width))
            let path = env.outputDirectory + "/result.png"
            do {
                try Data(try PNG.encode(picture)).write(to: URL(fileURLWithPath: path))
                record.resultPNG = path
                console.say("Visualization saved to \(path)")
            } catch {
                console.say("WARNING: cannot write \(path): \(error)")
            }
            return ((), "\(picture.width)x\(picture.height)")
        }

        // The post runs in its own task: a deadline or a signal must not cut it in half.
        let poster = ResultPoster(api: api, settings: PostingMachine.Settings(confirmationWindow: env.postConfirmWindow)) { console.say($0) }
        let credentials = env.credentials
        try await time(record, "post") {
            let outcome = await Task {
                do throws(PostError) {
                    return Result<PostOutcome, PostError>.success(
                        try await poster.post(json, taskID: env.taskID, taskNumber: env.taskNumber, credentials: credentials, token: token))
                } catch {
                    return .failure(error)
                }
            }.value
            switch outcome {
            case .success(.posted(let status, let attempts)):
                console.say("Results posted: HTTP \(status)" + (attempts > 1 ? " (attempt \(attempts))" : ""))
                record.facts["posted"] = true
                return ((), "HTTP \(status), \(attempts) attempt(s)")
            case .success(.confirmedApplied(let attempts)):
                console.say("Results posted: the platform had stored them (confirmed through case_evaluations after attempt \(attempts))")
                record.facts["posted"] = true
                return ((), "confirmed applied after \(attempts) attempt(s)")
            case .failure(let error):
                record.facts["posted"] = false
                console.say("Posting failed: \(error)")
                console.say("Results JSON: " + String(decoding: json, as: UTF8.self))
                throw Stop(status: .postingFailed, message: "posting failed (\(error)); the results are in \(resultsPath) and printed above")
            }
        }
    }

    // MARK: Download

    /// Downloads the scan (the series zip when there is one) and returns the file OpenSlide opens.
    private func download(_ env: TaskEnvironment, redactor: Redactor, record: Record) async throws -> (String, String) {
        var options = Downloader.Options()
        if let n = env.downloadConnections { options.connections = n }
        if let mb = env.downloadPartMB { options.partSize = mb << 20 }
        let console = self.console
        let downloader = Downloader(redactor: redactor, options: options) { console.say("WARNING: \($0)") }
        let progress = ProgressPrinter(console: console)
        let base = env.workDirectory + "/scan-\(env.scanID)"
        let url = env.scanZipURL ?? env.scanURL
        let target = base + (env.scanZipURL != nil ? ".zip" : ".download")
        console.say("Downloading the \(env.scanZipURL != nil ? "DICOM series zip (SCAN_URL_ZIP)" : "scan (SCAN_URL)")")
        let result: DownloadResult
        do {
            result = try await downloader.download(url, to: target) { progress.report($0) }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw Stop(status: .download, message: "downloading \(env.scanZipURL != nil ? "SCAN_URL_ZIP" : "SCAN_URL") failed: \(error)")
        }
        let rate = result.seconds > 0 ? Double(result.bytes) / result.seconds / 1e6 : 0
        let how = result.ranged ? "\(options.connections) parallel ranges" : "one stream"
        console.say(String(format: "Downloaded %.1f MB in %.2f s (%.1f MB/s, %@%@%@)", Double(result.bytes) / 1e6, result.seconds, rate, how,
                           result.retries > 0 ? ", \(result.retries) retries" : "", result.etagVerified ? ", MD5 verified" : ""))
        record.facts["download"] = [
            "bytes": .int(Int64(result.bytes)), "seconds": .double(result.seconds), "ranged": .bool(result.ranged),
            "retries": .int(Int64(result.retries)), "etag_verified": .bool(result.etagVerified),
        ]

        let format = SlideFormat.sniff(path: target)
        record.facts["format"] = .string(format.description)
        switch format {
        case .unsupported(let what):
            throw Stop(status: .slide, message: "the scan is not a whole-slide image mhs can read: \(what)")
        case .zip:
            let folder = base + "-series"
            try? FileManager.default.removeItem(atPath: folder)
            let files: [String]
            do {
                files = try SeriesArchive.extract(target, into: folder)
            } catch {
                throw Stop(status: .slide, message: "\(error)")
            }
            let choice = SeriesArchive.entryToOpen(files)
            guard let file = choice else {
                throw Stop(status: .slide, message: "the zip holds no DICOM file (\(files.count) file(s))")
            }
            console.say("Extracted \(files.count) DICOM file(s) of the series; opening \(URL(fileURLWithPath: file).lastPathComponent)")
            return (file, "\(result.bytes) bytes, series of \(files.count)")
        case .dicom:
            let path = base + ".dcm"
            try Self.move(target, to: path)
            if let header = DICOMHeader.read(path: path), header.isResampledVolume {
                throw Stop(
                    status: .slide,
                    message: "SCAN_URL is a lone DICOM file of a resampled pyramid level (ImageType \(header.imageType.joined(separator: "\\"))) and no SCAN_URL_ZIP was given: results in its pixels would be in the wrong coordinate frame for the slide, so mhs stops instead")
            }
            return (path, "\(result.bytes) bytes, DICOM")
        case .aperioSVS, .tiff:
            let path = base + "." + format.fileExtension
            try Self.move(target, to: path)
            return (path, "\(result.bytes) bytes, \(format)")
        }
    }

    /// Renames the download so OpenSlide sees the extension of what it is.
    static func move(_ from: String, to: String) throws {
        do {
            try? FileManager.default.removeItem(atPath: to)
            try FileManager.default.moveItem(atPath: from, toPath: to)
        } catch {
            throw Stop(status: .download, message: "cannot move the download into place at \(to): \(error.localizedDescription)")
        }
    }

    // MARK: Report and bundle

    private func finish(_ record: Record, status: ExitStatus, message: String?, started: Date) async {
        let env = record.environment
        if [.deadline, .terminated, .interrupted].contains(status), let env {
            if let partial = record.partial.body, record.results == nil, let bytes = try? MHSJSON.encode(partial) {
                let path = env.outputDirectory + "/results.partial.json"
                if (try? Data(bytes).write(to: URL(fileURLWithPath: path))) != nil {
                    console.say("Partial results the classifier kept were saved to \(path) (not posted)")
                }
            }
        }
        var report = record.facts
        // What the classifier reported, also when it failed or was cancelled.
        for (key, value) in record.metrics.facts where report[key] == nil { report[key] = value }
        report["exit_status"] = .int(Int64(status.rawValue))
        report["outcome"] = .string(status.meaning)
        if let message { report["message"] = .string(console.redact(message)) }
        report["started_at"] = .string(started.formatted(.iso8601))
        report["finished_at"] = .string(Date().formatted(.iso8601))
        report["stages"] = .array(record.stages.map { ["name": .string($0.name), "seconds": .double($0.seconds), "detail": .string(console.redact($0.detail))] })
        // The classifier's facts are free-form: the whole report goes through the redactor.
        let reportBytes = Array(console.redact(String(decoding: (try? MHSJSON.encode(JSONValue.object(report))) ?? [], as: UTF8.self)).utf8)
        // Even when the environment was unusable, leave the report where it would go.
        let outputDirectory = env?.outputDirectory ?? environment["MHS_OUTPUT_DIR"] ?? "/output"
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: outputDirectory, isDirectory: &isDirectory), isDirectory.boolValue {
            try? Data(reportBytes).write(to: URL(fileURLWithPath: outputDirectory + "/run-report.json"))
        }
        guard let env, let uploadURL = env.debugUploadURL else { return }
        var summary = "task \(env.taskID) scan \(env.scanID)\nHOST base \(env.apiBaseURL)\n"
        for key in environment.keys.sorted() where ["HOST", "TASK_ID", "SCAN_ID", "SCAN_URL", "SCAN_URL_ZIP", "JWT_TOKEN", "API_KEY_ID", "API_KEY_SECRET", "DEBUG_FILE_UPLOAD_URL"].contains(key) || key.hasPrefix("MHS_") {
            summary += "\(key)=\(console.redact(environment[key] ?? ""))\n"
        }
        var files: [(String, [UInt8])] = [
            ("run-report.json", reportBytes), ("environment.txt", Array(console.redact(summary).utf8)),
            ("run.log", Array((console.transcript.joined(separator: "\n") + "\n").utf8)),
        ]
        if let png = record.resultPNG, let data = FileManager.default.contents(atPath: png) { files.append(("result.png", Array(data))) }
        do {
            let zip = try DebugBundle.zip(files)
            try await TechcyteAPI(baseURL: env.apiBaseURL, redactor: Redactor(secrets: env.secrets)).uploadDebugBundle(to: uploadURL, bytes: zip)
            console.say("Debug bundle uploaded (\(zip.count) bytes: \(files.map(\.0).joined(separator: ", ")))")
        } catch {
            console.say("WARNING: the debug bundle could not be uploaded: \(error)")
        }
    }
}

/// Download progress for people and for log tabs: a bar on a terminal, otherwise a line
/// every few seconds with MB, MB/s and ETA.
final class ProgressPrinter: @unchecked Sendable {
    // @unchecked: called from one download at a time; `last` is only touched there.
    let console: Console
    let tty = isatty(1) == 1
    var last = 0.0

    init(console: Console) { self.console = console }

    func report(_ p: DownloadProgress) {
        let done = p.total.map { p.received >= $0 } ?? false
        guard tty || p.elapsed - last >= 5 || done else { return }
        last = p.elapsed
        let mb = Double(p.received) / 1e6
        let rate = p.elapsed > 0 ? mb / p.elapsed : 0
        if let total = p.total, total > 0 {
            let fraction = Double(p.received) / Double(total)
            let eta = rate > 0 ? (Double(total) / 1e6 - mb) / rate : 0
            if tty {
                let width = 30
                let filled = Int(fraction * Double(width))
                let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                FileHandle.standardOutput.write(Data(String(format: "\r[%@] %5.1f%% %.1f/%.1f MB %.1f MB/s ETA %.0f s", bar, fraction * 100, mb, Double(total) / 1e6, rate, eta).utf8))
                if done { FileHandle.standardOutput.write(Data("\n".utf8)) }
            } else if !done {
                console.say(String(format: "download: %.1f of %.1f MB (%.0f%%), %.1f MB/s, ETA %.0f s", mb, Double(total) / 1e6, fraction * 100, rate, eta))
            }
        } else if !done {
            console.say(String(format: "download: %.1f MB, %.1f MB/s", mb, rate))
        }
    }
}
