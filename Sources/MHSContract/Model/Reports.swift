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

    /// A report's `type`, spelled once: the raw values are what the platform knows.
    public enum Kind: String, Sendable, CaseIterable {
        case basic = "Basic"
        case wholeSlideDifferential = "WholeSlideDifferential"
        case areaDifferential = "AreaDifferential"
        case semiQuantitativeDifferential = "SemiQuantitativeDifferential"
        case regionCounting = "RegionCounting"
        case aiMitosisCounting = "AiMitosisCounting"
        case tumorCellularity = "TumorCellularity"
    }

    /// This report's kind.
    public var kind: Kind {
        switch self {
        case .basic: .basic
        case .wholeSlideDifferential: .wholeSlideDifferential
        case .areaDifferential: .areaDifferential
        case .semiQuantitativeDifferential: .semiQuantitativeDifferential
        case .regionCounting: .regionCounting
        case .aiMitosisCounting: .aiMitosisCounting
        case .tumorCellularity: .tumorCellularity
        }
    }

    /// The `type` member written for this report.
    public var typeName: String { kind.rawValue }

    /// Every `type` the platform knows.
    public static let typeNames: [String] = Kind.allCases.map(\.rawValue)

    /// The member naming the kind.
    public enum TypeKey: String, CodingKey { case type }
}

/// A `{name, result}` pair of a Basic report, both strings.
public struct ResultPair: Sendable, Hashable, Codable {
    public var name: String
    public var result: String
    public init(name: String, result: String) {
        self.name = name
        self.result = result
    }

    public enum CodingKeys: String, CodingKey { case name, result }
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

    public enum CodingKeys: String, CodingKey {
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

    public enum CodingKeys: String, CodingKey { case x, y, score, type }
}

/// `Basic`: result pairs and annotated segments.
public struct BasicReport: Sendable, Hashable, Codable {
    public var results: [ResultPair]
    public var segments: [Segment]
    public init(results: [ResultPair] = [], segments: [Segment] = []) {
        self.results = results
        self.segments = segments
    }

    public enum CodingKeys: String, CodingKey { case results, segments }
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

    public enum CodingKeys: String, CodingKey {
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

    public enum CodingKeys: String, CodingKey { case region, weight, score, points }
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

    public enum CodingKeys: String, CodingKey {
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

    public enum CodingKeys: String, CodingKey { case points, scores }

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

    public enum CodingKeys: String, CodingKey { case x, y, width, height }
}

/// `RegionCounting` and `AiMitosisCounting`: counted objects and the regions searched.
public struct RegionCountingReport: Sendable, Hashable, Codable {
    public var objects: [CountedObject]
    public var regions: [Feature]

    public init(objects: [CountedObject], regions: [Feature]) {
        self.objects = objects
        self.regions = regions
    }

    public enum CodingKeys: String, CodingKey { case objects, regions }
}

/// A `{label, count}` pair of a TumorCellularity threshold entry.
public struct LabelCount: Sendable, Hashable, Codable {
    public var label: String
    public var count: Int
    public init(label: String, count: Int) {
        self.label = label
        self.count = count
    }

    public enum CodingKeys: String, CodingKey { case label, count }
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

    public enum CodingKeys: String, CodingKey { case label, fraction, area }
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

    public enum CodingKeys: String, CodingKey {
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

    public enum CodingKeys: String, CodingKey {
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
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: TypeKey.self)
        let type = try c.decode(String.self, forKey: .type)
        guard let kind = Kind(rawValue: type) else {
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c,
                debugDescription: "unknown report type \"\(type)\"; known: \(Report.typeNames.joined(separator: ", "))")
        }
        switch kind {
        case .basic: self = .basic(try BasicReport(from: decoder))
        case .wholeSlideDifferential: self = .wholeSlideDifferential(try WholeSlideDifferentialReport(from: decoder))
        case .areaDifferential: self = .areaDifferential(try AreaDifferentialReport(from: decoder))
        case .semiQuantitativeDifferential: self = .semiQuantitativeDifferential(try SemiQuantitativeDifferentialReport(from: decoder))
        case .regionCounting: self = .regionCounting(try RegionCountingReport(from: decoder))
        case .aiMitosisCounting: self = .aiMitosisCounting(try RegionCountingReport(from: decoder))
        case .tumorCellularity: self = .tumorCellularity(try TumorCellularityReport(from: decoder))
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
//
// The members are named by each type's `CodingKeys`, the one spelling the decoder, the
// validator's paths and the shape reader use too.

extension ResultPair: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.name, first: true)
        w.string(name)
        w.member(CodingKeys.result)
        w.string(result)
        w.byte(UInt8(ascii: "}"))
    }
}

extension Segment: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.name, first: true)
        w.string(name)
        w.member(CodingKeys.result)
        w.string(result)
        w.member(CodingKeys.featureCollection)
        featureCollection.writeJSON(to: &w)
        w.byte(UInt8(ascii: "}"))
    }
}

