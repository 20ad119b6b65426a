import Foundation
import MHSImaging
import MHSInference
@testable import MHSModelRunner
import MHSModels
import MHSSlide
import MHSTestSupport
import Testing

/// The test models of Models/patch-classifiers (make_models.py) and their references.
enum TestModels {
    static let folder = repositoryRoot.appendingPathComponent("Models/patch-classifiers").path
    static func path(_ name: String) -> String { folder + "/" + name }

    /// A reference CSV: level-0 origin → probabilities.
    static func reference(_ model: String, _ slide: String) throws -> [String: [Double]] {
        csvProbabilities(try String(contentsOfFile: folder + "/reference/\(model).\(slide).csv", encoding: .utf8))
    }

}

/// Each output pixel's first source pixel and its weights.
func resampleTaps(source: Int, target: Int) -> [(first: Int, weights: [Double], fixed: [Int32])] {
    let t = ResampleTaps(source: source, target: target)
    return (0..<target).map { i in
        let range = (i * t.width)..<(i * t.width + t.count[i])
        return (t.first[i], Array(t.exact[range]), Array(t.weights[range]))
    }
}

/// The problems a directory has, or none.
func problems(_ path: String) -> [ModelProblem] {
    switch LoadedModel.load(path, device: .cpu, threads: 1) {
    case .success: []
    case .failure(let found): found.problems
    }
}

@Suite("Model directories on ONNX Runtime: loading, checking, the transform, scoring")
struct ModelRunnerTests {
    @Test("the resampling taps are PIL's: identity at 1:1, weights summing to 1 (2²² in fixed point), each reduction reads its whole span")
    func taps() {
        let same = resampleTaps(source: 64, target: 64)
        for (i, tap) in same.enumerated() {
            #expect(tap.first == i && !tap.weights.isEmpty && abs(tap.weights[0] - 1) < 1e-6)
            #expect(tap.weights.dropFirst().allSatisfy { $0 == 0 })
        }
        for (source, target) in [(128, 64), (350, 224), (128, 32), (101, 7), (32, 64)] {
            let taps = resampleTaps(source: source, target: target)
            #expect(taps.count == target)
            #expect(taps.allSatisfy { abs($0.weights.reduce(0, +) - 1) < 1e-12 }, "\(source)→\(target)")
            #expect(taps.allSatisfy { abs(Int($0.fixed.reduce(0, +)) - (1 << 22)) <= $0.fixed.count }, "\(source)→\(target)")
            #expect(taps.allSatisfy { $0.first >= 0 && $0.first + $0.weights.count <= source })
        }
        // 2:1 — output pixel 0 reads source 0…2 with weights 3/8, 3/8 … (PIL: support 2 around centre 1).
        let half = resampleTaps(source: 128, target: 64)
        #expect(half[10].first == 19 && half[10].weights.count == 4)
        #expect(abs(half[10].weights[1] - 0.375) < 1e-6 && abs(half[10].weights[0] - 0.125) < 1e-6)
    }

