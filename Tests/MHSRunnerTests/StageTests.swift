import Foundation
import MHSContract
import MHSEmulator
import MHSImaging
import MHSRunner
import MHSSecrets
import MHSSlide
import MHSTestSupport
import MHSTransport
import Testing

/// The configuration of the emulator's first task, with output folders under test-output.
func taskConfiguration(_ emu: RunningEmulator, auth: EmulatorAuth? = nil, output name: String, extra: [String: String] = [:]) throws
    -> TaskConfiguration
{
    let output = testOutput.appendingPathComponent("stage-\(name)").path
    try? FileManager.default.removeItem(atPath: output)
    var env = Dictionary(uniqueKeysWithValues: emu.environment(for: emu.tasks[0], auth: auth).map { ($0.name, $0.value) })
    env["MHS_OUTPUT_DIR"] = output
    env["MHS_WORK_DIR"] = output + "/work"
    env["MHS_POST_CONFIRM_WINDOW"] = "1s"
    env.merge(extra) { _, new in new }
    let configuration = try TaskConfiguration.parse(env)
    for dir in [configuration.outputDirectory, configuration.workDirectory] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    return configuration
}

/// Runs `body` and returns the stage failure it threw (nil when it threw none).
func failure(_ body: () async throws -> Void) async -> StageFailure? {
    do {
        try await body()
        return nil
    } catch let f as StageFailure {
        return f
    } catch {
        return StageFailure(.classifier, "not a stage failure: \(error)")
    }
}

