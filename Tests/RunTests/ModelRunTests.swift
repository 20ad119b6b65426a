import Foundation
import MHSContract
import MHSEmulator
import MHSTestSupport
import Testing

/// The largest difference between mhs's model-outputs.csv and the reference, and how many
/// rows were compared (every mhs row must be a reference patch).
func compareWithReference(output: String, model: String, slide: String) throws -> (worst: Double, rows: Int, missing: Int) {
    let got = csvProbabilities(try String(contentsOfFile: output + "/model-outputs.csv", encoding: .utf8))
    let want = csvProbabilities(try String(contentsOfFile: "\(patchClassifiers)/reference/\(model).\(slide).csv", encoding: .utf8))
    var worst = 0.0, missing = 0
    for (key, p) in got {
        guard let r = want[key], r.count == p.count else {
            missing += 1
            continue
        }
        for (a, b) in zip(p, r) { worst = max(worst, abs(a - b)) }
    }
    return (worst, got.count, missing)
}

@Suite("Model directories through the real binary: mhs run --model / MHS_MODEL, mhs model check")
struct ModelRunTests {
    @Test("mhs run --model on CMU-1-Small-Region posts regions, a heatmap and a Basic report once; its CSV equals the reference")
    func binaryOnSVS() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])) { emu in
            let output = freshOutput("model-svs")
            let env = containerEnvironment(emu, output: output)
            let r = try await mhs(["run", "--model", "\(patchClassifiers)/tissue-binary"], environment: env)
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("with classifier model") && r.stdout.contains("ONNX Runtime 1.") && r.stdout.contains("on CPU"))
            #expect(r.stdout.contains("128 px at level 0"), "\(r.stdout)")
            #expect(await resultPosts(emu).count == 1)
            let body = try MHSJSON.decode(ResultsBody.self, from: try #require(await emu.posts().first).body)
            let scan = try #require(body.scanResults.first)
            #expect(scan.workflow?.modelName == "mhs test tissue detector (binary)" && scan.workflow?.provider == "mhs tests")
            guard case .basic(let report)? = scan.workflow?.report else {
                Issue.record("no Basic report")
                return
            }
            #expect(report.results.first?.name == "Tissue scored" && report.results.contains { $0.name == "tissue area" })
            #expect(report.segments.map(\.name) == ["tissue"])
            let features = scan.geojson?.features ?? []
            let regions = features.filter { $0.annotationType == "tissue" }
            #expect(!regions.isEmpty && regions.count < 40, "\(regions.count) regions: merged, not one per patch")
            #expect(features.contains { $0.annotationType == "tissue probability" })

            let compared = try compareWithReference(output: output, model: "tissue-binary", slide: "CMU-1-Small-Region")
            #expect(compared.missing == 0 && compared.rows > 100, "\(compared)")
            #expect(compared.worst <= 1e-4, "largest difference from the reference \(compared.worst)")
            // The same patches as QuPath tiles.
            let tiles = try MHSJSON.decode(FeatureCollection.self, from: Array(Data(contentsOf: URL(fileURLWithPath: output + "/model-outputs.geojson"))))
            #expect(tiles.features.count == compared.rows)
            let runReport = try JSONParser.parse(Array(Data(contentsOf: URL(fileURLWithPath: output + "/run-report.json"))))
            #expect(runReport["pipeline"]?["patches"] == .int(Int64(compared.rows)))
        }
    }

    @Test("MHS_MODEL on the DICOM series zip: a three-class model, its regions and heatmap; the CSV equals the reference")
    func binaryOnDICOMZip() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("dicom-cmu-1-small-region-wsidicomizer.zip"))])) { emu in
            let output = freshOutput("model-dicom")
            var env = containerEnvironment(emu, output: output)
            env["MHS_MODEL"] = "\(patchClassifiers)/stain-three"
            env["MHS_MODEL_BATCH"] = "5"
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 0, "\(r.all)")
            #expect(await resultPosts(emu).count == 1)
            let body = try MHSJSON.decode(ResultsBody.self, from: try #require(await emu.posts().first).body)
            let types = Set((body.scanResults.first?.geojson?.features ?? []).compactMap(\.annotationType))
            #expect(types.contains("haematoxylin probability") && types.isSubset(of: ["eosin", "haematoxylin", "haematoxylin probability"]), "\(types)")
            let compared = try compareWithReference(output: output, model: "stain-three", slide: "dicom-cmu-1-small-region-wsidicomizer")
            #expect(compared.missing == 0 && compared.rows > 100, "\(compared)")
            #expect(compared.worst <= 1e-4, "largest difference from the reference \(compared.worst)")
        }
    }

    @Test("a broken model directory is exit 2 before the download, every problem named; MHS_MODEL beside another classifier too")
    func brokenBeforeDownload() async throws {
        let broken = try editedModel("tissue-binary", as: "run-broken") { c in
            c["num_classes"] = 3
            c["class_names"] = ["background", "tissue", "tissue"]
            c["transform"] = [["name": "Resize", "arguments": ["size": 64]], ["name": "RandomFlip"], ["name": "ToTensor"]]
        }
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))])) { emu in
            let output = freshOutput("model-broken")
            var env = containerEnvironment(emu, output: output)
            env["MHS_MODEL"] = broken
            let r = try await mhs(["run"], environment: env)
            #expect(r.status == 2, "\(r.all)")
            #expect(r.stdout.contains("config.json class_names[2]: 'tissue' appears twice"), "\(r.stdout)")
            #expect(r.stdout.contains("config.json transform[1].name: unknown transform 'RandomFlip'"))
            #expect(await gets(emu).isEmpty, "the slide was downloaded")
            #expect(await resultPosts(emu).isEmpty)

            env["MHS_CLASSIFIER"] = "nuclei"
            env["MHS_MODEL"] = "\(patchClassifiers)/tissue-binary"
            let both = try await mhs(["run"], environment: env)
            #expect(both.status == 2 && both.stdout.contains("MHS_MODEL '\(patchClassifiers)/tissue-binary' is set, but MHS_CLASSIFIER selects 'nuclei'"), "\(both.all)")
            #expect(await gets(emu).isEmpty)
        }
    }

    @Test("mhs model check: the config, the shapes, a timed batch and the cost; a broken directory is exit 2 with each problem")
    func modelCheck() async throws {
        let good = try await mhs(["model", "check", "\(patchClassifiers)/tissue-binary", "--batch", "8", "--slide", slide("CMU-1-Small-Region.svs")])
        #expect(good.status == 0, "\(good.all)")
        #expect(good.stdout.contains("2 classes (background, tissue), 128 px at 0.5 µm/px, Resize 64 → ToTensor → Normalize"))
        #expect(good.stdout.contains("input input: float32 [?, 3, 64, 64], output logits: float32 [?, 2]"))
        #expect(good.stdout.contains("a batch of 8 synthetic patches:") && good.stdout.contains("1 cm² of tissue is 24414 patches"))
        #expect(good.stdout.contains("CMU-1-Small-Region.svs (0.499 µm/px): 128 px level-0 patches,"), "\(good.stdout)")

        let wrong = try editedModel("tissue-binary", as: "run-check-size") { c in
            c["transform"] = [["name": "Resize", "arguments": ["size": 96]], ["name": "ToTensor"]]
        }
        let bad = try await mhs(["model", "check", wrong])
        #expect(bad.status == 2)
        #expect(bad.stdout.contains("NOT USABLE (2 problems):"))
        #expect(bad.stdout.contains("model.onnx: input 'input' is 64 pixels high (shape [?, 3, 64, 64]), but the config's Resize makes 96 × 96 patches"), "\(bad.stdout)")
    }

    @Test("mhs new NAME --model DIR writes a model image: the checked directory, a two-line Dockerfile, a README; a broken one is exit 2")
    func newModelImage() async throws {
        let folder = testOutput.appendingPathComponent("model-image/acme-tumour").path
        try? FileManager.default.removeItem(atPath: folder)
        let r = try await mhs(["new", "acme-tumour", "--model", "\(patchClassifiers)/tissue-binary", "--output", folder, "--image", "mhs:cpu"])
        #expect(r.status == 0, "\(r.all)")
        #expect(try String(contentsOfFile: folder + "/Dockerfile", encoding: .utf8) == "FROM mhs:cpu\nCOPY model /model\n")
        for file in ["config.json", "model.onnx"] {
            #expect(FileManager.default.contentsEqual(atPath: folder + "/model/" + file, andPath: "\(patchClassifiers)/tissue-binary/" + file))
        }
        let readme = try String(contentsOfFile: folder + "/README.md", encoding: .utf8)
        #expect(readme.contains("classes background, tissue, 128 px patches at 0.5 µm/px") && readme.contains("mhs model check model"))

        let broken = try editedModel("tissue-binary", as: "run-new-broken") { c in c["patch_size_pixels"] = 0 }
        let refused = try await mhs(["new", "acme-broken", "--model", broken, "--output", folder + "-broken"])
        #expect(refused.status == 2 && refused.stdout.contains("config.json patch_size_pixels: must be an integer from 1"), "\(refused.all)")
        #expect(!FileManager.default.fileExists(atPath: folder + "-broken"))
    }
}
