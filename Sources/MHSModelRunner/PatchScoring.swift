import Foundation
import MHSContract
import MHSInference
import MHSModels
import MHSSlide

/// Scores a slide's tissue patches with a loaded model directory, WSInfer's way: square
/// level-0 patches of `round(patch_size_pixels × spacing_um_px / slide MPP)` pixels from the
/// slide's top-left corner, side by side (whole patches only), those at least half on tissue;
/// the transform; batches through ONNX Runtime with reading and packing overlapped.
public struct PatchScoring: Sendable {
    public let model: LoadedModel
    /// Patches per model call.
    public var batchSize: Int
    /// Parallel patch readers.
    public var readers: Int
    /// The tissue share a patch needs to be scored.
    public var minimumTissueFraction: Double = 0.5

    public init(model: LoadedModel, batchSize: Int = 32, readers: Int = 1) {
        self.model = model
        self.batchSize = max(1, batchSize)
        self.readers = max(1, readers)
    }

    /// Why a slide cannot be scored.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// What one pass over a slide gave.
    public struct Run: Sendable {
        public var scores: PatchScores
        public var timings: PipelineTimings
        /// Grid cells in all (scored or not).
        public var gridCells: Int
        public var slideMPP: Double
    }

    /// The level-0 grid of `slide` for this model.
    public func grid(for slide: Slide) throws -> (grid: PatchGrid, mpp: Double) {
        guard let mpp = slide.mpp?.x else {
            throw Failure(description: "\(URL(fileURLWithPath: slide.path).lastPathComponent) records no usable MPP (microns per pixel)\(slide.mppWarning.map { ": \($0)" } ?? ""); a model directory places its \(model.configuration.patchSizePixels) px patches at \(model.configuration.spacingMicronsPerPixel) µm/px from it")
        }
        let side = model.configuration.level0PatchSize(slideMPP: mpp)
        return (try PatchGrid(slide: slide, patchSize: side, resolution: .level(0)), mpp)
    }

    /// Scores the slide's tissue patches; `progress` gets the scores so far every few seconds.
    public func score(_ slide: Slide, progress: (@Sendable (PatchScores) -> Void)? = nil) async throws -> Run {
        let (grid, mpp) = try grid(for: slide)
        let mask = try TissueMask.compute(slide: slide)
        let stream = PatchStream(
            slide: slide, grid: grid, mask: mask, minimumTissueFraction: minimumTissueFraction, concurrency: readers)
        let tensors = PatchTensors(model.configuration, sourceSide: grid.patchSize)
        let prepare = StageClock("preprocess"), infer = StageClock("inference")
        var scored: [ScoredPatch] = []
        scored.reserveCapacity(stream.cells.count)
        func scores() -> PatchScores {
            PatchScores(patchSize: grid.patchSize, slideWidth: grid.slideWidth, slideHeight: grid.slideHeight, patches: scored)
        }
        var lastProgress = ContinuousClock.now
        let model = self.model
        let start = ContinuousClock.now
        try await Overlap.run(stream.batches(of: batchSize), depth: 2, prepare: { patches in
            (places: patches.map { ($0.column, $0.row) }, tensor: prepare.measure { tensors.batch(patches.map(\.image)) })
        }) { batch in
            let probabilities = try infer.measure { try model.probabilities(batch.tensor) }
            for (place, p) in zip(batch.places, probabilities) {
                scored.append(ScoredPatch(column: place.0, row: place.1, probabilities: p))
            }
            if let progress, ContinuousClock.now - lastProgress > .seconds(10) {
                progress(scores())
                lastProgress = .now
            }
        }
        let read = StageClock("read", workers: stream.concurrency)
        read.add(stream.statistics.busy, calls: stream.statistics.patches)
        let timings = PipelineTimings(wall: ContinuousClock.now - start, clocks: [read, prepare, infer], overlapped: true)
        return Run(scores: scores(), timings: timings, gridCells: grid.count, slideMPP: mpp)
    }
}