/// Each stage of the runner on its own, in-process, against the emulator: typed input in,
/// typed output (or a ``StageFailure`` with its exit status) out.
@Suite("the runner's stages, one at a time")
struct StageTests {
    @Test("credentials: an API key is exchanged for a token the console then hides; a wrong secret is exit 2")
    func credentials() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("openslide-small.svs"))], auth: .apiKey)) { emu in
            let configuration = try taskConfiguration(emu, auth: .apiKey, output: "credentials")
            let console = Console(echo: false)
            let api = TechcyteAPI(baseURL: configuration.apiBaseURL)
            let token = try await CredentialsStage(api: api, credentials: configuration.credentials, console: console).run()
            #expect(token.split(separator: ".").count == 3)
            #expect(console.redact("Bearer \(token)") != "Bearer \(token)")
            let wrong = Credentials.apiKey(id: emu.apiKeyID, secret: emu.apiKeySecret + "-wrong")
            let refused = await failure { _ = try await CredentialsStage(api: api, credentials: wrong, console: console).run() }
            #expect(refused?.status == .configuration)
            #expect(refused?.message.contains("cannot obtain a token") == true)
        }
    }

    @Test("download: an SVS lands as .svs and is reported; a series zip is extracted to the file to open")
    func download() async throws {
        let scans = [ScanSpec(path: slide("CMU-1-Small-Region.svs"))]
        try await Emulator.withRunning(EmulatorConfiguration(scans: scans)) { emu in
            let configuration = try taskConfiguration(emu, output: "download")
            let recorder = RunRecorder()
            let scan = try await DownloadStage(
                configuration: configuration, redactor: Redactor(secrets: configuration.secrets), console: Console(echo: false),
                recorder: recorder
            ).run()
            #expect(scan.path.hasSuffix(".svs") && scan.format == .aperioSVS(bigTIFF: false))
            let size = try FileManager.default.attributesOfItem(atPath: slide("CMU-1-Small-Region.svs"))[.size] as? Int
            #expect(scan.bytes == size)
            #expect(recorder.report.download?.bytes == size && recorder.report.format == "Aperio SVS")
        }
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("dicom-boxes.zip"))])) { emu in
            var configuration = try taskConfiguration(emu, output: "download-zip")
            configuration.scanZipURL = emu.slideURL(scanId: emu.tasks[0].scans[0].id, zip: true)
            let scan = try await DownloadStage(
                configuration: configuration, redactor: Redactor(), console: Console(echo: false), recorder: RunRecorder()
            ).run()
            #expect(scan.format == .zip && scan.path.hasSuffix(".dcm") && scan.summary.contains("series of"))
        }
    }

    @Test("download: a URL the store refuses is exit 3 naming the variable")
    func downloadRefused() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("openslide-small.svs"))])) { emu in
            var configuration = try taskConfiguration(emu, output: "download-refused")
            configuration.scanURL = emu.baseURL + "/s3/no-such-bucket/no-such-object"
            let refused = await failure {
                _ = try await DownloadStage(
                    configuration: configuration, redactor: Redactor(), console: Console(echo: false), recorder: RunRecorder()
                ).run()
            }
            #expect(refused?.status == .download && refused?.message.contains("SCAN_URL") == true)
        }
    }

    @Test("open: a real slide opens with its facts recorded; a broken one is exit 4 with what was wrong")
    func open() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("openslide-small.svs"))])) { emu in
            let configuration = try taskConfiguration(emu, output: "open")
            let recorder = RunRecorder()
            let stage = OpenStage(configuration: configuration, probeExecutable: mhsBinary, console: Console(echo: false), recorder: recorder)
            let good = DownloadedScan(path: slide("CMU-1-Small-Region.svs"), format: .aperioSVS(bigTIFF: false), bytes: 0, summary: "")
            let opened = try await stage.run(good)
            #expect(opened.dimensions.width == 2220 && opened.dimensions.height == 2967)
            #expect(recorder.report.slide?.width == 2220 && recorder.report.probe == "readable")
            #expect(recorder.report.thumbnailFromProbe == true)
            let broken = slide("bad/CMU-1-Small-Region-TRUNCATED.svs")
            let refused = await failure { _ = try await stage.run(DownloadedScan(path: broken, format: .aperioSVS(bigTIFF: false), bytes: 0, summary: "")) }
            #expect(refused?.status == .slide)
        }
    }

    @Test("classify: a throwing classifier is exit 5 naming it; its result's annotations are counted")
    func classify() async throws {
        struct Failing: Classifier {
            let name = "failing"
            func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
                struct Broken: Error {}
                throw Broken()
            }
        }
        struct Boxes: Classifier {
            let name = "boxes"
            func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
                let box = try Feature.box(x: 1, y: 1, width: 4, height: 4, annotationType: "Box")
                return ResultsBody(scanResults: [ScanResult(scanId: context.scanID, geojson: .of([box, box]))])
            }
        }
        let s = try Slide(path: slide("openslide-small.svs"))
        let context = ClassifierContext(taskID: "1", taskNumber: 1, scanID: "7", outputDirectory: "/tmp", workDirectory: "/tmp", logger: Console(echo: false).logger())
        let recorder = RunRecorder()
        let body = try await ClassifyStage(classifier: Boxes(), context: context, console: Console(echo: false), recorder: recorder).run(s)
        #expect(body.scanResults.count == 1 && recorder.report.annotations == 2)
        let failed = await failure {
            _ = try await ClassifyStage(classifier: Failing(), context: context, console: Console(echo: false), recorder: RunRecorder()).run(s)
        }
        #expect(failed?.status == .classifier && failed?.message.contains("failing") == true)
    }

    @Test("results: a valid body is saved as results.json; an invalid one is exit 6, kept as results.invalid.json with its paths printed")
    func results() async throws {
        let output = testOutput.appendingPathComponent("stage-results").path
        try? FileManager.default.removeItem(atPath: output)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let console = Console(echo: false)
        let stage = ResultsStage(scanID: "7", outputDirectory: output, console: console)
        let size = SlideSize(width: 100, height: 100)
        let box = try Feature.box(x: 1, y: 1, width: 4, height: 4, annotationType: "Box")
        let good = ResultsBody(scanResults: [ScanResult(scanId: "7", geojson: .of([box]))])
        let report = try stage.validate(good, slideSize: size)
        let saved = try stage.save(good, report: report)
        #expect(saved.path == output + "/results.json")
        #expect(FileManager.default.contents(atPath: output + "/results.json").map(Array.init) == saved.json)
        let wrongScan = ResultsBody(scanResults: [ScanResult(scanId: "8", geojson: .of([box]))])
        let refused = await failure { _ = try stage.validate(wrongScan, slideSize: size) }
        #expect(refused?.status == .invalidResults)
        #expect(FileManager.default.fileExists(atPath: output + "/results.invalid.json"))
        #expect(console.transcript.contains { $0.contains("scanResults[0].scanId") })
    }

    @Test("post: one evaluation stored and the outcome recorded; result.png drawn on the thumbnail")
    func postAndRender() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("openslide-small.svs"))])) { emu in
            let configuration = try taskConfiguration(emu, output: "post")
            let console = Console(echo: false)
            let recorder = RunRecorder()
            let box = try Feature.box(x: 1, y: 1, width: 4, height: 4, annotationType: "Box")
            let body = ResultsBody(scanResults: [ScanResult(scanId: configuration.scanID, geojson: .of([box]))])
            let stage = ResultsStage(scanID: configuration.scanID, outputDirectory: configuration.outputDirectory, console: console)
            let validated = try stage.save(body, report: try stage.validate(body, slideSize: SlideSize(width: 16, height: 16)))
            let token = try await CredentialsStage(
                api: TechcyteAPI(baseURL: configuration.apiBaseURL), credentials: configuration.credentials, console: console
            ).run()
            let summary = try await PostStage(
                api: TechcyteAPI(baseURL: configuration.apiBaseURL), configuration: configuration, console: console, recorder: recorder
            ).run(validated, token: token)
            #expect(summary.hasPrefix("HTTP 2"))
            #expect(recorder.report.posted == true)
            #expect(await emu.evaluations().count == 1)

            let thumbnail = try ThumbnailStage().run(try Slide(path: slide("openslide-small.svs")))
            let png = stage.drawPicture(body, on: thumbnail, slideWidth: 16)
            #expect(png == configuration.outputDirectory + "/result.png")
            #expect(FileManager.default.contents(atPath: configuration.outputDirectory + "/result.png")?.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        }
    }

    @Test("report: run-report.json carries the typed facts, the exit status and the classifier's own facts, redacted")
    func report() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("openslide-small.svs"))])) { emu in
            let configuration = try taskConfiguration(emu, output: "report")
            let console = Console(echo: false)
            console.hide(configuration.secrets)
            let recorder = RunRecorder()
            recorder.update { $0.scanID = configuration.scanID; $0.annotations = 3 }
            recorder.metrics.record("lab_fact", .string("token \(configuration.secrets[0])"))
            _ = try await recorder.time("validate", summary: { _ in "0 errors" }) { 1 }
            await ReportStage(console: console, recorder: recorder).run(
                status: .invalidResults, message: "bad", configuration: configuration, fallbackOutput: "/nonexistent", resultsKept: false,
                resultPNG: nil)
            let bytes = try #require(FileManager.default.contents(atPath: configuration.outputDirectory + "/run-report.json"))
            let report = try JSONParser.parse(Array(bytes))
            #expect(report["exit_status"] == .int(6) && report["annotations"] == .int(3) && report["scan_id"] == .string(configuration.scanID))
            #expect(String(decoding: bytes, as: UTF8.self).contains(#"{"name":"validate""#))
            #expect(!String(decoding: bytes, as: UTF8.self).contains(configuration.secrets[0]))
        }
    }
}

