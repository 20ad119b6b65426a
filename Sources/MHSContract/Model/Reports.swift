import OrderedCollections

/// An AI-workflow report: one of the seven kinds Techcyte renders, chosen by `report.type`.
/// An unknown `type` makes the platform reject the whole request.
public enum Report: Sendable, Hashable {
    case basic(BasicReport)
    case wholeSlideDifferential(WholeSlideDifferentialReport)
    case areaDifferential(AreaDifferentialReport)
    case semiQuantitativeDifferential(SemiQuantitativeDifferentialReport)
    case regionCounting(RegionCountingReport)
    /// Same shape as ``regionCounting(_:)``, shown as a mitosis count.
    case aiMitosisCounting(RegionCountingReport)
    case tumorCellularity(TumorCellularityReport)

    /// The `type` member written for this report.
    public var typeName: String {
        switch self {
        case .basic: "Basic"
        case .wholeSlideDifferential: "WholeSlideDifferential"
        case .areaDifferential: "AreaDifferential"
        case .semiQuantitativeDifferential: "SemiQuantitativeDifferential"
        case .regionCounting: "RegionCounting"
        case .aiMitosisCounting: "AiMitosisCounting"
        case .tumorCellularity: "TumorCellularity"
        }
    }

    /// Every `type` the platform knows.
    public static let typeNames: [String] = [
        "Basic", "WholeSlideDifferential", "AreaDifferential", "SemiQuantitativeDifferential", "RegionCounting",
        "AiMitosisCounting", "TumorCellularity",
    ]
}

/// A `{name, result}` pair of a Basic report, both strings.
public struct ResultPair: Sendable, Hashable, Codable {
    public var name: String
    public var result: String
    public init(name: String, result: String) {
        self.name = name
        self.result = result
    }
}

/// A named group of annotations with a headline result (Basic reports, TumorCellularity's
/// `other_segments`).
public struct Segment: Sendable, Hashable, Codable {
    public var name: String
    public var result: String
    public var featureCollection: FeatureCollection

    public init(name: String, result: String, featureCollection: FeatureCollection) {
        self.name = name
        self.result = result
        self.featureCollection = featureCollection
    }

    enum CodingKeys: String, CodingKey {
        case name, result
        case featureCollection = "feature_collection"
    }
}

/// A classified point of a differential report (`{x, y, score, type}`), level-0 pixels.
public struct DifferentialPoint: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public var score: Double
    public var type: String

    public init(x: Double, y: Double, score: Double, type: String) {
        self.x = x
        self.y = y
        self.score = score
        self.type = type
    }
}

/// `Basic`: result pairs and annotated segments.
public struct BasicReport: Sendable, Hashable, Codable {
    public var results: [ResultPair]
    public var segments: [Segment]
    public init(results: [ResultPair] = [], segments: [Segment] = []) {
        self.results = results
        self.segments = segments
    }
}

/// `WholeSlideDifferential`: classified points over the whole slide, class scores and a
/// positivity threshold.
public struct WholeSlideDifferentialReport: Sendable, Hashable, Codable {
    public var points: [DifferentialPoint]
    public var scores: OrderedMap<Double>
    public var positivityThreshold: Double

    public init(points: [DifferentialPoint], scores: OrderedMap<Double>, positivityThreshold: Double) {
        self.points = points
        self.scores = scores
        self.positivityThreshold = positivityThreshold
    }

    enum CodingKeys: String, CodingKey {
        case points, scores
        case positivityThreshold = "positivity_threshold"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        points = try c.decode([DifferentialPoint].self, forKey: .points)
        scores = try c.decodeMap(Double.self, forKey: .scores)
        positivityThreshold = try c.decode(Double.self, forKey: .positivityThreshold)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(points, forKey: .points)
        try c.encodeMap(scores, forKey: .scores)
        try c.encode(positivityThreshold, forKey: .positivityThreshold)
    }
}

/// One region of an `AreaDifferential` report: a Polygon feature with its own points.
public struct AreaRegion: Sendable, Hashable, Codable {
    /// Must be a Feature whose geometry is a Polygon.
    public var region: Feature
    public var weight: Double
    public var score: Double
    public var points: [DifferentialPoint]

    public init(region: Feature, weight: Double, score: Double, points: [DifferentialPoint]) {
        self.region = region
        self.weight = weight
        self.score = score
        self.points = points
    }
}

/// `AreaDifferential`: weighted regions, each with classified points.
public struct AreaDifferentialReport: Sendable, Hashable, Codable {
    public var regions: [AreaRegion]
    public var scores: OrderedMap<Double>
    public var positivityThreshold: Double

    public init(regions: [AreaRegion], scores: OrderedMap<Double>, positivityThreshold: Double) {
        self.regions = regions
        self.scores = scores
        self.positivityThreshold = positivityThreshold
    }

