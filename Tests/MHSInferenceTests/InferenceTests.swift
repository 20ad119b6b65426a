import MHSExamples
import Foundation
import MHSDynamicLibrary
import MHSGPU
import MHSInference
import MHSSlide
import MHSTestSupport
import Testing

/// The committed fixture: a 128x128 RGB patch of CMU-1-Small-Region and the NumPy
/// reference outputs written by Models/nuclei/make_model.py.
enum Fixture {
    static let folder = repositoryRoot.appendingPathComponent("Models/nuclei")
    static let side = 128

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    static func floats(_ name: String) throws -> [Float] {
        try bytes(name).withUnsafeBytes { raw in
            (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// The patch as a 1x3xHxW tensor of 0...255 values.
    static func input() throws -> Tensor {
        let rgb = try bytes("fixture-patch.rgb")
        let plane = side * side
        var values = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { values[c * plane + i] = Float(rgb[3 * i + c]) }
        }
        return Tensor(shape: [1, 3, side, side], values: values)
    }
}

let noGPU = CUDAStatus(driverVersion: nil, devices: [], unavailableReason: "libcuda.so.1 not found (test)")

@Suite("ONNX Runtime from Swift and the example nuclei model")
struct InferenceTests {
    @Test("the model's outputs on the fixture patch equal the NumPy reference (1e-4)")
    func matchesNumPy() throws {
        let session = try NucleiModel.session(device: .cpu)
        #expect(session.inputNames == ["rgb"] && session.outputNames == ["response", "peaks"])
        let out = try session.run(["rgb": try Fixture.input()])
        let response = try #require(out["response"]), peaks = try #require(out["peaks"])
        #expect(response.shape == [1, 1, Fixture.side, Fixture.side] && peaks.shape == response.shape)
        let expectedResponse = try Fixture.floats("fixture-response.f32")
        let expectedPeaks = try Fixture.floats("fixture-peaks.f32")
        let worst = zip(response.values, expectedResponse).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "largest difference \(worst)")
        // The same local maxima, with the same values.
        let got = Set(peaks.values.indices.filter { peaks.values[$0] > 0 })
        let want = Set(expectedPeaks.indices.filter { expectedPeaks[$0] > 0 })
        #expect(got == want && want.count > 20, "\(got.count) peaks vs \(want.count)")
        #expect(want.allSatisfy { abs(peaks.values[$0] - expectedPeaks[$0]) <= 1e-4 })
    }

    @Test("the model embedded in the binary is Models/nuclei/nuclei.onnx byte for byte")
    func embeddedModelIsTheCommittedOne() throws {
        #expect(try NucleiModel.bytes() == Fixture.bytes("nuclei.onnx"))
    }

    @Test("a batch gives each image what it gives alone")
    func batches() throws {
        let session = try NucleiModel.session(device: .cpu, threads: 2)
        let one = try Fixture.input()
        // Three different images: the patch, its mirror image, and the patch darkened.
        let plane = Fixture.side * Fixture.side
        var mirrored = one.values, darker = one.values
        for c in 0..<3 {
            for y in 0..<Fixture.side {
                for x in 0..<Fixture.side { mirrored[c * plane + y * Fixture.side + x] = one.values[c * plane + y * Fixture.side + (Fixture.side - 1 - x)] }
            }
        }
        for i in darker.indices { darker[i] *= 0.8 }
        let images = [one.values, mirrored, darker]
        let batch = Tensor(shape: [3, 3, Fixture.side, Fixture.side], values: images.flatMap { $0 })
        let together = try #require(try session.run(["rgb": batch], outputs: ["response"])["response"])
        #expect(together.shape == [3, 1, Fixture.side, Fixture.side])
        for (i, image) in images.enumerated() {
            let alone = try #require(try session.run(["rgb": Tensor(shape: one.shape, values: image)], outputs: ["response"])["response"])
            let worst = zip(together.item(i), alone.values).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-6, "image \(i): \(worst)")
        }
    }

    @Test("ONNX Runtime's own messages come through; wrong names are caught before the call")
    func errors() throws {
        let session = try NucleiModel.session(device: .cpu)
        #expect {
            _ = try session.run(["rgb": Tensor(zeros: [1, 4, 32, 32])])
        } throws: { error in
            guard case .runtime(let call, _, let message) = error as? InferenceError else { return false }
            // ONNX Runtime's words: which input, which index, what it expected.
            return call == "Run" && message.contains("invalid dimensions for input: rgb") && message.contains("Expected: 3")
        }
        #expect(throws: InferenceError.self) { _ = try session.run(["image": Tensor(zeros: [1, 3, 8, 8])]) }
        #expect(throws: InferenceError.self) { _ = try session.run(["rgb": Tensor(zeros: [1, 3, 8, 8])], outputs: ["nope"]) }
        #expect(throws: InferenceError.self) { _ = try InferenceSession(model: [1, 2, 3, 4], device: .cpu) }
    }

    @Test("without a GPU, auto runs on the CPU and says why; cuda is an error")
    func fallback() throws {
        let session = try NucleiModel.session(device: .auto, gpu: noGPU)
        #expect(session.provider == .cpu(threads: Processors.online))
        #expect(session.fallbackReason?.contains("libcuda.so.1 not found") == true)
        #expect(try NucleiModel.session(device: .cpu).fallbackReason == nil)
        #expect {
            _ = try NucleiModel.session(device: .cuda, gpu: noGPU)
        } throws: { error in
            guard case .cudaUnavailable(let why) = error as? InferenceError else { return false }
            return why.contains("no GPU")
        }
        let runtime = try ONNXRuntime.shared()
        #expect(runtime.availableProviders.contains("CPUExecutionProvider"))
        #expect(runtime.version.split(separator: ".").count == 3)
    }

    @Test("a missing runtime is named with every place that was searched")
    func missingRuntime() throws {
        #expect {
            _ = try ONNXRuntime(locations: LibraryLocations(explicit: ["MHS_ONNXRUNTIME_LIB": "/nonexistent/libonnxruntime.so.1"]))
        } throws: { error in
            let text = "\(error)"
            return text.contains("MHS_ONNXRUNTIME_LIB=/nonexistent/libonnxruntime.so.1") && text.contains("pip install onnxruntime")
        }
        // A library that is not ONNX Runtime is refused too.
        #expect {
            _ = try ONNXRuntime(locations: LibraryLocations(explicit: ["MHS_ONNXRUNTIME_LIB": "libz.so.1"]))
        } throws: { "\($0)".contains("not ONNX Runtime") }
    }
}

