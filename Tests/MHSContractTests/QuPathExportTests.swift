import MHSContract
import Testing

@Suite("QuPath export")
struct QuPathExportTests {
    /// The exported objects of an example body, parsed back from the bytes a lab would import.
    func exported(_ name: String, scanId: String = "8061860") throws -> [JSONValue] {
        let body = try MHSJSON.decode(ResultsBody.self, from: try exampleBytes(name))
        let parsed = try JSONParser.parse(try QuPathExport.encode(body, scanId: scanId))
        #expect(parsed["type"]?.stringValue == "FeatureCollection")
        return try #require(parsed["features"]?.arrayValue)
    }

    @Test("the scan's annotations: geometry unchanged, class and name from annotation_type, numbers as measurements, one object per heatmap contour")
    func annotations() throws {
        let objects = try exported("geojson-annotations.json")
        #expect(objects.count == 4, "a polygon, a multipoint and two contours")
        #expect(objects.allSatisfy { $0["properties"]?["objectType"]?.stringValue == "annotation" })
        #expect(objects.compactMap { $0["properties"]?["classification"]?["name"]?.stringValue }
            == ["Tumor", "Lymphocyte", "Stain intensity", "Stain intensity"])

        let tumor = objects[0]
        #expect(tumor["geometry"]?["type"]?.stringValue == "Polygon")
        let ring = try #require(tumor["geometry"]?["coordinates"]?.arrayValue?.first?.arrayValue)
        #expect(ring.count == 5 && ring[1].arrayValue?.compactMap(\.doubleValue) == [3000, 1200])
        #expect(tumor["properties"]?["name"]?.stringValue == "Tumor")
        #expect(tumor["properties"]?["measurements"]?["area_px"]?.doubleValue == 3_400_000)
        #expect(tumor["properties"]?["measurements"]?["annotation_type"] == nil, "text is not a measurement")

        #expect(objects[1]["geometry"]?["type"]?.stringValue == "MultiPoint")
        #expect(objects[1]["properties"]?["measurements"] == nil)
        #expect(objects[2...].map { $0["geometry"]?["type"]?.stringValue } == ["Polygon", "Polygon"])
        #expect(objects[2...].map { $0["properties"]?["measurements"]?["contour"]?.doubleValue } == [0, 1])
    }

    @Test("report points become detections with their score; another scan's results are not exported")
    func points() throws {
        let objects = try exported("whole-slide-differential.json")
        #expect(objects.count == 3)
        #expect(objects.allSatisfy { $0["properties"]?["objectType"]?.stringValue == "detection" })
        let first = objects[0]
        #expect(first["geometry"]?["type"]?.stringValue == "Point")
        #expect(first["geometry"]?["coordinates"]?.arrayValue?.compactMap(\.doubleValue) == [1024.5, 2048.25])
        #expect(first["properties"]?["classification"]?["name"]?.stringValue == "positive")
        #expect(first["properties"]?["measurements"]?["score"]?.doubleValue == 0.97)
        #expect(try exported("whole-slide-differential.json", scanId: "1").isEmpty)
    }
}
