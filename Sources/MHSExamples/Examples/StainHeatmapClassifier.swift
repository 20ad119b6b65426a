import Foundation
import MHS

/// An example of the tile pipeline: every tissue patch at 1 µm/px, its mean haematoxylin
/// optical density by colour deconvolution (Ruifrok & Johnston's H&E vectors), posted as a
/// heatmap (one contour per patch, coloured blue → red) plus a Basic report and a segment
/// with the densest tenth of the patches. Select it with `MHS_CLASSIFIER=stain`.
public struct StainHeatmapClassifier: Classifier {
    public let name = "stain"

    /// Output patch side in pixels, and the resolution patches are read at.
    public var patchSize = 256
    public var mpp = 1.0

    public init() {}

    public func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
        let resolution: PatchResolution = slide.mpp != nil ? .mpp(mpp) : .level(0)
        if slide.mpp == nil { context.logger.warning("the slide records no MPP: using level 0 as it is") }
        let grid = try PatchGrid(slide: slide, patchSize: patchSize, resolution: resolution)
        let mask = try TissueMask.compute(slide: slide)
        let stream = PatchStream(slide: slide, grid: grid, mask: mask, minimumTissueFraction: 0.25)
        context.logger.info(
            "stain: \(stream.cells.count) tissue patches of \(grid.count) (tissue \(Int(mask.tissueFraction * 100))% of the slide), level \(grid.level)")

        // Keep each patch's place and value, never its pixels (memory stays flat).
        var densities: [Density] = []
        var lastSaved = ContinuousClock.now
        for try await batch in stream.batches(of: 32) {
            for p in batch { densities.append(Density(x: Double(p.x), y: Double(p.y), extent: p.extent, h: Self.meanHaematoxylin(p))) }
            // Keep what is known in case time runs out, but not after every batch: building
            // the results is linear in the patches so far.
            if ContinuousClock.now - lastSaved > .seconds(10) {
                context.partial.save(try results(densities, context: context, mask: mask))
                lastSaved = .now
            }
        }
        return try results(densities, context: context, mask: mask)
    }

    /// One tissue patch's place (level-0) and mean haematoxylin OD.
    struct Density {
        var x: Double
        var y: Double
        var extent: Double
        var h: Double
    }

    private func results(_ densities: [Density], context: ClassifierContext, mask: TissueMask) throws -> ResultsBody {
        let values = densities.map(\.h)
        let low = values.min() ?? 0, high = values.max() ?? 1
        var contours: [HeatmapContour] = []
        for d in densities {
            let t = high > low ? (d.h - low) / (high - low) : 0.5
            contours.append(.box(x: d.x, y: d.y, width: d.extent, height: d.extent, color: .ramp(t)))
        }
        var features: [Feature] = []
        if !contours.isEmpty { features.append(try .heatmap(contours, annotationType: "Haematoxylin density")) }
        let sorted = densities.sorted { $0.h > $1.h }
        let dense = try sorted.prefix(max(1, densities.count / 10)).map { d in
            try Feature.box(x: d.x, y: d.y, width: d.extent, height: d.extent, annotationType: "Dense nuclei",
                            properties: ["haematoxylin_od": .double((d.h * 1000).rounded() / 1000)])
        }
        let mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        let report = Report.basic(
            results: [
                "Tissue patches": "\(densities.count)", "Mean haematoxylin OD": String(format: "%.3f", mean),
                "Tissue fraction": String(format: "%.0f%%", mask.tissueFraction * 100),
            ],
            segments: densities.isEmpty ? [] : [Segment(name: "Dense nuclei", result: "\(dense.count) patches", features: dense)])
        return ResultsBody(
            caseResults: ["tissuePatches": .int(Int64(densities.count))],
            scanResults: [
                ScanResult(
                    scanId: context.scanID,
                    workflow: AiWorkflow(modelName: "mhs stain heatmap", provider: "mhs", ruo: true, key: "Mean haematoxylin OD",
                                         value: String(format: "%.3f", mean), report: report),
                    results: ["summary": .string("\(densities.count) tissue patches; mean haematoxylin OD \(String(format: "%.3f", mean))")],
                    geojson: .of(features + (densities.isEmpty ? [] : dense)))
            ])
    }

    /// Rows of the inverse of the normalised H&E(+DAB) stain matrix: the first gives the
    /// haematoxylin concentration from optical densities.
    static let haematoxylinRow: (Double, Double, Double) = {
        func unit(_ v: (Double, Double, Double)) -> (Double, Double, Double) {
            let n = (v.0 * v.0 + v.1 * v.1 + v.2 * v.2).squareRoot()
            return (v.0 / n, v.1 / n, v.2 / n)
        }
        let h = unit((0.65, 0.70, 0.29)), e = unit((0.07, 0.99, 0.11)), d = unit((0.27, 0.57, 0.78))
        // Rows of M are the stain vectors; OD = c · M, so c = OD · M⁻¹: H is M⁻¹'s first column.
        let m = [[h.0, h.1, h.2], [e.0, e.1, e.2], [d.0, d.1, d.2]]
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        let c0 = (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det
        let c1 = -(m[1][0] * m[2][2] - m[1][2] * m[2][0]) / det
        let c2 = (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det
        return (c0, c1, c2)
    }()

    /// Mean haematoxylin concentration (OD units) over the patch's opaque pixels.
    /// Optical density of each 8-bit intensity.
    static let opticalDensity: [Double] = (0..<256).map { -log10(max(Double($0), 1) / 255) }

    static func meanHaematoxylin(_ patch: Patch) -> Double {
        let lut = opticalDensity
        let (a, b, c) = haematoxylinRow
        var sum = 0.0
        var n = 0
        patch.image.pixels.withUnsafeBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 4) where p[i + 3] > 0 {
                sum += max(0, lut[Int(p[i])] * a + lut[Int(p[i + 1])] * b + lut[Int(p[i + 2])] * c)
                n += 1
            }
        }
        return n > 0 ? sum / Double(n) : 0
    }
}
