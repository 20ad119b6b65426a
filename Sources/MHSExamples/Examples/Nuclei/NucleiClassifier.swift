import Foundation
import MHS

/// An example of a model on the GPU (or CPU) through ONNX Runtime: the nuclei detector
/// (``NucleiModel``) over every tissue patch at 1 µm/px, posted as a WholeSlideDifferential
/// (one point per nucleus with its score and type), the nuclei as points, and a density
/// heatmap (nuclei per mm² of each patch). Select it with `MHS_CLASSIFIER=nuclei`.
///
/// Reading and packing patches overlap inference (``Overlap``); `MHS_NUCLEI_OVERLAP=0`
/// runs them one after the other instead, for comparison. The run report's `pipeline`
/// holds each stage's busy time, the wall time and the inference stage's utilisation.
public struct NucleiClassifier: Classifier, InferenceModelProvider {
    public let name = "nuclei"

    /// Patch side at `mpp`, the overlap kept on each side, and patches per model call.
    public var patchSize = 256
    public var margin = 16
    public var mpp = 1.0
    public var batchSize = 8
    /// Candidates weaker than this are dropped; at or above `strongScore` a nucleus is "Hyperchromatic".
    public var minimumScore: Float = 0.06
    public var strongScore: Float = 0.15
    /// Whether reading overlaps inference (default: yes; a task's `MHS_NUCLEI_OVERLAP=0`
    /// turns it off).
    public var overlap = true
    /// ONNX Runtime's threads on the CPU; nil: half the cores when reading runs alongside
    /// (the readers have the other half: on 2 cores, 2 threads beside 2 readers ran at 229
    /// patches/s, 1 thread at 351), every core otherwise.
    public var inferenceThreads: Int?

    /// The CPU threads inference gets with the current settings on `cores` processors.
    public func cpuThreads(cores: Int) -> Int {
        inferenceThreads ?? (overlap ? max(1, cores / 2) : cores)
    }

    public var modelDescription: String { "example nuclei" }

    public func makeSession(device: ComputeDevice, gpu: CUDAStatus?) throws -> InferenceSession {
        try NucleiModel.session(device: device, gpu: gpu)
    }

    public static let nucleusType = "Nucleus"
    public static let strongType = "Hyperchromatic nucleus"

    public init() {}

