import Foundation
import MHSContract
import MHSEmulator
import MHSImaging
import MHSTestSupport
import Testing

/// An emulator serving CMU-1-Small-Region, and the container environment for it with
/// `MHS_CLASSIFIER=nuclei` and a fresh output folder.
func withNucleiTask(_ name: String, _ body: @Sendable (RunningEmulator, [String: String], String) async throws -> Void) async throws {
    try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])) { emu in
        let output = freshOutput(name)
        var env = containerEnvironment(emu, output: output)
        env["MHS_CLASSIFIER"] = "nuclei"
        try await body(emu, env, output)
    }
}

@Suite("The nuclei example (ONNX Runtime) and mhs gpu, through the real binary")
struct NucleiRunTests {
    @Test("MHS_CLASSIFIER=nuclei counts the nuclei of CMU-1-Small-Region, posts them once and draws them")
    func nucleiOnCMU() async throws {
        try await withNucleiTask("nuclei") { emu, env, output in
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("nuclei: ONNX Runtime 1.") && r.stdout.contains("on CPU"))
            #expect(await resultPosts(emu).count == 1)
            let body = try MHSJSON.decode(ResultsBody.self, from: try #require(await emu.posts().first).body)
            guard case .wholeSlideDifferential(let report)? = body.scanResults[0].workflow?.report else {
                Issue.record("no WholeSlideDifferential report")
                return
            }
            // ~1.1 x 1.5 mm of skin, about a third of it tissue: between one and six thousand nuclei.
            #expect((1000...6000).contains(report.points.count), "\(report.points.count) nuclei")
            #expect(report.points.allSatisfy { $0.score >= 0.06 && ["Nucleus", "Hyperchromatic nucleus"].contains($0.type) })
            #expect(report.points.allSatisfy { (0..<2220).contains($0.x) && (0..<2967).contains($0.y) })
            #expect(abs(report.scores.values.reduce(0, +) - 1) < 1e-9)
            let features = body.scanResults[0].geojson?.features ?? []
            #expect(Set(features.compactMap(\.annotationType)) == ["Nucleus", "Hyperchromatic nucleus", "Nuclear density"])

            // The points are drawn: result.png (1024 px wide for 2220) has a palette colour at
            // nearly every posted nucleus.
            let png = try PNG.decode(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/result.png"))))
            let scale = Double(png.width) / 2220
            let sample = stride(from: 0, to: report.points.count, by: max(1, report.points.count / 200)).map { report.points[$0] }
            let drawn = sample.filter { p in
                let c = png[Int(p.x * scale), Int(p.y * scale)]
                return AnnotationRenderer.palette.contains { $0.r == c.r && $0.g == c.g && $0.b == c.b }
            }
            #expect(Double(drawn.count) >= 0.9 * Double(sample.count), "\(drawn.count) of \(sample.count) points drawn")

            // QuPath gets every nucleus as a detection with its score, and the annotations.
            let qupath = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/annotations.qupath.geojson"))))
            let objects = try #require(qupath["features"]?.arrayValue)
            let detections = objects.filter { $0["properties"]?["objectType"]?.stringValue == "detection" }
            #expect(detections.count == report.points.count)
            #expect(detections.first?["geometry"]?["coordinates"]?.arrayValue?.compactMap(\.doubleValue) == [report.points[0].x, report.points[0].y])
            #expect(detections.first?["properties"]?["measurements"]?["score"]?.doubleValue == report.points[0].score)
            #expect(Set(objects.filter { $0["properties"]?["objectType"]?.stringValue == "annotation" }
                .compactMap { $0["properties"]?["classification"]?["name"]?.stringValue }) == Set(features.compactMap(\.annotationType)))

            // The run report says where the time went.
            let runReport = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/run-report.json"))))
            let pipeline = try #require(runReport["pipeline"])
            #expect(pipeline["overlapped"] == true)
            let utilisation = try #require(pipeline["inference_utilisation"]?.doubleValue)
            #expect(utilisation > 0 && utilisation <= 1)
            #expect(pipeline["stages"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["read", "preprocess", "inference", "postprocess"])
            #expect(runReport["inference"]?["provider"]?.stringValue?.hasPrefix("CPU") == true)
        }
    }

    @Test("without ONNX Runtime the classifier fails with where it looked, and nothing is posted")
    func missingRuntime() async throws {
        try await withNucleiTask("nuclei-no-ort") { emu, base, _ in
            var env = base
            env["MHS_ONNXRUNTIME_LIB"] = "/nonexistent/libonnxruntime.so.1"
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 5, "\(r.all)")
            #expect(r.all.contains("ONNX Runtime (libonnxruntime.so) not found") && r.all.contains("MHS_ONNXRUNTIME_LIB=/nonexistent/libonnxruntime.so.1"))
            #expect(r.all.contains("pip install onnxruntime"))
            #expect(await resultPosts(emu).isEmpty)
        }
    }

    @Test("MHS_INFERENCE_DEVICE=cuda without a GPU is an error, not a silent CPU run; a bad value is a configuration error")
    func deviceChoice() async throws {
        try await withNucleiTask("nuclei-cuda") { emu, base, _ in
            var env = base
            env["MHS_INFERENCE_DEVICE"] = "cuda"
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 5 && r.all.contains("the CUDA execution provider cannot be used: no GPU"), "\(r.all)")
            env["MHS_INFERENCE_DEVICE"] = "tpu"
            let bad = try await mhs(["run"], environment: env)
            #expect(bad.status == 2 && bad.all.contains("MHS_INFERENCE_DEVICE 'tpu' must be auto, cpu or cuda"))
            #expect(await resultPosts(emu).isEmpty)
        }
    }

    @Test("mhs gpu without a GPU: the CPU fallback, what ONNX Runtime offers, exit 0")
    func gpuCommandOnCPU() async throws {
        let r = try await mhs(["gpu"])
        #expect(r.status == 0, "\(r.all)")
        #expect(r.stdout.contains("CUDA available: False") && r.stdout.contains("No GPU: classifiers run on the CPU"))
        #expect(r.stdout.contains("ONNX Runtime 1.") && r.stdout.contains("CPUExecutionProvider"))
        #expect(r.stdout.contains("The example nuclei model runs on: CPU"))
        // A library that is not the driver is reported as such, still exit 0.
        let wrong = try await mhs(["gpu"], environment: ["MHS_CUDA_LIB": "libz.so.1", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? ""])
        #expect(wrong.status == 0 && wrong.stdout.contains("libz.so.1 lacks cuInit"))
        let bad = try await mhs(["gpu", "--kernel", "opencl"])
        #expect(bad.status != 0 && bad.all.contains("--kernel must be auto, cublas or ptx"))
    }
}
