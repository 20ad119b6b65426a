import MHSContract
import Testing

/// One crafted change to a valid example body and the problem it must produce.
struct BadBody: Sendable, CustomTestStringConvertible {
    var name: String
    var base: String
    var at: [JSONPath.Component]
    var change: @Sendable (JSONValue?) -> JSONValue?
    var rule: Rule
    var path: String
    var context = ValidationContext()

    var testDescription: String { name }

    init(
        _ name: String, base: String = "basic.json", at: String, rule: Rule, path: String,
        context: ValidationContext = .init(), _ change: @escaping @Sendable (JSONValue?) -> JSONValue?
    ) {
        self.init(name, base: base, components: components(at), rule: rule, path: path, context: context, change)
    }

    init(
        _ name: String, base: String = "basic.json", components: [JSONPath.Component], rule: Rule, path: String,
        context: ValidationContext = .init(), _ change: @escaping @Sendable (JSONValue?) -> JSONValue?
    ) {
        self.name = name
        self.base = base
        self.at = components
        self.change = change
        self.rule = rule
        self.path = path
        self.context = context
    }
}

let scan0 = "scanResults[0]"
let feature0 = "scanResults[0].geojson.features[0]"
let report0 = "scanResults[0].workflow.report"

let badBodies: [BadBody] = [
    BadBody("body is not an object", at: "", rule: .bodyObject, path: "$") { _ in [] },
    BadBody("scanResults missing", at: "scanResults", rule: .scanResultsArray, path: "scanResults") { _ in nil },
    BadBody("scanResults not an array", at: "scanResults", rule: .scanResultsArray, path: "scanResults") { _ in [:] },
    BadBody("caseResults not an object", at: "caseResults", rule: .caseResultsObject, path: "caseResults") { _ in 4 },
    BadBody("scan result not an object", at: "scanResults[0]", rule: .scanResultObject, path: scan0) { _ in "8061860" },
    BadBody("scanId not numeric", at: "scanResults[0].scanId", rule: .scanIdNumeric, path: "\(scan0).scanId") { _ in "scan-1" },
    BadBody("scanId a number", at: "scanResults[0].scanId", rule: .scanIdNumeric, path: "\(scan0).scanId") { _ in 8_061_860 },
    BadBody("scanId missing", at: "scanResults[0].scanId", rule: .fieldMissing, path: "\(scan0).scanId") { _ in nil },
    BadBody("scanId duplicated", at: "scanResults", rule: .scanIdDuplicate, path: "scanResults[1].scanId") { v in
        .array(v!.arrayValue! + v!.arrayValue!)
    },
    BadBody(
        "scanId not one of the task's", at: "scanResults[0].scanId", rule: .scanIdUnknown, path: "\(scan0).scanId",
        context: ValidationContext(scanIds: ["1", "2"])
    ) { v in v },
    BadBody(
        "scan with two regions", at: "scanResults[0].scanId", rule: .scanRegions, path: "\(scan0).scanId",
        context: ValidationContext(scanRegions: ["8061860": 2])
    ) { v in v },
    BadBody("results not an object", at: "scanResults[0].results", rule: .resultsObject, path: "\(scan0).results") { _ in "ok" },
    BadBody("summary not a string", at: "scanResults[0].results.summary", rule: .summaryString, path: "\(scan0).results.summary") { _ in
        ["text": "4 found"]
    },
    BadBody("qcFailReasons not an array", at: "scanResults[0].qcFailReasons", rule: .qcFailReasons, path: "\(scan0).qcFailReasons") { _ in
        "blurry"
    },
    BadBody("qcFailReasons holds a number", at: "scanResults[0].qcFailReasons", rule: .qcFailReasons, path: "\(scan0).qcFailReasons[1]") { _ in
        ["blurry", 7]
    },
    BadBody("workflow not an object", at: "scanResults[0].workflow", rule: .fieldType, path: "\(scan0).workflow") { _ in "Basic" },
    BadBody("model_name missing", at: "scanResults[0].workflow.model_name", rule: .fieldMissing, path: "\(scan0).workflow.model_name") { _ in nil },
    BadBody("provider not a string", at: "scanResults[0].workflow.provider", rule: .fieldType, path: "\(scan0).workflow.provider") { _ in 1 },
    BadBody("ruo not a bool", at: "scanResults[0].workflow.ruo", rule: .fieldType, path: "\(scan0).workflow.ruo") { _ in "true" },
    BadBody("report type unknown", at: "scanResults[0].workflow.report.type", rule: .reportType, path: "\(report0).type") { _ in "Fancy" },
    BadBody("report type missing", at: "scanResults[0].workflow.report.type", rule: .reportType, path: "\(report0).type") { _ in nil },
    BadBody("Basic result not a string", at: "scanResults[0].workflow.report.results[1].result", rule: .fieldType, path: "\(report0).results[1].result") { _ in 4 },
    BadBody("Basic segments not an array", at: "scanResults[0].workflow.report.segments", rule: .fieldType, path: "\(report0).segments") { _ in [:] },
    BadBody("segment feature_collection missing", at: "scanResults[0].workflow.report.segments[0].feature_collection", rule: .fieldMissing, path: "\(report0).segments[0].feature_collection") { _ in nil },
    BadBody("geojson not a FeatureCollection", at: "scanResults[0].geojson.type", rule: .featureCollection, path: "\(scan0).geojson.type") { _ in "Feature" },
    BadBody("geojson an array", at: "scanResults[0].geojson", rule: .featureCollection, path: "\(scan0).geojson") { _ in [] },
    BadBody("features not an array", at: "scanResults[0].geojson.features", rule: .featureCollection, path: "\(scan0).geojson.features") { _ in 2 },
    BadBody("feature type wrong", at: "scanResults[0].geojson.features[0].type", rule: .feature, path: "\(feature0).type") { _ in "Featur" },
    BadBody("feature without geometry member", at: "scanResults[0].geojson.features[0].geometry", rule: .feature, path: "\(feature0).geometry") { _ in nil },
    BadBody("annotation_type missing", at: "scanResults[0].geojson.features[0].properties.annotation_type", rule: .annotationType, path: "\(feature0).properties.annotation_type") { _ in nil },
    BadBody("annotation_type not a string", at: "scanResults[0].geojson.features[0].properties.annotation_type", rule: .annotationType, path: "\(feature0).properties.annotation_type") { _ in 3 },
    BadBody("properties null on an annotation", at: "scanResults[0].geojson.features[0].properties", rule: .annotationType, path: "\(feature0).properties.annotation_type") { _ in .null },
    BadBody("geometry type unknown", at: "scanResults[0].geojson.features[0].geometry.type", rule: .geometry, path: "\(feature0).geometry.type") { _ in "Circle" },
    BadBody("ring not closed", at: "scanResults[0].geojson.features[0].geometry.coordinates[0][4]", rule: .ringClosed, path: "\(feature0).geometry.coordinates[0]") { _ in [250, 260] },
    BadBody("ring too short", at: "scanResults[0].geojson.features[0].geometry.coordinates", rule: .ringLength, path: "\(feature0).geometry.coordinates[0]") { _ in
        [[[0, 0], [10, 10], [0, 0]]]
    },
    BadBody("coordinate not a number", at: "scanResults[0].geojson.features[0].geometry.coordinates[0][2]", rule: .position, path: "\(feature0).geometry.coordinates[0][2]") { _ in ["750", 750] },
    BadBody("position with one number", at: "scanResults[0].geojson.features[0].geometry.coordinates[0][1]", rule: .position, path: "\(feature0).geometry.coordinates[0][1]") { _ in [750] },
    BadBody("LineString of one position", at: "scanResults[0].geojson.features[0].geometry", rule: .lineLength, path: "\(feature0).geometry.coordinates") { _ in
        ["type": "LineString", "coordinates": [[1, 1]]]
    },
    BadBody("bbox of three numbers", at: "scanResults[0].geojson.features[0].bbox", rule: .bboxShape, path: "\(feature0).bbox") { _ in [1, 2, 3] },
    BadBody("bbox with min > max", at: "scanResults[0].geojson.features[0].bbox", rule: .bboxOrder, path: "\(feature0).bbox") { _ in [750, 750, 250, 250] },
    BadBody("contour colour not hex", base: "geojson-annotations.json", at: "scanResults[0].geojson.features[2].properties.contour_colors[1]", rule: .contourColors, path: "scanResults[0].geojson.features[2].properties.contour_colors[1]") { _ in "red" },
    BadBody("contour_colors not an array", base: "geojson-annotations.json", at: "scanResults[0].geojson.features[2].properties.contour_colors", rule: .contourColors, path: "scanResults[0].geojson.features[2].properties.contour_colors") { _ in "#FF0000" },
    BadBody("point without score", base: "whole-slide-differential.json", at: "scanResults[0].workflow.report.points[0].score", rule: .fieldMissing, path: "\(report0).points[0].score") { _ in nil },
    BadBody("point type not a string", base: "whole-slide-differential.json", at: "scanResults[0].workflow.report.points[2].type", rule: .fieldType, path: "\(report0).points[2].type") { _ in 1 },
    BadBody("score not a number", base: "whole-slide-differential.json", at: "scanResults[0].workflow.report.scores.positive", rule: .fieldType, path: "\(report0).scores.positive") { _ in "33%" },
    BadBody("positivity_threshold missing", base: "whole-slide-differential.json", at: "scanResults[0].workflow.report.positivity_threshold", rule: .fieldMissing, path: "\(report0).positivity_threshold") { _ in nil },
    BadBody("object width not a number", base: "region-counting.json", at: "scanResults[0].workflow.report.objects[0].width", rule: .fieldType, path: "\(report0).objects[0].width") { _ in "24" },
    BadBody("mitosis regions not an array", base: "ai-mitosis-counting.json", at: "scanResults[0].workflow.report.regions", rule: .fieldType, path: "\(report0).regions") { _ in [:] },
    BadBody("AreaDifferential region not a Polygon", base: "area-differential.json", at: "scanResults[0].workflow.report.regions[0].region.geometry", rule: .areaRegionPolygon, path: "\(report0).regions[0].region.geometry") { _ in
        ["type": "Point", "coordinates": [5, 5]]
    },
    BadBody("AreaDifferential weight missing", base: "area-differential.json", at: "scanResults[0].workflow.report.regions[0].weight", rule: .fieldMissing, path: "\(report0).regions[0].weight") { _ in nil },
    BadBody(
        "TumorCellularity count not a number", base: "tumor-cellularity.json",
        components: components("scanResults[0].workflow.report.threshold_map") + [.key("0.5"), .key("counts"), .index(0), .key("count")],
        rule: .fieldType, path: "\(report0).threshold_map[\"0.5\"].counts[0].count"
    ) { _ in "1240" },
    BadBody(
        "TumorCellularity region not a Feature", base: "tumor-cellularity.json",
        components: components("scanResults[0].workflow.report.threshold_map") + [.key("0.5"), .key("region")],
        rule: .feature, path: "\(report0).threshold_map[\"0.5\"].region"
    ) { _ in [] },
    BadBody("TumorCellularity other_segments not an object", base: "tumor-cellularity.json", at: "scanResults[0].workflow.report.other_segments", rule: .fieldType, path: "\(report0).other_segments") { _ in [] },
]