extension DifferentialPoint: JSONWritable {
    /// `{"x":`, `,"y":`, `,"score":`, `,"type":`, from `CodingKeys`, made once: a report may
    /// hold millions of points.
    static let prefixes = JSONWriter.memberPrefixes([CodingKeys.x, .y, .score, .type])

    @inline(__always)
    public func writeJSON(to w: inout JSONWriter) {
        let p = Self.prefixes
        w.raw(p[0])
        w.number(x)
        w.raw(p[1])
        w.number(y)
        w.raw(p[2])
        w.number(score)
        w.raw(p[3])
        w.string(type)
        w.byte(UInt8(ascii: "}"))
    }
}

extension CountedObject: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.x, first: true)
        w.number(x)
        w.member(CodingKeys.y)
        w.number(y)
        w.member(CodingKeys.width)
        w.number(width)
        w.member(CodingKeys.height)
        w.number(height)
        w.byte(UInt8(ascii: "}"))
    }
}

extension LabelCount: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.label, first: true)
        w.string(label)
        w.member(CodingKeys.count)
        w.integer(Int64(count))
        w.byte(UInt8(ascii: "}"))
    }
}

extension Distribution: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.label, first: true)
        w.string(label)
        w.member(CodingKeys.fraction)
        w.number(fraction)
        w.member(CodingKeys.area)
        w.number(area)
        w.byte(UInt8(ascii: "}"))
    }
}

extension AreaRegion: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.region, first: true)
        region.writeJSON(to: &w)
        w.member(CodingKeys.weight)
        w.number(weight)
        w.member(CodingKeys.score)
        w.number(score)
        w.member(CodingKeys.points)
        w.array(points)
        w.byte(UInt8(ascii: "}"))
    }
}

extension ThresholdEntry: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.tumorCellularity, first: true)
        w.number(tumorCellularity)
        w.member(CodingKeys.counts)
        w.array(counts)
        w.member(CodingKeys.region)
        region.writeJSON(to: &w)
        w.member(CodingKeys.area)
        w.number(area)
        if let distributions {
            w.member(CodingKeys.distributions)
            w.map(distributions) { w, items in w.array(items) }
        }
        w.byte(UInt8(ascii: "}"))
    }
}

extension Report: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(TypeKey.type, first: true)
        w.string(typeName)
        switch self {
        case .basic(let r):
            typealias K = BasicReport.CodingKeys
            w.member(K.results)
            w.array(r.results)
            w.member(K.segments)
            w.array(r.segments)
        case .wholeSlideDifferential(let r):
            typealias K = WholeSlideDifferentialReport.CodingKeys
            w.member(K.points)
            w.array(r.points)
            w.member(K.scores)
            w.map(r.scores) { w, v in w.number(v) }
            w.member(K.positivityThreshold)
            w.number(r.positivityThreshold)
        case .areaDifferential(let r):
            typealias K = AreaDifferentialReport.CodingKeys
            w.member(K.regions)
            w.array(r.regions)
            w.member(K.scores)
            w.map(r.scores) { w, v in w.number(v) }
            w.member(K.positivityThreshold)
            w.number(r.positivityThreshold)
        case .semiQuantitativeDifferential(let r):
            typealias K = SemiQuantitativeDifferentialReport.CodingKeys
            w.member(K.points)
            w.array(r.points)
            w.member(K.scores)
            w.map(r.scores) { w, v in w.number(v) }
        case .regionCounting(let r), .aiMitosisCounting(let r):
            typealias K = RegionCountingReport.CodingKeys
            w.member(K.objects)
            w.array(r.objects)
            w.member(K.regions)
            w.array(r.regions)
        case .tumorCellularity(let r):
            typealias K = TumorCellularityReport.CodingKeys
            w.member(K.thresholdMap)
            w.map(r.thresholdMap) { w, entry in entry.writeJSON(to: &w) }
            if let other = r.otherSegments {
                w.member(K.otherSegments)
                w.map(other) { w, segments in w.array(segments) }
            }
        }
        w.byte(UInt8(ascii: "}"))
    }
}
