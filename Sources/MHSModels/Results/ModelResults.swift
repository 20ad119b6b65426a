import MHSContract

/// What a model directory posts for one scan, from its patch scores and the config's `mhs`
/// object (``ModelConfiguration/Posting``):
///
/// * one region annotation per 4-connected group of patches whose probability for a region
///   class reaches the threshold — a polygon with holes following the patch edges
///   (``GridRegions``), named after the class, with its `area_mm2`;
/// * a heatmap of one class: the scored patches in ten probability bands, each band's
///   patches merged the same way, coloured blue → red (`contour_colors`);
/// * a Basic report: the tissue scored, and per region class its area in mm² and its share
///   of the scored tissue (one segment per class); or an AreaDifferential report: every
///   region with its weight (share of the scored tissue), score (its patches' mean
///   probability) and its patches' centres as points of its class, the scores each region
///   class's share of the scored tissue, the threshold as `positivity_threshold`;
/// * `model_name`, `provider` and `ruo` from the configuration.
public enum ModelResults {
    /// The results body for scan `scanId` of a slide of `slideMPP` µm per level-0 pixel.
    /// - Throws: ``BuilderError`` when a region cannot be written (not expected from a grid).
    public static func body(
        _ configuration: ModelConfiguration, _ scores: PatchScores, slideMPP: Double, scanId: String
    ) throws(BuilderError) -> ResultsBody {
        let posting = configuration.posting
        let cells = scores.dense()
        let grid = scores.grid
        let columns = scores.columns
        let mm2PerPixel = slideMPP * slideMPP / 1_000_000
        func probability(_ c: Int, _ r: Int, _ k: Int) -> Double? {
            guard let p = cells[r * columns + c], k < p.count else { return nil }
            return p[k]
        }

        var features: [Feature] = []
        var areas: [(name: String, mm2: Double)] = []
        var areaRegions: [(region: Feature, mm2: Double, score: Double, points: [DifferentialPoint])] = []
        for name in posting.regions {
            guard let k = configuration.classNames.firstIndex(of: name) else { continue }
            var total = 0.0
            let chosen = { (c: Int, r: Int) in (probability(c, r, k) ?? 0) >= posting.threshold }
            if posting.report == .areaDifferential {
                // One region per 4-connected group, with the patches it holds.
                for group in components(columns: columns, rows: scores.rows, chosen) {
                    let members = Set(group.map { $0.row * columns + $0.column })
                    guard let rings = grid.polygons({ c, r in members.contains(r * columns + c) }).first else { continue }
                    let mm2 = rings.reduce(0) { $0 + signedArea($1) } * mm2PerPixel
                    total += mm2
                    let feature = try Feature.polygon(
                        rings[0], holes: Array(rings.dropFirst()), annotationType: name, properties: ["area_mm2": .double(mm2)])
                    features.append(feature)
                    var points: [DifferentialPoint] = []
                    var sum = 0.0
                    for cell in group {
                        let p = probability(cell.column, cell.row, k) ?? 0
                        sum += p
                        let rect = scores.rectangle(column: cell.column, row: cell.row)
                        points.append(DifferentialPoint(
                            x: Double(rect.x) + Double(rect.width) / 2, y: Double(rect.y) + Double(rect.height) / 2, score: p, type: name))
                    }
                    areaRegions.append((feature, mm2, sum / Double(max(group.count, 1)), points))
                }
            } else {
                for rings in grid.polygons(chosen) {
                    let mm2 = rings.reduce(0) { $0 + signedArea($1) } * mm2PerPixel
                    total += mm2
                    features.append(
                        try Feature.polygon(
                            rings[0], holes: Array(rings.dropFirst()), annotationType: name, properties: ["area_mm2": .double(mm2)]))
                }
            }
            areas.append((name, total))
        }
        if let heatmap = posting.heatmap, let k = configuration.classNames.firstIndex(of: heatmap) {
            var members: [Geometry] = []
            var colors: [JSONValue] = []
            for band in 0..<10 {
                let low = Double(band) / 10, high = Double(band + 1) / 10
                let polygons = grid.polygons { c, r in
                    guard let p = probability(c, r, k) else { return false }
                    return p >= low && (p < high || band == 9)
                }
                for rings in polygons {
                    members.append(.polygon(rings))
                    colors.append(.string(HexColor.ramp((low + high) / 2).hex))
                }
            }
            if !members.isEmpty {
                features.append(
                    Feature.annotation(
                        .geometryCollection(members), annotationType: "\(heatmap) probability",
                        properties: ["contour_colors": .array(colors)]))
            }
        }

        var tissue = 0.0
        for p in scores.patches {
            let rect = scores.rectangle(column: p.column, row: p.row)
            tissue += Double(max(rect.width, 0) * max(rect.height, 0)) * mm2PerPixel
        }
        var results = [ResultPair(name: "Tissue scored", result: "\(scores.patches.count) patches, \(decimal(tissue)) mm²")]
        var segments: [Segment] = []
        for (name, mm2) in areas {
            let share = tissue > 0 ? 100 * mm2 / tissue : 0
            results.append(ResultPair(name: "\(name) area", result: "\(decimal(mm2)) mm² (\(decimal(share, places: 1))% of the scored tissue)"))
            segments.append(Segment(name: name, result: "\(decimal(mm2)) mm²", features: []))
        }
        let report: Report
        switch posting.report {
        case .basic:
            report = .basic(BasicReport(results: results, segments: segments))
        case .areaDifferential:
            var shares = OrderedMap<Double>()
            for (name, mm2) in areas { shares[name] = tissue > 0 ? mm2 / tissue : 0 }
            let regions = areaRegions.map { r in
                AreaRegion(region: r.region, weight: tissue > 0 ? r.mm2 / tissue : 0, score: r.score, points: r.points)
            }
            report = .areaDifferential(AreaDifferentialReport(regions: regions, scores: shares, positivityThreshold: posting.threshold))
        }
        let workflow = AiWorkflow(modelName: posting.modelName, provider: posting.provider, ruo: posting.ruo, report: report)
        let scan = ScanResult(scanId: scanId, workflow: workflow, geojson: features.isEmpty ? nil : .of(features))
        return ResultsBody(scanResults: [scan])
    }