    @Test("the transform writes NCHW: channel planes, resized, scaled to [0, 1] and normalised")
    func tensors() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: TestModels.path("tissue-binary") + "/config.json")))
        let configuration = try ModelConfiguration.parse(bytes).get()
        // A patch whose left half is red and right half blue, and one that is uniform grey.
        var split = RGBAImage(width: 128, height: 128, fill: RGBA(0, 0, 255))
        for y in 0..<128 { for x in 0..<64 { split[x, y] = RGBA(255, 0, 0) } }
        let grey = RGBAImage(width: 128, height: 128, fill: RGBA(64, 128, 191))
        let tensors = PatchTensors(configuration, sourceSide: 128)
        let batch = tensors.batch([split, grey])
        #expect(batch.shape == [2, 3, 64, 64])
        let plane = 64 * 64
        func at(_ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Float { batch.values[n * 3 * plane + c * plane + y * 64 + x] }
        // mean 0.5, std 0.25: 255 → 2, 0 → -2.
        #expect(abs(at(0, 0, 5, 3) - 2) < 1e-5 && abs(at(0, 2, 5, 3) + 2) < 1e-5)
        #expect(abs(at(0, 0, 5, 60) + 2) < 1e-5 && abs(at(0, 2, 5, 60) - 2) < 1e-5)
        // The column straddling the edge is blended, the same on every row.
        #expect(at(0, 0, 0, 31) > -2 && at(0, 0, 0, 31) < 2 && at(0, 0, 0, 31) == at(0, 0, 40, 31))
        #expect(abs(at(1, 0, 9, 9) - Float((64.0 / 255 - 0.5) / 0.25)) < 1e-5)
        #expect(abs(at(1, 1, 9, 9) - Float((128.0 / 255 - 0.5) / 0.25)) < 1e-5)
        #expect(abs(at(1, 2, 9, 9) - Float((191.0 / 255 - 0.5) / 0.25)) < 1e-5)
    }

    @Test("Resize gives PIL's bytes (what torchvision hands WSInfer's models) on real patches", arguments: [(1024, 1024, 128, 64), (640, 1280, 250, 97)])
    func resizeEqualsPIL(_ fixture: (x: Int, y: Int, side: Int, target: Int)) throws {
        let slide = try Slide(path: MHSTestSupport.slide("CMU-1-Small-Region.svs"))
        let patch = try slide.read(x: fixture.x, y: fixture.y, level: 0, width: fixture.side, height: fixture.side).image
        let name = "pil-resize-\(fixture.x)-\(fixture.y)-\(fixture.side)-\(fixture.target).rgb"
        let pil = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestModels.folder + "/reference/" + name)))
        let config = """
            {"spec_version":"1.0","architecture":"a","num_classes":1,"class_names":["x"],"patch_size_pixels":\(fixture.side),
             "spacing_um_px":0.5,"transform":[{"name":"Resize","arguments":{"size":\(fixture.target)}},{"name":"ToTensor"}]}
            """
        let configuration = try ModelConfiguration.parse(Array(config.utf8)).get()
        let ours = PatchTensors(configuration, sourceSide: fixture.side).resizedBytes(patch)
        #expect(ours.count == pil.count)
        let differing = zip(ours, pil).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) of \(pil.count) bytes differ from PIL's")
    }

    @Test("every test model loads, and its declared shapes are what its config makes")
    func loads() throws {
        for (name, side, classes) in [("tissue-binary", 64, 2), ("tissue-sigmoid", 64, 1), ("stain-three", 32, 3)] {
            let model = try LoadedModel.load(TestModels.path(name), device: .cpu, threads: 1).get()
            #expect(model.inputName == "input" && model.outputName == "logits")
            #expect(model.session.inputs[0].dimensions == [nil, 3, side, side], "\(model.session.inputs[0])")
            #expect(model.session.outputs[0].dimensions == [nil, classes])
            #expect(model.session.inputs[0].description == "input: float32 [?, 3, \(side), \(side)]")
            let p = try model.probabilities(Tensor(zeros: [3, 3, side, side]))
            #expect(p.count == 3 && p.allSatisfy { $0.count == classes && $0.allSatisfy { (0...1).contains($0) } })
            if classes > 1 { #expect(p.allSatisfy { abs($0.reduce(0, +) - 1) < 1e-12 }) }
        }
    }

    @Test("a model that disagrees with its config is refused, each problem named")
    func mismatches() throws {
        // Resize 96, but the model takes 64 × 64.
        let resized = try editedModel("tissue-binary", as: "wrong-size") { c in
            c["transform"] = [["name": "Resize", "arguments": ["size": 96]], ["name": "ToTensor"]]
        }
        let size = problems(resized)
        #expect(size.count == 2 && size.allSatisfy { $0.path == "model.onnx" })
        #expect(size.contains { $0.message.contains("is 64 pixels high") && $0.message.contains("the config's Resize makes 96 × 96") })
        // Three classes in the config, two scores from the model.
        let classes = try editedModel("tissue-binary", as: "wrong-classes") { c in
            c["num_classes"] = 3
            c["class_names"] = ["background", "tissue", "fat"]
            c["mhs"] = nil
        }
        let counted = problems(classes)
        #expect(counted.map(\.description) == ["model.onnx: output 'logits' gives 2 scores per patch, but config.json has num_classes 3 (background, tissue, fat)"])
        // No Resize: patch_size_pixels itself must be the model's side.
        let unresized = try editedModel("stain-three", as: "no-resize") { c in
            c["transform"] = [["name": "ToTensor"]]
        }
        #expect(problems(unresized).contains { $0.message.contains("but patch_size_pixels (the config has no Resize) makes 64 × 64") })
    }

    @Test("an unreadable, empty or missing model, and a broken config, are reported with the file and the JSON path")
    func brokenFiles() throws {
        let garbage = try editedModel("tissue-binary", as: "garbage-model")
        try Data("this is not an ONNX model".utf8).write(to: URL(fileURLWithPath: garbage + "/model.onnx"))
        let loaded = problems(garbage)
        #expect(loaded.count == 1 && loaded[0].path == "model.onnx" && loaded[0].message.hasPrefix("ONNX Runtime cannot load it:"), "\(loaded)")

        let empty = try editedModel("tissue-binary", as: "empty-model")
        try Data().write(to: URL(fileURLWithPath: empty + "/model.onnx"))
        #expect(problems(empty).map(\.description) == ["model.onnx: is empty"])

        let missing = try editedModel("tissue-binary", as: "missing-model-and-fields") { c in
            c["spacing_um_px"] = nil
            c["transform"] = [["name": "Resize", "arguments": ["size": 64]], ["name": "CenterCrop"], ["name": "ToTensor"]]
        }
        try FileManager.default.removeItem(atPath: missing + "/model.onnx")
        let listed = problems(missing).map(\.description)
        #expect(listed.count == 3, "\(listed)")
        #expect(listed.contains { $0.hasPrefix("model.onnx: missing") })
        #expect(listed.contains("config.json spacing_um_px: missing (WSInfer's model format requires it)"))
        #expect(listed.contains { $0.hasPrefix("config.json transform[1].name: unknown transform 'CenterCrop'") })
    }

    @Test("scores on CMU-1-Small-Region equal the openslide-python + onnxruntime-python reference (1e-4)")
    func matchesReference() async throws {
        let slide = try Slide(path: MHSTestSupport.slide("CMU-1-Small-Region.svs"))
        for name in ["tissue-binary", "tissue-sigmoid", "stain-three"] {
            let model = try LoadedModel.load(TestModels.path(name), device: .cpu, threads: 2).get()
            let run = try await PatchScoring(model: model, batchSize: 7, readers: 2).score(slide)
            let reference = try TestModels.reference(name, "CMU-1-Small-Region")
            let side = model.configuration.level0PatchSize(slideMPP: 0.499)
            #expect(run.scores.patchSize == side)
            // Tissue patches only, some but not all of the grid; every one at a reference origin.
            #expect(run.scores.patches.count > reference.count / 4 && run.scores.patches.count < reference.count, "\(name): \(run.scores.patches.count) of \(reference.count)")
            var worst = 0.0
            for p in run.scores.patches {
                let key = "\(p.column * side),\(p.row * side)"
                guard let want = reference[key] else {
                    Issue.record("\(name): patch \(key) is not in the reference grid")
                    continue
                }
                #expect(want.count == p.probabilities.count)
                for (a, b) in zip(p.probabilities, want) { worst = max(worst, abs(a - b)) }
            }
            #expect(worst <= 1e-4, "\(name): largest difference \(worst)")
            // The answers are the known ones: scored tissue is mostly called tissue.
            if name == "tissue-binary" {
                let tissue = run.scores.patches.filter { $0.probabilities[1] >= 0.5 }.count
                #expect(Double(tissue) >= 0.8 * Double(run.scores.patches.count), "\(tissue) of \(run.scores.patches.count)")
            }
        }
    }
}