/// Valid bodies that the platform accepts but that are rarely meant.
let suspiciousBodies: [BadBody] = [
    BadBody("empty scanResults", at: "scanResults", rule: .scanResultsEmpty, path: "scanResults") { _ in [] },
    BadBody("external_url not a string", at: "scanResults[0].results.external_url", rule: .externalURLString, path: "\(scan0).results.external_url") { _ in 5 },
    BadBody("MultiPoint annotation without bbox", base: "geojson-annotations.json", at: "scanResults[0].geojson.features[1].bbox", rule: .bboxMissing, path: "scanResults[0].geojson.features[1]") { _ in nil },
    BadBody("bbox that misses part of the geometry", base: "geojson-annotations.json", at: "scanResults[0].geojson.features[1].bbox", rule: .bboxEncloses, path: "scanResults[0].geojson.features[1].bbox") { _ in [1200, 1300, 1300, 1390] },
    BadBody("negative coordinate", at: "scanResults[0].geojson.features[0].geometry.coordinates[0][1]", rule: .coordinateNegative, path: "\(feature0).geometry.coordinates[0][1]") { _ in [-750, 250] },
    BadBody(
        "coordinate outside the slide", at: "scanResults[0].scanId", rule: .coordinateOutsideSlide,
        path: "scanResults[0].geojson.features[1].geometry.coordinates[0][1]",
        context: ValidationContext(slideSize: SlideSize(width: 1600, height: 1600))
    ) { v in v },
]

