import MHSContract
import Testing

@Suite("Builders")
struct BuilderTests {
    @Test("a 2x2 grid of boxes with a Basic report, built with builders, validates without a problem")
    func boxGridResults() throws {
        let (w, h) = (2220.0, 2967.0)
        let side = min(w, h) / 8
        var boxes: [Feature] = []
        for i in 0..<2 {
            for j in 0..<2 {
                let cx = w / 4 * Double(2 * i + 1)
                let cy = h / 4 * Double(2 * j + 1)
                boxes.append(try .box(x: cx - side / 2, y: cy - side / 2, width: side, height: side, annotationType: "Mitosis"))
            }
        }
        let body = ResultsBody(
            caseResults: ["mitosisCount": 4],
            scanResults: [
                ScanResult(
                    scanId: "42",
                    workflow: AiWorkflow(
                        modelName: "Template", provider: "mhs", ruo: true,
                        report: .basic(
                            results: ["Result": "Positive", "Mitosis Count": "4", "Dummy Score": "0.87"],
                            segments: [Segment(name: "Tumor", result: "1", features: [boxes[0]]), Segment(name: "Mitosis", result: "4", features: boxes)])),
                    geojson: .of(boxes), qcFailReasons: .passed)
            ])
        let context = ValidationContext(scanIds: ["42"], slideSize: SlideSize(width: w, height: h))
        #expect(Validator.validate(body, context: context).problems == [])
        #expect(Validator.validate(json: try JSONParser.parse(try MHSJSON.encode(body)), context: context).problems == [])
        #expect(boxes[0].bbox == BoundingBox(minX: w / 4 - side / 2, minY: h / 4 - side / 2, maxX: w / 4 + side / 2, maxY: h / 4 + side / 2))
    }

    @Test("point sets, heatmaps and polygons get bboxes and validate")
    func shapes() throws {
        let points = try Feature.points([Position(10, 20), Position(30, 5)], annotationType: "Nucleus")
        #expect(points.bbox == BoundingBox(minX: 10, minY: 5, maxX: 30, maxY: 20))
        let heat = try Feature.heatmap(
            [HeatmapContour(outline: [Position(0, 0), Position(5, 0), Position(5, 5)], color: .ramp(0.2)),
             HeatmapContour(outline: [Position(5, 0), Position(9, 0), Position(9, 5), Position(5, 5)], color: HexColor("#ff0000")!)],
            annotationType: "Heat")
        #expect(heat.properties?["contour_colors"] == [.string(HexColor.ramp(0.2).hex), "#ff0000"])
        let poly = try Feature.polygon([Position(0, 0), Position(4, 0), Position(4, 4)], annotationType: "Tumor")
        guard case .polygon(let rings)? = poly.geometry else { Issue.record(); return }
        #expect(rings[0].count == 4 && rings[0].first == rings[0].last)
        let wsd = try Report.wholeSlideDifferential(
            points: [DifferentialPoint(x: 1, y: 2, score: 0.9, type: "pos"), DifferentialPoint(x: 3, y: 4, score: 0.1, type: "neg")],
            positivityThreshold: 0.5)
        let area = Report.areaDifferential(AreaDifferentialReport(
            regions: [try .polygon([Position(0, 0), Position(9, 0), Position(9, 9)], weight: 1, score: 0.5, points: [])],
            scores: ["pos": 0.5], positivityThreshold: 0.5))
        let body = ResultsBody(scanResults: [
            ScanResult(scanId: "1", workflow: AiWorkflow(modelName: "m", provider: "p", ruo: false, report: wsd), geojson: .of([points, heat, poly])),
            ScanResult(scanId: "2", workflow: AiWorkflow(modelName: "m", provider: "p", ruo: false, report: area)),
        ])
        #expect(Validator.validate(body).problems == [])
        if case .wholeSlideDifferential(let r) = wsd { #expect(r.scores == ["pos": 0.5, "neg": 0.5]) }
    }

    @Test("builders refuse what the validator would reject")
    func refusals() {
        #expect(throws: BuilderError.self) { try Feature.box(x: .nan, y: 0, width: 1, height: 1, annotationType: "a") }
        #expect(throws: BuilderError.self) { try Feature.box(x: 0, y: 0, width: -1, height: 1, annotationType: "a") }
        #expect(throws: BuilderError.self) { try Feature.polygon([Position(0, 0), Position(1, 1)], annotationType: "a") }
        #expect(throws: BuilderError.self) { try Feature.polygon([Position(0, 0), Position(1, 1), Position(0, 0)], annotationType: "a") }
        #expect(throws: BuilderError.self) { try Feature.points([], annotationType: "a") }
        #expect(throws: BuilderError.self) { try Feature.points([Position(.infinity, 0)], annotationType: "a") }
        #expect(throws: BuilderError.self) { try Feature.heatmap([], annotationType: "a") }
        #expect(throws: BuilderError.self) { try Report.wholeSlideDifferential(points: [], positivityThreshold: .nan) }
        #expect(HexColor("red") == nil && HexColor("#12345G") == nil && HexColor("#A0b0C0") != nil)
    }
}