    /// The 4-connected groups of chosen cells, each in row order.
    static func components(columns: Int, rows: Int, _ chosen: (Int, Int) -> Bool) -> [[(column: Int, row: Int)]] {
        var seen = [Bool](repeating: false, count: columns * rows)
        var groups: [[(column: Int, row: Int)]] = []
        for start in 0..<(columns * rows) where !seen[start] && chosen(start % columns, start / columns) {
            var group: [(column: Int, row: Int)] = []
            var stack = [start]
            seen[start] = true
            while let i = stack.popLast() {
                let c = i % columns, r = i / columns
                group.append((c, r))
                for (dc, dr) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                    let nc = c + dc, nr = r + dr
                    guard nc >= 0, nr >= 0, nc < columns, nr < rows else { continue }
                    let n = nr * columns + nc
                    if !seen[n], chosen(nc, nr) {
                        seen[n] = true
                        stack.append(n)
                    }
                }
            }
            groups.append(group.sorted { ($0.row, $0.column) < ($1.row, $1.column) })
        }
        return groups
    }

    /// Half the shoelace sum: positive for an outer ring from ``GridRegions``, negative for a hole.
    static func signedArea(_ ring: [Position]) -> Double {
        zip(ring, ring.dropFirst()).reduce(0) { $0 + $1.0.x * $1.1.y - $1.1.x * $1.0.y } / 2
    }

    /// `value` rounded to `places` decimals, written without an exponent.
    static func decimal(_ value: Double, places: Int = 2) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (value.magnitude * scale).rounded()
        guard scaled < 9e15 else { return String(value) }
        let n = UInt64(scaled), p = UInt64(scale)
        var text = (value < 0 && n > 0 ? "-" : "") + String(n / p)
        if places > 0 {
            let fraction = String(n % p)
            text += "." + String(repeating: "0", count: places - fraction.count) + fraction
        }
        return text
    }
}
