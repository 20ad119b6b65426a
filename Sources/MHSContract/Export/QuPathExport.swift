/// A scan's results as GeoJSON that QuPath imports (File ▸ Import objects, or a drop on the
/// viewer), so a lab can look at what a classifier found in the tool it already uses.
///
/// QuPath reads level-0 pixel coordinates, as the platform's are, so geometries are copied
/// unchanged. Each feature says what QuPath should make of it in `properties`:
/// `objectType` (`annotation` for the scan's annotations, `detection` for report points),
/// `classification.name` (the `annotation_type`, or the point's type), `name`, and
/// `measurements` (the feature's numeric properties; a point's `score`). A heatmap — a
/// `GeometryCollection` of contours — becomes one annotation per contour, numbered in
/// `measurements.contour`, because QuPath builds one region of interest per feature.
/// Features without a geometry are left out: QuPath has nothing to draw for them.
public enum QuPathExport {
    /// The scan's annotations (its top-level `geojson`) and its report's points
    /// (WholeSlideDifferential, SemiQuantitativeDifferential) as QuPath objects.
    public static func featureCollection(_ body: ResultsBody, scanId: String) -> FeatureCollection {
        var features: [Feature] = []
        for scan in body.scanResults where scan.scanId == scanId {
            for feature in scan.geojson?.features ?? [] {
                guard let geometry = feature.geometry else { continue }
                let type = feature.annotationType ?? "Annotation"
                let measurements = numericProperties(feature.properties)
                if case .geometryCollection(let members) = geometry {
                    for (index, member) in members.enumerated() {
                        var numbered = measurements
                        numbered["contour"] = .int(Int64(index))
                        features.append(object(member, "annotation", type, numbered))
                    }
                } else {
                    features.append(object(geometry, "annotation", type, measurements))
                }
            }
            let points: [DifferentialPoint]
            switch scan.workflow?.report {
            case .wholeSlideDifferential(let report)?: points = report.points
            case .semiQuantitativeDifferential(let report)?: points = report.points
            default: points = []
            }
            for p in points {
                features.append(object(.point(Position(p.x, p.y)), "detection", p.type, ["score": .double(p.score)]))
            }
        }
        return FeatureCollection(features: features)
    }

    /// The same, encoded.
    public static func encode(_ body: ResultsBody, scanId: String) throws -> [UInt8] {
        try MHSJSON.encode(featureCollection(body, scanId: scanId))
    }

    private static func object(_ geometry: Geometry, _ objectType: String, _ type: String, _ measurements: JSONObject) -> Feature {
        var properties: JSONObject = [
            "objectType": .string(objectType),
            "classification": .object(["name": .string(type)]),
            "name": .string(type),
        ]
        if !measurements.isEmpty { properties["measurements"] = .object(measurements) }
        return Feature(geometry: geometry, properties: properties)
    }

    /// The numeric members of a feature's properties: what QuPath shows as measurements.
    private static func numericProperties(_ properties: JSONObject?) -> JSONObject {
        var numbers: JSONObject = [:]
        for (key, value) in properties ?? [:] {
            switch value {
            case .int, .double: numbers[key] = value
            default: continue
            }
        }
        return numbers
    }
}
