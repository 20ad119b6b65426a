import Foundation
import MHSContract
import MHSGPU
import MHSInference
import MHSModels
import MHSRunner
import MHSSlide

/// A model directory (WSInfer's `config.json` beside `model.onnx`) as a classifier: no code.
///
/// It runs as the `model` classifier, chosen by `MHS_MODEL=/path/to/dir` (or `--model DIR`
/// on `mhs run` and `mhs demo`). Before the scan is downloaded it reads the configuration,
/// loads the model on the best device and checks the two against each other (exit 2 with
/// every problem otherwise); then it scores the slide's tissue patches (``PatchScoring``)
/// and posts what the config's `mhs` object says (``ModelResults``), writing WSInfer's
/// `model-outputs.csv` and the patches as QuPath tiles (`model-outputs.geojson`) beside
/// `results.json`.
///
/// Settings: `MHS_MODEL_BATCH` (patches per model call; default 8 on the CPU, where larger
/// batches are no faster and hold more activations, 32 on a GPU).
public struct ModelDirectoryClassifier: Classifier {
    public let name = TaskConfiguration.modelClassifierName
    /// The directory; nil reads `MHS_MODEL` from the task.
    public var path: String?

    /// The directory `MHS_MODEL` names, or `path`.
    public init(path: String? = nil) { self.path = path }

    /// The files written beside `results.json`.
    public static let csvName = "model-outputs.csv"
    public static let tilesName = "model-outputs.geojson"
    /// Patches per model call unless `MHS_MODEL_BATCH` says: 8 on the CPU (measured with a
    /// ResNet-18 on 2 cores: 35.5 patches/s at 8, 36.8 at 32, with 233 against 421 MB of peak
    /// memory), 32 on a GPU.
    public static func defaultBatchSize(onGPU: Bool) -> Int { onGPU ? 32 : 8 }

    public func prepared(context: ClassifierContext) async throws -> any Classifier {
        var problems: [String] = []
        let directory = path ?? context.setting("MHS_MODEL")
        if directory == nil {
            problems.append("MHS_MODEL is not set: it names the model directory (config.json beside model.onnx) to run")
        }
        var batch: Int?
        if let text = context.setting("MHS_MODEL_BATCH") {
            if let n = Int(text), (1...4096).contains(n) { batch = n } else {
                problems.append("MHS_MODEL_BATCH '\(text)' must be a whole number of patches from 1 to 4096")
            }
        }
        guard let directory, problems.isEmpty else { throw ClassifierSetupError(problems) }
        switch LoadedModel.load(directory, device: context.device, gpu: context.gpu, threads: context.processorCount) {
        case .failure(let found):
            throw ClassifierSetupError(problems + found.problems.map { "model directory \(directory): \($0)" })
        case .success(let model):
            let session = model.session
            context.logger.info("model \(directory): \(model.configuration.posting.modelName), ONNX Runtime \(session.runtime.version) on \(session.provider)\(session.fallbackReason.map { " (GPU not used: \($0))" } ?? "")")
            return LoadedModelClassifier(model: model, batchSize: batch ?? Self.defaultBatchSize(onGPU: session.provider.isGPU))
        }
    }

    public func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
        try await prepared(context: context).classify(slide, context: context)
    }
}

/// A loaded model directory classifying slides (what ``ModelDirectoryClassifier`` prepares).
public struct LoadedModelClassifier: Classifier, InferenceModelProvider {
    public let name = TaskConfiguration.modelClassifierName
    public let model: LoadedModel
    public var batchSize: Int

    public init(model: LoadedModel, batchSize: Int? = nil) {
        self.model = model
        self.batchSize = batchSize ?? ModelDirectoryClassifier.defaultBatchSize(onGPU: model.session.provider.isGPU)
    }

    public var modelDescription: String { "model directory \(model.directory.path)" }

    public func makeSession(device: ComputeDevice, gpu: CUDAStatus?) throws -> InferenceSession {
        try InferenceSession(modelPath: model.directory.modelPath, device: device, gpu: gpu, cudaOptions: LoadedModel.cudaOptions)
    }

    public func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
        let configuration = model.configuration
        let session = model.session
        context.metrics.record("inference", [
            "runtime": .string(session.runtime.path), "version": .string(session.runtime.version),
            "provider": .string(session.provider.description), "gpu_fallback_reason": session.fallbackReason.map(JSONValue.string) ?? .null,
            "model_directory": .string(model.directory.path),
        ])
        // The model's threads take the cores; one reader decodes beside them (more on a GPU).
        let readers = session.provider.isGPU ? max(1, context.processorCount) : max(1, context.processorCount / 2)
        let scoring = PatchScoring(model: model, batchSize: batchSize, readers: readers)
        let (grid, _) = try scoring.grid(for: slide)
        context.logger.info("model: \(configuration.patchSizePixels) px at \(configuration.spacingMicronsPerPixel) µm/px is \(grid.patchSize) px at level 0; \(grid.columns) × \(grid.rows) patches, those half on tissue scored in batches of \(batchSize) on \(session.provider)")
        let scanID = context.scanID
        let run = try await scoring.score(slide) { partial in
            if let body = try? ModelResults.body(configuration, partial, slideMPP: slide.mpp?.x ?? 1, scanId: scanID) { context.partial.save(body) }
        }
        let perSecond = run.timings.wallSeconds > 0 ? Double(run.scores.patches.count) / run.timings.wallSeconds : 0
        context.logger.info("model: \(run.scores.patches.count) tissue patches of \(run.gridCells) scored, \(Int(perSecond.rounded())) patches/s; \(run.timings)")
        context.metrics.record("pipeline", Self.json(run))

        let body = try ModelResults.body(configuration, run.scores, slideMPP: run.slideMPP, scanId: context.scanID)
        // WSInfer's files, for the tools labs already use.
        let csv = WSInferOutputs.csv(configuration, run.scores)
        let tiles = try MHSJSON.encode(WSInferOutputs.qupathTiles(configuration, run.scores))
        for (file, bytes) in [(ModelDirectoryClassifier.csvName, Array(csv.utf8)), (ModelDirectoryClassifier.tilesName, tiles)] {
            let path = context.outputDirectory + "/" + file
            if !FileManager.default.createFile(atPath: path, contents: Data(bytes)) {
                context.logger.warning("model: could not write \(path)")
            }
        }
        return body
    }

    static func json(_ run: PatchScoring.Run) -> JSONValue {
        func r(_ v: Double) -> JSONValue { .double((v * 10000).rounded() / 10000) }
        let t = run.timings
        let patches = run.scores.patches.count
        return [
            "overlapped": .bool(t.overlapped), "wall_seconds": r(t.wallSeconds), "patches": .int(Int64(patches)),
            "grid_cells": .int(Int64(run.gridCells)), "level0_patch_pixels": .int(Int64(run.scores.patchSize)),
            "patches_per_second": r(t.wallSeconds > 0 ? Double(patches) / t.wallSeconds : 0),
            "inference_utilisation": r(t.stage("inference")?.utilisation ?? 0),
            "stages": .array(t.stages.map { s in
                ["name": .string(s.name), "busy_seconds": r(s.busySeconds), "calls": .int(Int64(s.calls)), "workers": .int(Int64(s.workers)),
                 "utilisation": r(s.utilisation)]
            }),
        ]
    }
}
