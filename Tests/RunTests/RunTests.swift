import Foundation
import MHSContract
import MHSEmulator
import MHSImaging
import MHSSlide
import MHSTestSupport
import Testing

/// A slide the runner must handle, with its level-0 size from the test-data README
/// (OpenSlide 4.0.1), not from our own reader.
struct GoodSlide: Sendable, CustomTestStringConvertible {
    var name: String
    var width: Double
    var height: Double
    var testDescription: String { name }
}

let goodSlides: [GoodSlide] = [
    GoodSlide(name: "CMU-1-Small-Region.svs", width: 2220, height: 2967),
    GoodSlide(name: "tcga-cr-7395-01a-01-ts1.svs", width: 4443, height: 3567),
    GoodSlide(name: "openslide-small.svs", width: 16, height: 16),
    GoodSlide(name: "openslide-boxes.tiff", width: 300, height: 250),
    GoodSlide(name: "wsi2dcm-test-jpeg.dcm", width: 957, height: 715),
    GoodSlide(name: "wsi2dcm-test-jpeg2000.dcm", width: 957, height: 715),
    GoodSlide(name: "wsi2dcm-test-raw.dcm", width: 957, height: 715),
    GoodSlide(name: "dicom-boxes.zip", width: 16, height: 16),
    GoodSlide(name: "dicom-cmu-1-small-region.zip", width: 2220, height: 2967),
    GoodSlide(name: "dicom-cmu-1-small-region-wsidicomizer.zip", width: 2220, height: 2967),
]

/// The container environment for the emulator's first task, plus output folders.
func containerEnvironment(_ emu: RunningEmulator, auth: EmulatorAuth? = nil, task: Int = 0, output: String) -> [String: String] {
    var env = Dictionary(uniqueKeysWithValues: emu.environment(for: emu.tasks[task], auth: auth).map { ($0.name, $0.value) })
    env["MHS_OUTPUT_DIR"] = output
    env["MHS_WORK_DIR"] = output + "/work"
    env["PATH"] = ProcessInfo.processInfo.environment["PATH"]
    env["HOME"] = ProcessInfo.processInfo.environment["HOME"]
    // After an ambiguous answer to the POST, case_evaluations is asked for this long
    // (60 s in production); the gateway rows that need longer set their own.
    env["MHS_POST_CONFIRM_WINDOW"] = "1s"
    return env
}

func freshOutput(_ name: String) -> String {
    let dir = testOutput.appendingPathComponent("run-\(name)").path
    try? FileManager.default.removeItem(atPath: dir)
    return dir
}

/// Results POSTs the emulator recorded.
func resultPosts(_ emu: RunningEmulator) async -> [CallRecord] {
    await emu.calls().filter { $0.method == "POST" && $0.path.contains("/external/results/") }
}