    enum CodingKeys: String, CodingKey {
        case regions, scores
        case positivityThreshold = "positivity_threshold"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        regions = try c.decode([AreaRegion].self, forKey: .regions)
        scores = try c.decodeMap(Double.self, forKey: .scores)
        positivityThreshold = try c.decode(Double.self, forKey: .positivityThreshold)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(regions, forKey: .regions)
        try c.encodeMap(scores, forKey: .scores)
        try c.encode(positivityThreshold, forKey: .positivityThreshold)
    }
}

/// `SemiQuantitativeDifferential`: classified points and class scores, no threshold.
public struct SemiQuantitativeDifferentialReport: Sendable, Hashable, Codable {
    public var points: [DifferentialPoint]
    public var scores: OrderedMap<Double>

    public init(points: [DifferentialPoint], scores: OrderedMap<Double>) {
        self.points = points
        self.scores = scores
    }

    enum CodingKeys: String, CodingKey { case points, scores }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        points = try c.decode([DifferentialPoint].self, forKey: .points)
        scores = try c.decodeMap(Double.self, forKey: .scores)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(points, forKey: .points)
        try c.encodeMap(scores, forKey: .scores)
    }
}

/// A counted object's box (`{x, y, width, height}`), level-0 pixels.
public struct CountedObject: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// `RegionCounting` and `AiMitosisCounting`: counted objects and the regions searched.
public struct RegionCountingReport: Sendable, Hashable, Codable {
    public var objects: [CountedObject]
    public var regions: [Feature]

    public init(objects: [CountedObject], regions: [Feature]) {
        self.objects = objects
        self.regions = regions
    }
}

/// A `{label, count}` pair of a TumorCellularity threshold entry.
public struct LabelCount: Sendable, Hashable, Codable {
    public var label: String
    public var count: Int
    public init(label: String, count: Int) {
        self.label = label
        self.count = count
    }
}

/// A `{label, fraction, area}` item of a TumorCellularity distribution.
public struct Distribution: Sendable, Hashable, Codable {
    public var label: String
    public var fraction: Double
    public var area: Double
    public init(label: String, fraction: Double, area: Double) {
        self.label = label
        self.fraction = fraction
        self.area = area
    }
}

/// One entry of a TumorCellularity `threshold_map`.
public struct ThresholdEntry: Sendable, Hashable, Codable {
    public var tumorCellularity: Double
    public var counts: [LabelCount]
    public var region: Feature
    public var area: Double
    /// Optional; omitted when nil.
    public var distributions: OrderedMap<[Distribution]>?

    public init(
        tumorCellularity: Double, counts: [LabelCount], region: Feature, area: Double,
        distributions: OrderedMap<[Distribution]>? = nil
    ) {
        self.tumorCellularity = tumorCellularity
        self.counts = counts
        self.region = region
        self.area = area
        self.distributions = distributions
    }

    enum CodingKeys: String, CodingKey {
        case counts, region, area, distributions
        case tumorCellularity = "tumor_cellularity"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tumorCellularity = try c.decode(Double.self, forKey: .tumorCellularity)
        counts = try c.decode([LabelCount].self, forKey: .counts)
        region = try c.decode(Feature.self, forKey: .region)
        area = try c.decode(Double.self, forKey: .area)
        distributions = try c.decodeMapIfPresent([Distribution].self, forKey: .distributions)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tumorCellularity, forKey: .tumorCellularity)
        try c.encode(counts, forKey: .counts)
        try c.encode(region, forKey: .region)
        try c.encode(area, forKey: .area)
        if let distributions { try c.encodeMap(distributions, forKey: .distributions) }
    }
}

/// `TumorCellularity`: per-threshold cellularity with counts and regions, plus optional
/// groups of segments.
public struct TumorCellularityReport: Sendable, Hashable, Codable {
    public var thresholdMap: OrderedMap<ThresholdEntry>
    /// Optional; omitted when nil.
    public var otherSegments: OrderedMap<[Segment]>?

    public init(thresholdMap: OrderedMap<ThresholdEntry>, otherSegments: OrderedMap<[Segment]>? = nil) {
        self.thresholdMap = thresholdMap
        self.otherSegments = otherSegments
    }

    enum CodingKeys: String, CodingKey {
        case thresholdMap = "threshold_map"
        case otherSegments = "other_segments"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        thresholdMap = try c.decodeMap(ThresholdEntry.self, forKey: .thresholdMap)
        otherSegments = try c.decodeMapIfPresent([Segment].self, forKey: .otherSegments)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeMap(thresholdMap, forKey: .thresholdMap)
        if let otherSegments { try c.encodeMap(otherSegments, forKey: .otherSegments) }
    }
}