    public func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
        var configured = self
        if let value = context.setting("MHS_NUCLEI_OVERLAP") { configured.overlap = value != "0" }
        return try await configured.detectAndReport(slide, context: context)
    }

    private func detectAndReport(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
        let session = try NucleiModel.session(
            model: NucleiModel.bytes(path: context.setting("MHS_NUCLEI_MODEL")), device: context.device, gpu: context.gpu,
            threads: cpuThreads(cores: context.processorCount))
        let runtime = "ONNX Runtime \(session.runtime.version) on \(session.provider)"
        context.logger.info("nuclei: \(runtime)\(session.fallbackReason.map { " (GPU not used: \($0))" } ?? "")")
        context.metrics.record("inference", [
            "runtime": .string(session.runtime.path), "version": .string(session.runtime.version),
            "provider": .string(session.provider.description), "gpu_fallback_reason": session.fallbackReason.map(JSONValue.string) ?? .null,
        ])

        if slide.mpp == nil { context.logger.warning("the slide records no MPP: reading level 0 as if it were 1 µm/px") }
        let grid = try grid(for: slide)
        let mask = try TissueMask.compute(slide: slide)
        let stream = PatchStream(
            slide: slide, grid: grid, mask: mask, minimumTissueFraction: 0.1, concurrency: context.processorCount)
        let detector = NucleiDetector(grid: grid, margin: margin)
        context.logger.info("nuclei: \(stream.cells.count) tissue patches of \(grid.count), \(patchSize) px at level \(grid.level), batches of \(batchSize), \(overlap ? "reading overlapped with inference" : "sequential")")

        let run = try await detect(stream: stream, detector: detector, session: session, context: context, mask: mask)
        context.metrics.record("pipeline", Self.json(run.timings, patches: run.patchCount))
        let perSecond = run.timings.wallSeconds > 0 ? Double(run.patchCount) / run.timings.wallSeconds : 0
        context.logger.info("nuclei: \(run.nuclei.count) nuclei in \(run.patchCount) patches, \(Int(perSecond.rounded())) patches/s; \(run.timings)")
        return try results(run.nuclei, densities: run.densities, context: context, runtime: runtime, levelZeroMPP: slide.mpp?.x ?? 1)
    }

    /// The patches the detector reads: `patchSize` at `mpp` (level 0 without an MPP),
    /// overlapping by `margin` on each side, flush with the slide's edges.
    public func grid(for slide: Slide) throws -> PatchGrid {
        try PatchGrid(
            slide: slide, patchSize: patchSize, stride: patchSize - 2 * margin, resolution: slide.mpp != nil ? .mpp(mpp) : .level(0),
            coverEdges: true)
    }

    /// The nuclei a patch owns.
    public struct PatchDensity: Sendable {
        public var region: NucleiDetector.Region
        public var nuclei: Int
    }

    /// What a detection pass found and how long it took.
    public struct Detection: Sendable {
        public var nuclei: [Nucleus]
        /// Per patch: the level-0 box it owns and the nuclei in it.
        /// One per patch read: the region it owns and the nuclei in it.
        public var densities: [PatchDensity]
        public var timings: PipelineTimings
        public var patchCount: Int { densities.count }
    }

    /// Runs the detector over the stream's patches (overlapped or not, as configured).
    public func detect(
        stream: PatchStream, detector: NucleiDetector, session: InferenceSession, context: ClassifierContext?, mask: TissueMask?
    ) async throws -> Detection {
        let prepare = StageClock("preprocess"), infer = StageClock("inference"), post = StageClock("postprocess")
        var nuclei: [Nucleus] = []
        var densities: [PatchDensity] = []
        var lastSaved = ContinuousClock.now
        let minimumScore = minimumScore

        func consume(_ batch: NucleiDetector.Batch) throws {
            let output = try infer.measure { () throws(InferenceError) in try session.run([NucleiModel.input: batch.tensor], outputs: [NucleiModel.peaks]) }
            post.measure {
                let found = detector.nuclei(from: output[NucleiModel.peaks]!, batch: batch, minimumScore: minimumScore)
                for (place, list) in zip(batch.patches, found) {
                    nuclei += list
                    let region = detector.ownedRegion(place)
                    densities.append(PatchDensity(region: region, nuclei: list.count { region.contains($0) }))
                }
            }
            if let context, ContinuousClock.now - lastSaved > .seconds(10) {
                context.partial.save(try results(detector.merge(nuclei), densities: densities, context: context, runtime: "partial", levelZeroMPP: stream.slide.mpp?.x ?? 1))
                lastSaved = .now
            }
        }

        let start = ContinuousClock.now
        if overlap {
            try await Overlap.run(stream.batches(of: batchSize), depth: 2, prepare: { patches in prepare.measure { detector.pack(patches) } }) {
                try consume($0)
            }
        } else {
            // Strictly one phase after the other: read a batch (in parallel), pack it, run it.
            var index = 0
            while index < stream.cells.count {
                try Task.checkCancellation()
                let cells = stream.cells[index..<min(index + batchSize, stream.cells.count)]
                let patches = try await withThrowingTaskGroup(of: Patch.self) { group in
                    for cell in cells { group.addTask { try stream.read(column: cell.column, row: cell.row, tissue: cell.tissue) } }
                    return try await group.reduce(into: [Patch]()) { $0.append($1) }
                }
                try consume(prepare.measure { detector.pack(patches) })
                index += batchSize
            }
        }
        // The same nucleus seen from both sides of a seam counts once.
        nuclei = post.measure { detector.merge(nuclei) }
        let wall = ContinuousClock.now - start
        let read = StageClock("read", workers: stream.concurrency)
        read.add(stream.statistics.busy, calls: stream.statistics.patches)
        let timings = PipelineTimings(wall: wall, clocks: [read, prepare, infer, post], overlapped: overlap)
        return Detection(nuclei: nuclei, densities: densities, timings: timings)
    }

    static func json(_ t: PipelineTimings, patches: Int) -> JSONValue {
        func r(_ v: Double) -> JSONValue { .double((v * 10000).rounded() / 10000) }
        return [
            "overlapped": .bool(t.overlapped), "wall_seconds": r(t.wallSeconds), "patches": .int(Int64(patches)),
            "patches_per_second": r(t.wallSeconds > 0 ? Double(patches) / t.wallSeconds : 0),
            "inference_utilisation": r(t.stage("inference")?.utilisation ?? 0),
            "stages": .array(t.stages.map { s in
                ["name": .string(s.name), "busy_seconds": r(s.busySeconds), "calls": .int(Int64(s.calls)), "workers": .int(Int64(s.workers)),
                 "utilisation": r(s.utilisation)]
            }),
        ]
    }

    func kind(of n: Nucleus) -> String { n.score >= strongScore ? Self.strongType : Self.nucleusType }

    func results(
        _ nuclei: [Nucleus], densities: [PatchDensity],
        context: ClassifierContext, runtime: String, levelZeroMPP: Double
    ) throws -> ResultsBody {
        let round = { (v: Double) in (v * 10).rounded() / 10 }
        let points = nuclei.map { DifferentialPoint(x: round($0.x), y: round($0.y), score: (Double($0.score) * 1000).rounded() / 1000, type: kind(of: $0)) }
        let report = try Report.wholeSlideDifferential(points: points, positivityThreshold: (Double(strongScore) * 1000).rounded() / 1000)
        var features: [Feature] = []
        for kind in [Self.nucleusType, Self.strongType] {
            let positions = points.filter { $0.type == kind }.map { Position($0.x, $0.y) }
            if !positions.isEmpty { features.append(try .points(positions, annotationType: kind, properties: ["count": .int(Int64(positions.count))])) }
        }
        // Nuclei per mm² of each patch's own region (level-0 pixels are levelZeroMPP µm wide).
        let perMM2 = densities.map { d -> Double in
            let area = d.region.width * d.region.height * levelZeroMPP * levelZeroMPP / 1e6
            return area > 0 ? Double(d.nuclei) / area : 0
        }
        let high = perMM2.max() ?? 0
        let contours = zip(densities, perMM2).map { d, value in
            HeatmapContour.box(x: d.region.x, y: d.region.y, width: d.region.width, height: d.region.height, color: .ramp(high > 0 ? value / high : 0))
        }
        if !contours.isEmpty {
            features.append(try .heatmap(contours, annotationType: "Nuclear density", properties: ["max_per_mm2": .double(high.rounded())]))
        }
        let strong = points.filter { $0.type == Self.strongType }.count
        let share = points.isEmpty ? 0 : Double(strong) / Double(points.count)
        return ResultsBody(
            caseResults: ["nuclei": .int(Int64(points.count))],
            scanResults: [
                ScanResult(
                    scanId: context.scanID,
                    workflow: AiWorkflow(modelName: "mhs nuclei (DoG, ONNX)", provider: "mhs", ruo: true, key: "Nuclei",
                                         value: "\(points.count)", report: report),
                    results: [
                        "summary": .string("\(points.count) nuclei (\(strong) hyperchromatic, \(Int((share * 100).rounded()))%) in \(densities.count) patches"),
                        "runtime": .string(runtime),
                    ],
                    geojson: .of(features))
            ])
    }
}