@Suite("mhs run (the real binary) against the emulator")
struct RunTests {
    @Test("every good slide: exit 0, the template's 2x2 boxes from the slide's real size, exactly one POST", arguments: goodSlides)
    func goodSlide(_ good: GoodSlide) async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide(good.name))])) { emu in
            let output = freshOutput(good.name)
            let r = try await mhs(["run"], environment: containerEnvironment(emu, output: output))
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("Generated 4 annotations") && r.stdout.contains("Results posted: HTTP 201"))
            #expect(await resultPosts(emu).count == 1)
            let posted = try #require(await emu.posts().first)
            let body = try MHSJSON.decode(ResultsBody.self, from: posted.body)
            let boxes = body.scanResults[0].geojson?.features.compactMap(\.bbox) ?? []
            let side = min(good.width, good.height) / 8
            var expected: [BoundingBox] = []
            for i in 0..<2 {
                for j in 0..<2 {
                    let cx = good.width / 4 * Double(2 * i + 1), cy = good.height / 4 * Double(2 * j + 1)
                    expected.append(BoundingBox(minX: cx - side / 2, minY: cy - side / 2, maxX: cx + side / 2, maxY: cy + side / 2))
                }
            }
            #expect(boxes == expected)
            #expect(FileManager.default.fileExists(atPath: output + "/results.json"))
            let png = try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/result.png"))))
            #expect(png.width > 0 && png.height > 0)
        }
    }

    @Test("DICOM series come through SCAN_URL_ZIP, and the series' full-resolution file is opened")
    func seriesUsesZip() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("dicom-cmu-1-small-region"))])) { emu in
            let r = try await mhs(["run"], environment: containerEnvironment(emu, output: freshOutput("series")))
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("DICOM series zip (SCAN_URL_ZIP)") && r.stdout.contains("level-0-frames-0-30.dcm"))
            let downloads = await emu.calls().filter { $0.method == "GET" && $0.path.hasPrefix("/bucket/") }
            #expect(downloads.count == 1 && downloads[0].path.hasPrefix("/bucket/series_zip/"))
        }
    }

    @Test("a lone resampled DICOM level without SCAN_URL_ZIP stops with exit 4, nothing posted", arguments: ["dicom-cmu-1-small-region/level-1-frames-0-9.dcm", "camelyon-multiframe.dcm"])
    func loneResampled(_ name: String) async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide(name))])) { emu in
            let r = try await mhs(["run"], environment: containerEnvironment(emu, output: freshOutput("lone-" + name.replacingOccurrences(of: "/", with: "-"))))
            #expect(r.status == 4, "\(r.all)")
            #expect(r.stdout.contains("RESAMPLED") && r.stdout.contains("wrong coordinate frame"))
            #expect(await resultPosts(emu).isEmpty)
        }
    }

    @Test("the same resampled file as a series of its own (with SCAN_URL_ZIP) is processed")
    func resampledWithZip() async throws {
        let folder = NSTemporaryDirectory() + "mhs-camelyon-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: slide("camelyon-multiframe.dcm"), toPath: folder + "/camelyon-multiframe.dcm")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: folder)])) { emu in
            let r = try await mhs(["run"], environment: containerEnvironment(emu, output: freshOutput("camelyon-zip")))
            #expect(r.status == 0, "\(r.all)")
            let body = try MHSJSON.decode(ResultsBody.self, from: try #require(await emu.posts().first).body)
            #expect(body.scanResults[0].geojson?.features.first?.bbox == BoundingBox(minX: 288 - 43.75, minY: 175 - 43.75, maxX: 288 + 43.75, maxY: 175 + 43.75))
        }
    }

    @Test("every bad file: exit 3 or 4 with the problem named, and no POST", arguments: [
        ("CMU-1-Small-Region-TRUNCATED.svs", "not a slide format"),
        ("camelyon-multiframe-TRUNCATED.dcm", "RESAMPLED"),
        ("dicom-cmu-1-small-region-TRUNCATED.zip", "zip cannot be read"),
        ("empty.svs", "the file is empty"),
        ("histolab-broken.svs", "plain text"),
        ("not-a-slide.png", "a PNG image"),
        ("openslide-unopenable.tiff", "Unsupported TIFF compression: 52479"),
        ("openslide-unreadable.svs", "pixels cannot be read"),
    ])
    func badFile(_ name: String, _ problem: String) async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("bad/" + name))])) { emu in
            let r = try await mhs(["run"], environment: containerEnvironment(emu, output: freshOutput("bad-" + name)))
            #expect(r.status == 3 || r.status == 4, "\(r.all)")
            #expect(r.stdout.contains(problem), "\(name): \(r.stdout)")
            #expect(await resultPosts(emu).isEmpty)
        }
    }

    @Test("API-key mode: the key is exchanged at /token, then results posted")
    func apiKeyMode() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))], auth: .apiKey)) { emu in
            let r = try await mhs(["run"], environment: containerEnvironment(emu, auth: .apiKey, output: freshOutput("api-key")))
            #expect(r.status == 0, "\(r.all)")
            let calls = await emu.calls()
            #expect(calls.first?.path == "/api/v3/token" && calls.first?.status == 200)
            #expect(await resultPosts(emu).count == 1)
            #expect(!r.all.contains(emu.apiKeySecret))
        }
    }

    @Test("a wrong API key stops the run before the download: exit 2")
    func wrongAPIKey() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))], auth: .apiKey)) { emu in
            var env = containerEnvironment(emu, auth: .apiKey, output: freshOutput("wrong-key"))
            env["API_KEY_SECRET"] = "not-the-secret-123"
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 2, "\(r.all)")
            #expect(r.stdout.contains("credentials refused"))
            #expect(await emu.calls().allSatisfy { !($0.method == "GET" && $0.path.hasPrefix("/bucket/")) }, "no download after refused credentials")
            #expect(!r.all.contains("not-the-secret-123"))
        }
    }

    @Test("a JWT the platform refuses: results saved and printed, exit 7")
    func wrongJWT() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])) { emu in
            let output = freshOutput("wrong-jwt")
            var env = containerEnvironment(emu, output: output)
            env["JWT_TOKEN"] = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXdyb25n"
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 7, "\(r.all)")
            #expect(r.stdout.contains("Results JSON: {") && FileManager.default.fileExists(atPath: output + "/results.json"))
            #expect(!r.all.contains(env["JWT_TOKEN"]!))
        }
    }

    @Test("missing variables: exit 2, every one named at once, nothing fetched")
    func missingVariables() async throws {
        let r = try await mhs(["run"], environment: [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "", "SCAN_ID": "abc", "API_KEY_ID": "k", "MHS_DEADLINE": "1e300",
            "MHS_PROBE_TIMEOUT": "nan", "MHS_POST_CONFIRM_WINDOW": "-1s",
        ])
        #expect(r.status == 2, "absurd durations are named, not trapped on: \(r.all)")
        for text in [
            "HOST is missing", "TASK_ID is missing", "SCAN_ID 'abc' is not a numeric scan id", "SCAN_URL is missing", "API_KEY_SECRET is missing",
            "MHS_DEADLINE '1e300'", "MHS_PROBE_TIMEOUT 'nan'", "MHS_POST_CONFIRM_WINDOW '-1s'",
        ] {
            #expect(r.stdout.contains(text), "missing '\(text)' in \(r.stdout)")
        }
    }

    @Test("the debug bundle reaches DEBUG_FILE_UPLOAD_URL with the report, log and picture, secrets redacted")
    func debugBundle() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])) { emu in
            let output = freshOutput("bundle")
            let env = containerEnvironment(emu, output: output)
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 0)
            let upload = try #require(await emu.uploads().first)
            #expect(Set(upload.entries) == ["run-report.json", "environment.txt", "run.log", "result.png"])
            let report = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/run-report.json"))))
            #expect(report["exit_status"] == 0)
            #expect(report["stages"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["prepare", "credentials", "download", "open", "thumbnail", "classify", "validate", "render", "post"])
            let signature = String(env["SCAN_URL"]!.split(separator: "&").first { $0.hasPrefix("X-Amz-Signature=") }!.dropFirst(16))
            let reportText = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output + "/run-report.json")), as: UTF8.self)
            for secret in [env["JWT_TOKEN"]!, signature] {
                #expect(!r.all.contains(secret) && !reportText.contains(secret))
            }
        }
    }

    @Test("the stain example walks the tissue patches and posts a heatmap with a Basic report", arguments: ["CMU-1-Small-Region.svs", "dicom-cmu-1-small-region.zip"])
    func stainExample(_ name: String) async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide(name))])) { emu in
            var env = containerEnvironment(emu, output: freshOutput("stain-" + name))
            env["MHS_CLASSIFIER"] = "stain"
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 0, "\(r.all)")
            let body = try MHSJSON.decode(ResultsBody.self, from: try #require(await emu.posts().first).body)
            let heatmap = try #require(body.scanResults[0].geojson?.features.first { $0.annotationType == "Haematoxylin density" })
            guard case .geometryCollection(let contours)? = heatmap.geometry else { Issue.record("no GeometryCollection"); return }
            #expect(contours.count >= 5)
            #expect(heatmap.properties?["contour_colors"]?.arrayValue?.count == contours.count)
            guard case .basic(let report)? = body.scanResults[0].workflow?.report else { Issue.record("no Basic report"); return }
            #expect(report.results.first { $0.name == "Tissue patches" }?.result == String(contours.count))
            #expect(r.stdout.contains("tissue patches of"))
        }
    }

    @Test("mhs inspect shows what the container sees; unreadable slides exit 4")
    func inspect() async throws {
        let r = try await mhs(["inspect", "--json", slide("CMU-1-Small-Region.svs")])
        #expect(r.status == 0)
        let info = try JSONParser.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(info["vendor"] == "aperio" && info["width"] == 2220 && info["height"] == 2967)
        #expect(info["mpp"]?["x"] == 0.499 && info["objective_power"]?.doubleValue == 20)
        #expect(info["associated_images"]?.objectValue?.keys.sorted() == ["label", "macro", "thumbnail"])
        let png = testOutput.appendingPathComponent("inspect-region.png").path
        try FileManager.default.createDirectory(at: testOutput, withIntermediateDirectories: true)
        let region = try await mhs(["inspect", slide("CMU-1-Small-Region.svs"), "--region", "1000,1000,0,64,48", "--out", png])
        #expect(region.status == 0)
        let image = try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: png))))
        #expect(image.width == 64 && image.height == 48 && image[10, 10].a == 255)
        let bad = try await mhs(["inspect", slide("bad/not-a-slide.png")])
        #expect(bad.status == 4 && bad.stderr.contains("PNG"))
    }

    @Test("mhs demo runs a whole task on the slide it generates and leaves four red squares")
    func demo() async throws {
        let output = freshOutput("demo")
        let r = try await mhs(["demo", "--output", output])
        #expect(r.status == 0, "\(r.all)")
        #expect(r.stdout.contains("Results posted: HTTP 201") && r.stdout.contains("emulator page  http://127.0.0.1:"))
        let png = try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/result.png"))))
        // The generated slide is 4096 x 3072; result.png is 1024 x 768: box edges at x = 208..304 (side 96).
        #expect(png.width == 1024 && png.height == 768)
        let red = { (p: RGBA) in p.r > 220 && p.g < 40 && p.b < 40 }
        for (x, y) in [(256, 144), (256, 528), (768, 144), (768, 528)] { #expect(red(png[x, y]), "top edge of the box near (\(x), \(y))") }
        #expect(!red(png[512, 384]))
    }
}