@Suite("Validator rules")
struct RuleTests {
    @Test("each crafted bad body fails with its rule at its path", arguments: badBodies)
    func badBodyFails(_ bad: BadBody) throws {
        let body = editing(try example(bad.base), at: bad.at, bad.change)
        let report = Validator.validate(json: body, context: bad.context)
        #expect(!report.isValid)
        #expect(
            report.problems.contains { $0.rule == bad.rule.rawValue && $0.path == bad.path && $0.severity == .error },
            "expected \(bad.rule.rawValue) at \(bad.path), got \(report.problems)")
    }

    @Test("each suspicious body is valid with a warning at its path", arguments: suspiciousBodies)
    func suspiciousBodyWarns(_ odd: BadBody) throws {
        let body = editing(try example(odd.base), at: odd.at, odd.change)
        let report = Validator.validate(json: body, context: odd.context)
        #expect(report.isValid, "\(report.errors)")
        #expect(
            report.problems.contains { $0.rule == odd.rule.rawValue && $0.path == odd.path && $0.severity == .warning },
            "expected \(odd.rule.rawValue) at \(odd.path), got \(report.problems)")
    }

    @Test("every rule has a failing case")
    func everyRuleCovered() {
        let covered = Set((badBodies + suspiciousBodies).map(\.rule)) + [.numberFinite, .truncated]
        #expect(Set(Rule.allCases).subtracting(covered) == [])
    }

    @Test("passing edge cases: the same rules accept what they should")
    func passingCases() throws {
        let basic = try example("basic.json")
        let context = ValidationContext(scanIds: ["8061860"], slideSize: SlideSize(width: 1750, height: 1500))
        // Known scan id and coordinates exactly on the slide's edge.
        #expect(Validator.validate(json: basic, context: context).problems == [])
        // A ring of exactly 4 positions, null qcFailReasons, summary absent, null properties
        // on a report feature, lowercase hex colours, a bbox equal to the geometry's bounds.
        var edited = editing(basic, at: components("scanResults[0].geojson.features[0].geometry.coordinates")) { _ in
            [[[0, 0], [10, 0], [10, 10], [0, 0]]]
        }
        edited = editing(edited, at: components("scanResults[0].qcFailReasons")) { _ in .null }
        edited = editing(edited, at: components("scanResults[0].results.summary")) { _ in nil }
        edited = editing(edited, at: components("scanResults[0].workflow.report.segments[0].feature_collection.features[0].properties")) { _ in .null }
        edited = editing(edited, at: components("scanResults[0].geojson.features[0].bbox")) { _ in [0, 0, 10, 10] }
        #expect(Validator.validate(json: edited).problems == [])
        let heat = editing(try example("geojson-annotations.json"), at: components("scanResults[0].geojson.features[2].properties.contour_colors")) { _ in
            ["#a0b0c0", "#ffffff"]
        }
        #expect(Validator.validate(json: heat).problems == [])
    }

    @Test("all problems are reported at once, in one pass")
    func allProblems() throws {
        var body = try example("basic.json")
        body = editing(body, at: components("scanResults[0].geojson.features[0].properties.annotation_type")) { _ in nil }
        body = editing(body, at: components("scanResults[0].geojson.features[1].geometry.coordinates[0][4]")) { _ in [1, 1] }
        body = editing(body, at: components("scanResults[0].results.summary")) { _ in 3 }
        body = editing(body, at: components("scanResults[0].workflow.ruo")) { _ in "no" }
        let rules = Set(Validator.validate(json: body).errors.map(\.rule))
        #expect(rules == [Rule.annotationType.rawValue, Rule.ringClosed.rawValue, Rule.summaryString.rawValue, Rule.fieldType.rawValue])
    }

    @Test("typed bodies: non-finite numbers are errors with paths")
    func nonFinite() throws {
        var body = try MHSJSON.decode(ResultsBody.self, from: try example("whole-slide-differential.json"))
        guard case .wholeSlideDifferential(var r) = body.scanResults[0].workflow!.report! else { Issue.record(); return }
        r.points[1].x = .nan
        r.points[2].score = .infinity
        r.positivityThreshold = -.infinity
        body.scanResults[0].workflow!.report = .wholeSlideDifferential(r)
        let problems = Validator.validate(body).errors
        #expect(problems.map(\.path) == ["\(report0).points[1]", "\(report0).points[2].score", "\(report0).positivity_threshold"])
        #expect(problems.allSatisfy { $0.rule == Rule.numberFinite.rawValue })
        #expect(throws: JSONEncodingError.nonFiniteNumber(count: 3)) { try MHSJSON.encode(body) }
    }

    @Test("typed and JSON validation agree on the typed rules")
    func typedAgrees() throws {
        var body = try example("geojson-annotations.json")
        body = editing(body, at: components("scanResults[0].geojson.features[0].properties.annotation_type")) { _ in 5 }
        body = editing(body, at: components("scanResults[0].geojson.features[1].bbox")) { _ in nil }
        body = editing(body, at: components("scanResults[0].geojson.features[2].properties.contour_colors[0]")) { _ in "#12345" }
        body = editing(body, at: components("scanResults[0].geojson.features[0].geometry.coordinates[0][0]")) { _ in [-1, 1000] }
        let typed = try MHSJSON.decode(ResultsBody.self, from: body)
        let context = ValidationContext(scanIds: ["8061860", "1"], slideSize: SlideSize(width: 2000, height: 2000))
        #expect(Validator.validate(typed, context: context) == Validator.validate(json: body, context: context))
        #expect(Set(Validator.validate(typed, context: context).problems.map(\.rule)).count == 6)
    }

    @Test("a rule firing a million times lists a bounded number and counts the rest")
    func truncation() throws {
        let points = (0..<5000).map { DifferentialPoint(x: -Double($0) - 1, y: 1, score: 0.5, type: "a") }
        let body = ResultsBody(scanResults: [
            ScanResult(scanId: "1", workflow: AiWorkflow(modelName: "m", provider: "p", ruo: true, report: try .wholeSlideDifferential(points: points, positivityThreshold: 0.5)))
        ])
        let report = Validator.validate(body, context: ValidationContext(maximumProblemsPerRule: 10))
        #expect(report.problems.count == 10 + 1)
        #expect(report.problems.last?.message.contains("4990 more coordinates.negative") == true)
    }
}