extension Report: Codable {
    enum TypeKey: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: TypeKey.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "Basic": self = .basic(try BasicReport(from: decoder))
        case "WholeSlideDifferential": self = .wholeSlideDifferential(try WholeSlideDifferentialReport(from: decoder))
        case "AreaDifferential": self = .areaDifferential(try AreaDifferentialReport(from: decoder))
        case "SemiQuantitativeDifferential":
            self = .semiQuantitativeDifferential(try SemiQuantitativeDifferentialReport(from: decoder))
        case "RegionCounting": self = .regionCounting(try RegionCountingReport(from: decoder))
        case "AiMitosisCounting": self = .aiMitosisCounting(try RegionCountingReport(from: decoder))
        case "TumorCellularity": self = .tumorCellularity(try TumorCellularityReport(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c,
                debugDescription: "unknown report type \"\(type)\"; known: \(Report.typeNames.joined(separator: ", "))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: TypeKey.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case .basic(let r): try r.encode(to: encoder)
        case .wholeSlideDifferential(let r): try r.encode(to: encoder)
        case .areaDifferential(let r): try r.encode(to: encoder)
        case .semiQuantitativeDifferential(let r): try r.encode(to: encoder)
        case .regionCounting(let r), .aiMitosisCounting(let r): try r.encode(to: encoder)
        case .tumorCellularity(let r): try r.encode(to: encoder)
        }
    }
}

// MARK: - Fast JSON

extension ResultPair: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"name\":")
        w.string(name)
        w.raw(",\"result\":")
        w.string(result)
        w.byte(UInt8(ascii: "}"))
    }
}

extension Segment: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"name\":")
        w.string(name)
        w.raw(",\"result\":")
        w.string(result)
        w.raw(",\"feature_collection\":")
        featureCollection.writeJSON(to: &w)
        w.byte(UInt8(ascii: "}"))
    }
}

extension DifferentialPoint: JSONWritable {
    @inline(__always)
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"x\":")
        w.number(x)
        w.raw(",\"y\":")
        w.number(y)
        w.raw(",\"score\":")
        w.number(score)
        w.raw(",\"type\":")
        w.string(type)
        w.byte(UInt8(ascii: "}"))
    }
}

extension CountedObject: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"x\":")
        w.number(x)
        w.raw(",\"y\":")
        w.number(y)
        w.raw(",\"width\":")
        w.number(width)
        w.raw(",\"height\":")
        w.number(height)
        w.byte(UInt8(ascii: "}"))
    }
}

extension LabelCount: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"label\":")
        w.string(label)
        w.raw(",\"count\":")
        w.integer(Int64(count))
        w.byte(UInt8(ascii: "}"))
    }
}

extension Distribution: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"label\":")
        w.string(label)
        w.raw(",\"fraction\":")
        w.number(fraction)
        w.raw(",\"area\":")
        w.number(area)
        w.byte(UInt8(ascii: "}"))
    }
}

extension AreaRegion: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"region\":")
        region.writeJSON(to: &w)
        w.raw(",\"weight\":")
        w.number(weight)
        w.raw(",\"score\":")
        w.number(score)
        w.raw(",\"points\":")
        w.array(points)
        w.byte(UInt8(ascii: "}"))
    }
}

extension ThresholdEntry: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"tumor_cellularity\":")
        w.number(tumorCellularity)
        w.raw(",\"counts\":")
        w.array(counts)
        w.raw(",\"region\":")
        region.writeJSON(to: &w)
        w.raw(",\"area\":")
        w.number(area)
        if let distributions {
            w.raw(",\"distributions\":")
            w.map(distributions) { w, items in w.array(items) }
        }
        w.byte(UInt8(ascii: "}"))
    }
}

extension Report: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.raw("{\"type\":")
        w.string(typeName)
        switch self {
        case .basic(let r):
            w.raw(",\"results\":")
            w.array(r.results)
            w.raw(",\"segments\":")
            w.array(r.segments)
        case .wholeSlideDifferential(let r):
            w.raw(",\"points\":")
            w.array(r.points)
            w.raw(",\"scores\":")
            w.map(r.scores) { w, v in w.number(v) }
            w.raw(",\"positivity_threshold\":")
            w.number(r.positivityThreshold)
        case .areaDifferential(let r):
            w.raw(",\"regions\":")
            w.array(r.regions)
            w.raw(",\"scores\":")
            w.map(r.scores) { w, v in w.number(v) }
            w.raw(",\"positivity_threshold\":")
            w.number(r.positivityThreshold)
        case .semiQuantitativeDifferential(let r):
            w.raw(",\"points\":")
            w.array(r.points)
            w.raw(",\"scores\":")
            w.map(r.scores) { w, v in w.number(v) }
        case .regionCounting(let r), .aiMitosisCounting(let r):
            w.raw(",\"objects\":")
            w.array(r.objects)
            w.raw(",\"regions\":")
            w.array(r.regions)
        case .tumorCellularity(let r):
            w.raw(",\"threshold_map\":")
            w.map(r.thresholdMap) { w, entry in entry.writeJSON(to: &w) }
            if let other = r.otherSegments {
                w.raw(",\"other_segments\":")
                w.map(other) { w, segments in w.array(segments) }
            }
        }
        w.byte(UInt8(ascii: "}"))
    }
}