@Suite("Results that break the contract (the real binary)")
struct InvalidResultsRunTests {
    @Test("NaN and infinity: exit 6 naming each JSON path, kept as results.invalid.json, no results.json, nothing posted")
    func nonFinite() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])) { emu in
            let output = freshOutput("invalid-results")
            var env = containerEnvironment(emu, output: output)
            env["MHS_CLASSIFIER"] = "invalid"
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 6, "\(r.all)")
            #expect(r.stdout.contains("[number.finite]"), "\(r.stdout)")
            #expect(r.stdout.contains("scanResults[0].geojson.features[4].geometry.coordinates"), "the NaN point's path")
            #expect(r.stdout.contains("scanResults[0].geojson.features[5].geometry.coordinates[0][0]"), "the infinite polygon's path")
            #expect(!r.stdout.contains("run the validator"))
            #expect(r.stdout.contains("NaN or infinite number(s) written as null"))
            #expect(!FileManager.default.fileExists(atPath: output + "/results.json"))
            let kept = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/results.invalid.json"))))
            #expect(kept["scanResults"]?.arrayValue?.first?["geojson"]?["features"]?.arrayValue?.count == 6)
            #expect(await resultPosts(emu).isEmpty)
            let report = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/run-report.json"))))
            #expect(report["exit_status"] == 6)
            #expect(report["thumbnail_from_probe"] == true, "the probe child's thumbnail was used, not read again")
        }
    }
}

