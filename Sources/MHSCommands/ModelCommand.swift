import ArgumentParser
import Foundation
import MHS

/// `mhs model`: model directories (WSInfer's config.json beside model.onnx).
struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Model directories: WSInfer's config.json beside model.onnx, run with no code (MHS_MODEL, --model).",
        subcommands: [ModelCheckCommand.self]
    )
}

/// `mhs model check DIR`: everything `mhs run` would check before a download, and the cost.
struct ModelCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a model directory: its config, the model's inputs and outputs against it, one timed batch, the cost of a slide.",
        discussion: """
            Reads config.json (every problem, with its JSON path), loads model.onnx in ONNX Runtime \
            on the device MHS_INFERENCE_DEVICE or --device says, checks its input \
            ([batch, 3, side, side] after the transform) and output ([batch, num_classes]), runs \
            one batch of synthetic patches (timed after a warm-up) and prints what a slide would \
            cost: patches per cm² of tissue, and with --slide the tissue patches of that slide.
            Exit status: 0 the directory runs; 2 it does not (each problem printed), as `mhs run` \
            with MHS_MODEL would exit 2 before the download.
            """
    )

    @Argument(help: "The model directory.")
    var directory: String

    @Option(help: "Patches in the timed batch (as MHS_MODEL_BATCH in a task; default 8 on the CPU, 32 on a GPU).")
    var batch: Int?

    @Option(help: "auto, cpu or cuda (default: MHS_INFERENCE_DEVICE, else auto).")
    var device: String?

    @Option(help: "A slide to count the model's tissue patches on, for its cost.")
    var slide: String?

    func run() async throws {
        let environment = CommandContext.current.environment
        if let batch, !(1...4096).contains(batch) { throw ValidationError("--batch must be from 1 to 4096") }
        let deviceName = device ?? environment["MHS_INFERENCE_DEVICE"] ?? "auto"
        guard let device = ComputeDevice(rawValue: deviceName) else { throw ValidationError("--device must be auto, cpu or cuda") }
        let threads = CommandContext.current.processorCount
        let path = URL(fileURLWithPath: directory).standardizedFileURL.path
        printFlushed("model directory \(path)")
        let model: LoadedModel
        switch LoadedModel.load(path, device: device, threads: threads) {
        case .failure(let found):
            printFlushed("NOT USABLE (\(found.problems.count) problem\(found.problems.count == 1 ? "" : "s")):")
            for p in found.problems { printFlushed("  - \(p)") }
            throw ExitCode(ExitStatus.configuration.rawValue)
        case .success(let m): model = m
        }
        let batch = self.batch ?? ModelDirectoryClassifier.defaultBatchSize(onGPU: model.session.provider.isGPU)
        let c = model.configuration
        printFlushed("  config: \(c.architecture), \(c.numberOfClasses) class\(c.numberOfClasses == 1 ? "" : "es") (\(c.classNames.joined(separator: ", "))), \(c.patchSizePixels) px at \(c.spacingMicronsPerPixel) µm/px, \(Self.describe(c.transforms)), \(c.activation.rawValue)")
        let p = c.posting
        printFlushed("  posts: \(p.regions.isEmpty ? "no regions" : "regions of \(p.regions.joined(separator: ", ")) at probability ≥ \(p.threshold)"), \(p.heatmap.map { "a heatmap of \($0)" } ?? "no heatmap"), a \(p.report.rawValue) report; model_name \"\(p.modelName)\", provider \"\(p.provider)\", ruo \(p.ruo)")
        let session = model.session
        let input = session.inputs[0], output = session.outputs[0]
        printFlushed("  model.onnx: input \(input), output \(output)\(session.outputs.count > 1 ? " (of \(session.outputs.count) outputs, the first is read)" : "") — matches the config")
        printFlushed("  ONNX Runtime \(session.runtime.version) on \(session.provider)\(session.fallbackReason.map { " (GPU not used: \($0))" } ?? "")")

        // One synthetic batch, after a warm-up: the model's own time per batch.
        let side = c.inputSize
        var generator = SplitMix(seed: 0x6d6873)
        let values = (0..<(batch * 3 * side * side)).map { _ in Float(generator.unit() * 4 - 2) }
        let tensor = Tensor(shape: [batch, 3, side, side], values: values)
        let probabilities: [[Double]]
        var times: [Double] = []
        do {
            _ = try model.probabilities(tensor)
            for _ in 0..<3 {
                let start = ContinuousClock.now
                _ = try model.probabilities(tensor)
                times.append((ContinuousClock.now - start) / .seconds(1))
            }
            probabilities = try model.probabilities(tensor)
        } catch {
            printFlushed("NOT USABLE: model.onnx does not run on a batch of \(batch) \(side) × \(side) patches: \(error)")
            throw ExitCode(ExitStatus.configuration.rawValue)
        }
        let best = times.min() ?? 0
        let perPatch = best / Double(batch)
        let sums = probabilities.map { $0.reduce(0, +) }
        printFlushed(String(format: "  a batch of %d synthetic patches: %.1f ms (best of 3 after a warm-up) — %.1f patches/s for the model alone", batch, best * 1000, perPatch > 0 ? 1 / perPatch : 0))
        if c.activation == .softmax {
            printFlushed(String(format: "    softmax probabilities sum to %.6f–%.6f per patch", sums.min() ?? 0, sums.max() ?? 0))
        }
        // The cost of tissue: a patch covers (patch_size_pixels × spacing_um_px)² µm².
        let patchMicrons = Double(c.patchSizePixels) * c.spacingMicronsPerPixel
        let perCM2 = (10_000 / patchMicrons) * (10_000 / patchMicrons)
        printFlushed(String(format: "  cost: a patch covers %.0f × %.0f µm; 1 cm² of tissue is %.0f patches ≈ %@ of inference", patchMicrons, patchMicrons, perCM2, Self.duration(perCM2 * perPatch)))
        if let slide {
            do {
                let opened = try Slide(path: slide)
                let scoring = PatchScoring(model: model, batchSize: batch)
                let (grid, mpp) = try scoring.grid(for: opened)
                let mask = try TissueMask.compute(slide: opened)
                let stream = PatchStream(slide: opened, grid: grid, mask: mask, minimumTissueFraction: scoring.minimumTissueFraction)
                printFlushed(String(format: "  %@ (%.3f µm/px): %d px level-0 patches, %d of %d on tissue ≈ %@ of inference", URL(fileURLWithPath: slide).lastPathComponent, mpp, grid.patchSize, stream.cells.count, grid.count, Self.duration(Double(stream.cells.count) * perPatch)))
            } catch {
                printFlushed("  --slide \(slide): \(error)")
                throw ExitCode(ExitStatus.slide.rawValue)
            }
        }
        printFlushed("OK: MHS_MODEL=\(path) runs as the '\(TaskConfiguration.modelClassifierName)' classifier")
    }

    static func describe(_ transforms: [ModelConfiguration.Transform]) -> String {
        transforms.map { t in
            switch t {
            case .resize(let size): "Resize \(size)"
            case .toTensor: "ToTensor"
            case .normalize(let mean, let std): "Normalize mean \(mean) std \(std)"
            }
        }.joined(separator: " → ")
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 1 ? String(format: "%.0f ms", seconds * 1000) : seconds < 120 ? String(format: "%.1f s", seconds) : String(format: "%.1f min", seconds / 60)
    }
}

/// A small deterministic generator for the synthetic batch.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// In [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
