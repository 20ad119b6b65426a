/// How bad a problem is.
public enum Severity: String, Sendable, Hashable, Codable, Comparable {
    /// The platform rejects the whole request.
    case error
    /// The platform accepts it, but it is rarely what was meant.
    case warning

    public static func < (a: Severity, b: Severity) -> Bool { a == .error && b == .warning }
}

/// The rules the validator checks, each with a stable id that scripts and tests can match.
public enum Rule: String, Sendable, Hashable, Codable, CaseIterable {
    // Body
    case bodyObject = "body.object"
    case scanResultsArray = "body.scanResults"
    case caseResultsObject = "body.caseResults"
    case scanResultsEmpty = "body.scanResults.empty"
    // Scan results
    case scanResultObject = "scan.object"
    case scanIdNumeric = "scan.scanId.numeric"
    case scanIdDuplicate = "scan.scanId.duplicate"
    case scanIdUnknown = "scan.scanId.unknown"
    case scanRegions = "scan.regions"
    case resultsObject = "scan.results.object"
    case summaryString = "scan.results.summary"
    case externalURLString = "scan.results.external_url"
    case qcFailReasons = "scan.qcFailReasons"
    // Fields of the typed parts (workflow, reports, points, ...)
    case fieldMissing = "field.missing"
    case fieldType = "field.type"
    case numberFinite = "number.finite"
    // Workflow reports
    case reportType = "report.type"
    case areaRegionPolygon = "report.AreaDifferential.region"
    // GeoJSON
    case featureCollection = "geojson.featureCollection"
    case feature = "geojson.feature"
    case annotationType = "geojson.annotation_type"
    case geometry = "geojson.geometry"
    case position = "geojson.position"
    case ringClosed = "geojson.ring.closed"
    case ringLength = "geojson.ring.length"
    case lineLength = "geojson.lineString.length"
    case bboxShape = "geojson.bbox.shape"
    case bboxOrder = "geojson.bbox.order"
    case contourColors = "geojson.contour_colors"
    case bboxMissing = "geojson.bbox.missing"
    case bboxEncloses = "geojson.bbox.encloses"
    case coordinateNegative = "coordinates.negative"
    case coordinateOutsideSlide = "coordinates.outsideSlide"
    // Set by the collector when one rule fires very often.
    case truncated = "problems.truncated"

    /// The severity the rule reports with.
    public var severity: Severity {
        switch self {
        case .scanResultsEmpty, .externalURLString, .bboxMissing, .bboxEncloses, .coordinateNegative,
            .coordinateOutsideSlide, .truncated:
            .warning
        default: .error
        }
    }
}

/// One finding of the validator, pointing at the JSON it is about.
public struct Problem: Sendable, Hashable, Codable, CustomStringConvertible {
    public var severity: Severity
    /// A stable rule id, e.g. `geojson.annotation_type`.
    public var rule: String
    /// What is wrong and what the platform does about it.
    public var message: String
    /// Where: `scanResults[0].geojson.features[3].properties.annotation_type`.
    public var path: String

    public init(rule: Rule, message: String, path: JSONPath) {
        self.severity = rule.severity
        self.rule = rule.rawValue
        self.message = message
        self.path = path.description
    }

    public var description: String { "\(severity): \(path): \(message) [\(rule)]" }
}

/// The outcome of validating one results body.
public struct ValidationReport: Sendable, Hashable, Codable {
    /// Every problem found, errors and warnings, in document order.
    public var problems: [Problem]

    public init(problems: [Problem]) { self.problems = problems }

    public var errors: [Problem] { problems.filter { $0.severity == .error } }
    public var warnings: [Problem] { problems.filter { $0.severity == .warning } }
    /// True when the platform would accept the body (warnings allowed).
    public var isValid: Bool { !problems.contains { $0.severity == .error } }
}

/// A location in a JSON document, written `scanResults[0].geojson.features[3].bbox`.
///
/// Member names that are not plain identifiers are written in brackets as JSON strings:
/// `threshold_map["50%"].region`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }
    public init(stringLiteral value: String) { self.components = value.isEmpty ? [] : [.key(value)] }

    /// This path followed by member `name`.
    public func key(_ name: String) -> JSONPath {
        var copy = self
        copy.components.append(.key(name))
        return copy
    }

    /// This path followed by array element `i`.
    /// The member `key` of this object, named as its type's `CodingKeys` spell it.
    public func key<Key: CodingKey>(_ key: Key) -> JSONPath { self.key(key.stringValue) }

    public func index(_ i: Int) -> JSONPath {
        var copy = self
        copy.components.append(.index(i))
        return copy
    }

    public var description: String {
        if components.isEmpty { return "$" }
        var text = ""
        for component in components {
            switch component {
            case .index(let i): text += "[\(i)]"
            case .key(let name):
                if Self.isIdentifier(name) {
                    if !text.isEmpty { text += "." }
                    text += name
                } else {
                    var writer = JSONWriter(reservingCapacity: name.utf8.count + 2)
                    writer.string(name)
                    text += "[" + String(decoding: writer.bytes, as: UTF8.self) + "]"
                }
            }
        }
        return text
    }

    private static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "_")
        }
    }
}

/// What the validator knows about the task beyond the body itself.
public struct ValidationContext: Sendable, Hashable {
    /// The task's scan ids; when set, any other `scanId` is an error.
    public var scanIds: Set<String>?
    /// How many regions each scan has on the platform, when known: results for a scan
    /// with other than exactly one region are rejected.
    public var scanRegions: [String: Int]
    /// Level-0 size of every scan, for the outside-the-slide warning.
    public var slideSize: SlideSize?
    /// Level-0 sizes by scan id; takes precedence over ``slideSize``.
    public var slideSizes: [String: SlideSize]
    /// How many problems of one rule are listed before the rest are only counted.
    public var maximumProblemsPerRule: Int

    public init(
        scanIds: Set<String>? = nil, scanRegions: [String: Int] = [:], slideSize: SlideSize? = nil,
        slideSizes: [String: SlideSize] = [:], maximumProblemsPerRule: Int = 100
    ) {
        self.scanIds = scanIds
        self.scanRegions = scanRegions
        self.slideSize = slideSize
        self.slideSizes = slideSizes
        self.maximumProblemsPerRule = maximumProblemsPerRule
    }
}

/// A slide's level-0 size in pixels.
public struct SlideSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public var width: Double
    public var height: Double
    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }
    public var description: String { "\(Int(width))x\(Int(height))" }
}