@Suite("A slide that crashes OpenSlide (the real binary, the probe in a child process)")
struct CrashingSlideRunTests {
    @Test("mhs run: exit 4 naming the crash, run report written, debug bundle uploaded, nothing posted")
    func run() async throws {
        var config = EmulatorConfiguration(scans: [ScanSpec(path: try tiledSparseDICOM())])
        config.probe = SlideProbe(executable: mhsBinary, timeout: .seconds(30))  // the emulator must not open it in-process either
        try await Emulator.withRunning(config) { emu in
            let output = freshOutput("tiled-sparse")
            let r = try await mhs(["run"], environment: containerEnvironment(emu, output: output))
            #expect(r.status == 4, "\(r.all)")
            #expect(r.stdout.contains("OpenSlide crashed (SIGSEGV) opening this DICOM"), "\(r.stdout)")
            let report = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/run-report.json"))))
            #expect(report["exit_status"] == 4)
            #expect(report["probe"]?.stringValue?.contains("SIGSEGV") == true)
            #expect(r.stdout.contains("Debug bundle uploaded"))
            #expect(await resultPosts(emu).isEmpty)
        }
    }

    @Test("the emulator keeps serving with such a slide among its scans, and marks it unreadable")
    func emulator() async throws {
        var config = EmulatorConfiguration(scans: [ScanSpec(path: try tiledSparseDICOM()), ScanSpec(path: slide("CMU-1-Small-Region.svs"))])
        config.probe = SlideProbe(executable: mhsBinary, timeout: .seconds(30))
        try await Emulator.withRunning(config) { emu in
            let sparse = emu.tasks[0].scans[0], good = emu.tasks[1].scans[0]
            #expect(!sparse.readable && sparse.detail.contains("OpenSlide crashed (SIGSEGV)"), "\(sparse.detail)")
            #expect(good.readable)
            let output = freshOutput("beside-tiled-sparse")
            let r = try await mhs(["run"], environment: containerEnvironment(emu, task: 1, output: output))
            #expect(r.status == 0, "\(r.all)")
            #expect(await resultPosts(emu).count == 1)
        }
    }
}

@Suite("Implausible slide metadata (the real binary)")
struct ImplausibleMetadataRunTests {
    @Test("openslide-boxes.tiff records 352.8 µm/px: under the 1 µm/px stain example that MPP is treated as missing (warned), level 0 is read as it is")
    func coarseMPP() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("openslide-boxes.tiff"))])) { emu in
            var env = containerEnvironment(emu, output: freshOutput("coarse-mpp"))
            env["MHS_CLASSIFIER"] = "stain"
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("outside the plausible 0.05–100 µm/px, so it is treated as missing"), "\(r.stdout)")
            let body = try MHSJSON.decode(ResultsBody.self, from: try #require(await emu.posts().first).body)
            let heatmap = body.scanResults[0].geojson?.features.first { $0.annotationType == "Haematoxylin density" }
            // Level 0 in 256 px patches: a handful, not the millions a 352.8 → 1 µm/px grid would ask for.
            if case .geometryCollection(let contours)? = heatmap?.geometry { #expect(contours.count < 100) }
        }
    }
}