@Suite("TaskConfiguration")
struct ConfigurationTests {
    @Test("an unknown MHS_CLASSIFIER is named with every other problem; the settings hold no secret")
    func classifierAndSettings() throws {
        #expect(throws: ConfigurationError.self) { _ = try TaskConfiguration.parse(["MHS_CLASSIFIER": "nope"], classifiers: ["template"]) }
        do {
            _ = try TaskConfiguration.parse(["MHS_CLASSIFIER": "nope", "MHS_DEADLINE": "soon"], classifiers: ["template", "nuclei"])
        } catch {
            #expect(error.problems.contains { $0.contains("MHS_CLASSIFIER 'nope'") && $0.contains("template, nuclei") })
            #expect(error.problems.contains { $0.contains("MHS_DEADLINE") } && error.problems.contains { $0.contains("HOST") })
        }
        let env = [
            "HOST": "http://127.0.0.1:1/api/v3", "TASK_ID": "5", "SCAN_ID": "7", "SCAN_URL": "http://127.0.0.1:1/s",
            "API_KEY_ID": "id", "API_KEY_SECRET": "s3cret", "MHS_NUCLEI_OVERLAP": "0", "MHS_OPENSLIDE_LIB": "/x/libopenslide.so.1",
            "MHS_DEADLINE": "10m", "MHS_POST_MARGIN": "1m",
        ]
        let c = try TaskConfiguration.parse(env, classifiers: ["template"], processorCount: 3)
        #expect(c.settings["MHS_NUCLEI_OVERLAP"] == "0" && c.settings["API_KEY_SECRET"] == nil)
        #expect(c.libraries.file("MHS_OPENSLIDE_LIB") == "/x/libopenslide.so.1" && c.processorCount == 3)
        #expect(c.deadline == 600 && c.postMargin == 60)
    }

    @Test("an extra CA: MHS_CA_FILE first, else SSL_CERT_FILE; an unreadable one is named with the other problems")
    func caFile() throws {
        let env = [
            "HOST": "techcyte.test:8443", "TASK_ID": "5", "SCAN_ID": "7", "SCAN_URL": "https://api.techcyte.test:8443/s", "JWT_TOKEN": "aaaa.bbbb.cccc",
        ]
        let readable = #filePath
        #expect(try TaskConfiguration.parse(env).caFile == nil)
        #expect(try TaskConfiguration.parse(env.merging(["SSL_CERT_FILE": readable]) { $1 }).caFile == readable)
        let both = try TaskConfiguration.parse(env.merging(["SSL_CERT_FILE": "/nonexistent", "MHS_CA_FILE": readable]) { $1 })
        #expect(both.caFile == readable && both.apiBaseURL == "https://api.techcyte.test:8443/api/v3")
        do {
            _ = try TaskConfiguration.parse(env.merging(["MHS_CA_FILE": "/nonexistent/ca.pem", "TASK_ID": ""]) { $1 })
            Issue.record("an unreadable MHS_CA_FILE was accepted")
        } catch {
            #expect(error.problems.contains { $0.contains("MHS_CA_FILE '/nonexistent/ca.pem' is not a readable file") })
            #expect(error.problems.contains { $0.contains("TASK_ID") })
        }
    }

    @Test("a catalog refuses two classifiers of one name; nil picks the first")
    func catalog() throws {
        struct Named: Classifier {
            let name: String
            func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody { ResultsBody(scanResults: []) }
        }
        #expect(throws: ClassifierCatalog.Problem.self) { _ = try ClassifierCatalog([Named(name: "a"), Named(name: "a")]) }
        #expect(throws: ClassifierCatalog.Problem.self) { _ = try ClassifierCatalog([Named(name: "")]) }
        let catalog = try ClassifierCatalog([Named(name: "a"), Named(name: "b")])
        #expect(catalog.named(nil)?.name == "a" && catalog.named("b")?.name == "b" && catalog.named("c") == nil)
    }
}
