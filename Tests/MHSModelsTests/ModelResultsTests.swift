import MHSContract
import MHSModels
import Testing

/// WSInfer's example on a 350 × 250 slide read in 100-px patches (4 × 3, the last column 50
/// wide, the last row 50 high) at 0.5 µm per pixel. The tumour probability, by row:
///
///     0.9  0.8  0.1  —
///     0.7  0.2  0.95 —        (— : not tissue, not scored)
///     0.6  0.55 0.05 1.0
func example() throws -> (ModelConfiguration, PatchScores) {
    let configuration = try ModelConfiguration.parse(Array(wsinferExample.utf8)).get()
    let tumour: [[Double?]] = [[0.9, 0.8, 0.1, nil], [0.7, 0.2, 0.95, nil], [0.6, 0.55, 0.05, 1.0]]
    var patches: [ScoredPatch] = []
    for (row, values) in tumour.enumerated() {
        for (column, value) in values.enumerated() {
            if let p = value { patches.append(ScoredPatch(column: column, row: row, probabilities: [1 - p, p])) }
        }
    }
    return (configuration, PatchScores(patchSize: 100, slideWidth: 350, slideHeight: 250, patches: patches.reversed()))
}

@Suite("what a model directory posts")
struct ModelResultsTests {
    @Test("tumour regions merged from the patches over the threshold, with their areas; a valid body")
    func regions() throws {
        let (configuration, scores) = try example()
        #expect(scores.columns == 4 && scores.rows == 3)
        let body = try ModelResults.body(configuration, scores, slideMPP: 0.5, scanId: "8061860")
        let report = Validator.validate(body, context: ValidationContext(scanIds: ["8061860"], slideSize: SlideSize(width: 350, height: 250)))
        #expect(report.isValid, "\(report.problems)")
        let features = try #require(body.scanResults.first?.geojson?.features)
        let regions = features.filter { $0.annotationType == "tumor" }
        // Over 0.5: the left column and (1, 0), (1, 2) join in one region of five patches
        // (the last row is 50 px high); (2, 1) alone; (3, 2) alone (50 × 50).
        #expect(regions.count == 3)
        let mm2 = regions.compactMap { $0.properties?["area_mm2"]?.doubleValue }.sorted()
        let pixel = 0.25 / 1_000_000
        #expect(mm2 == [2_500 * pixel, 10_000 * pixel, (3 * 10_000 + 2 * 5_000) * pixel])
        #expect(!features.contains { $0.annotationType == "notumor" }, "a binary model's negative class is no region")

        guard case .basic(let basic)? = body.scanResults[0].workflow?.report else {
            Issue.record("no Basic report")
            return
        }
        // Scored: 10 patches; 6 of 100 × 100, 3 of 100 × 50 and one of 50 × 50: 77,500 px²,
        // 0.019375 mm²; tumour 52,500 px² of it (67.7%).
        #expect(basic.results.map(\.name) == ["Tissue scored", "tumor area"])
        #expect(basic.results[0].result == "10 patches, 0.02 mm²")
        #expect(basic.results[1].result == "0.01 mm² (67.7% of the scored tissue)")
        #expect(basic.segments.map(\.name) == ["tumor"])
        #expect(body.scanResults[0].workflow?.modelName == "resnet34 (notumor, tumor)")
    }

    @Test("an AreaDifferential report: each region weighted by its share, scored by its patches' mean, holding their centres")
    func areaDifferential() throws {
        var (configuration, scores) = try example()
        configuration.posting.report = .areaDifferential
        let body = try ModelResults.body(configuration, scores, slideMPP: 0.5, scanId: "8061860")
        let report = Validator.validate(body, context: ValidationContext(scanIds: ["8061860"], slideSize: SlideSize(width: 350, height: 250)))
        #expect(report.isValid, "\(report.problems)")
        guard case .areaDifferential(let area)? = body.scanResults[0].workflow?.report else {
            Issue.record("no AreaDifferential report")
            return
        }
        // The three regions of the Basic test, largest (the left column and its two neighbours) first in row order.
        #expect(area.regions.count == 3 && area.positivityThreshold == 0.5)
        let big = try #require(area.regions.first { $0.points.count == 5 })
        #expect(abs(big.weight - 40_000.0 / 77_500) < 1e-12)
        #expect(abs(big.score - (0.9 + 0.8 + 0.7 + 0.6 + 0.55) / 5) < 1e-12)
        #expect(big.points.map(\.x) == [50, 150, 50, 50, 150] && big.points.map(\.y) == [50, 50, 150, 225, 225])
        #expect(big.points.allSatisfy { $0.type == "tumor" })
        let corner = try #require(area.regions.first { $0.points.first?.x == 325 })
        #expect(corner.points.map(\.y) == [225] && corner.score == 1.0 && abs(corner.weight - 2_500.0 / 77_500) < 1e-12)
        #expect(abs((area.scores["tumor"] ?? 0) - 52_500.0 / 77_500) < 1e-12)
        // The same regions are annotations too.
        #expect(body.scanResults[0].geojson?.features.filter { $0.annotationType == "tumor" }.count == 3)
    }

    @Test("the heatmap: every scored patch in one band, each band's patches merged, one colour per contour")
    func heatmap() throws {
        let (configuration, scores) = try example()
        let body = try ModelResults.body(configuration, scores, slideMPP: 0.5, scanId: "1")
        let heatmap = try #require(body.scanResults[0].geojson?.features.first { $0.annotationType == "tumor probability" })
        guard case .geometryCollection(let members)? = heatmap.geometry else {
            Issue.record("the heatmap is not a GeometryCollection")
            return
        }
        #expect(heatmap.properties?["contour_colors"]?.arrayValue?.count == members.count)
        // Bands: 0.9 & 0.95 (not touching: two), 0.8, 0.7, 0.6, 0.55 (0.5-0.6), 0.2, 0.1, 0.05, 1.0 (in the top band with 0.9s).
        var area = 0.0
        for case .polygon(let rings) in members { area += rings.reduce(0) { $0 + doubleArea($1) } / 2 }
        #expect(area == 77_500, "the contours cover exactly the scored patches")
    }

    @Test("model-outputs.csv in WSInfer's columns, and the patches as QuPath tiles")
    func outputs() throws {
        let (configuration, scores) = try example()
        let lines = WSInferOutputs.csv(configuration, scores).split(separator: "\n")
        #expect(lines.count == 11)
        #expect(lines[0] == "minx,miny,width,height,prob_notumor,prob_tumor")
        #expect(lines[1] == "0,0,100,100,\(1 - 0.9),0.9")
        #expect(lines[10] == "300,200,50,50,0.0,1.0")
        let tiles = WSInferOutputs.qupathTiles(configuration, scores).features
        #expect(tiles.count == 10 && tiles.allSatisfy { $0.properties?["objectType"]?.stringValue == "tile" })
        #expect(tiles[0].properties?["measurements"]?["prob_tumor"]?.doubleValue == 0.9)
        #expect(tiles[0].properties?["classification"]?["name"]?.stringValue == "tumor")
        #expect(tiles[2].properties?["classification"]?["name"]?.stringValue == "notumor")
    }
}

/// Twice the signed area of a closed ring.
func doubleArea(_ ring: [Position]) -> Double {
    zip(ring, ring.dropFirst()).reduce(0) { $0 + $1.0.x * $1.1.y - $1.1.x * $1.0.y }
}