@Suite("Nuclei detection over a real slide")
struct NucleiDetectionTests {
    @Test("the grid reaches the slide's edges; patches own every place once, and their seams leave no gap")
    func ownership() throws {
        let slide = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let grid = try NucleiClassifier().grid(for: slide)
        let detector = NucleiDetector(grid: grid, margin: 16)
        #expect(grid.columns >= 3 && grid.rows >= 3 && grid.coversEdges)
        for vertical in [false, true] {
            let count = vertical ? grid.rows : grid.columns
            let size = Double(vertical ? slide.dimensions.height : slide.dimensions.width) / grid.targetDownsample
            // Centres of owned pixels, in slide output pixels, over all patches of the axis.
            func centres(widenedBy extra: Double) -> [Double] {
                var all: [Double] = []
                for i in 0..<count {
                    let o = detector.origin(i, vertical: vertical)
                    all += detector.owned(i, of: count, vertical: vertical, widenedBy: extra).map { o + Double($0) + 0.5 }
                }
                return all.sorted()
            }
            // Strictly owned: from edge to edge, each place once (pixels of neighbours may be
            // offset by a fraction of a pixel, so a seam's step is between 0 and 2).
            let strict = centres(widenedBy: 0)
            #expect(strict.first! < 1 && strict.last! > size - 1.5, "\(strict.first!)...\(strict.last!) of \(size)")
            #expect(zip(strict.dropFirst(), strict).allSatisfy { $0 - $1 > 0 && $0 - $1 < 2 })
            // With the one-pixel seam: no step longer than a pixel anywhere (nothing falls between patches).
            let seamed = centres(widenedBy: 1)
            let worst = zip(seamed.dropFirst(), seamed).map { $0 - $1 }.max() ?? 0
            #expect(worst <= 1 + 1e-9, "largest step \(worst)")
        }
    }

    @Test("a nucleus seen by two patches counts once; distinct nuclei stay distinct")
    func merge() throws {
        let slide = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let detector = NucleiDetector(grid: try NucleiClassifier().grid(for: slide), margin: 16)
        let s = detector.grid.targetDownsample
        let nuclei = [
            Nucleus(x: 100, y: 100, score: 0.2), Nucleus(x: 100 + 0.8 * s, y: 100 + 0.3 * s, score: 0.3),  // one, seen twice
            Nucleus(x: 100 + 4 * s, y: 100, score: 0.1),  // a neighbour 4 px away
            Nucleus(x: 500, y: 500, score: 0.1),
        ]
        let merged = detector.merge(nuclei)
        #expect(merged.count == 3)
        #expect(merged.contains { $0.score == 0.3 } && !merged.contains { $0.score == 0.2 })
    }

    @Test("overlapped and sequential runs find the same nuclei, and the timings add up")
    func overlapIsInvisible() async throws {
        let slide = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let session = try NucleiModel.session(device: .cpu)
        var classifier = NucleiClassifier()
        let grid = try classifier.grid(for: slide)
        let mask = try TissueMask.compute(slide: slide)
        let detector = NucleiDetector(grid: grid, margin: 16)
        var runs: [NucleiClassifier.Detection] = []
        for overlapped in [true, false] {
            classifier.overlap = overlapped
            let stream = PatchStream(slide: slide, grid: grid, mask: mask, minimumTissueFraction: 0.1)
            runs.append(try await classifier.detect(stream: stream, detector: detector, session: session, context: nil, mask: mask))
        }
        func key(_ n: Nucleus) -> String { "\(Int(n.x * 10)),\(Int(n.y * 10))" }
        #expect(runs[0].patchCount == runs[1].patchCount && runs[0].patchCount > 5)
        let a = Set(runs[0].nuclei.map(key)), b = Set(runs[1].nuclei.map(key))
        #expect(a == b && runs[0].nuclei.count == runs[1].nuclei.count, "\(a.count) vs \(b.count) nuclei, \(a.symmetricDifference(b).count) differ")
        for run in runs {
            let t = run.timings
            #expect(t.stages.map(\.name) == ["read", "preprocess", "inference", "postprocess"])
            let inference = try #require(t.stage("inference"))
            #expect(inference.calls == (run.patchCount + 7) / 8 && inference.busySeconds > 0)
            #expect(inference.utilisation > 0 && inference.utilisation <= 1)
            #expect(try #require(t.stage("read")).calls == run.patchCount)
        }
        #expect(runs[0].timings.overlapped && !runs[1].timings.overlapped)
    }
}
