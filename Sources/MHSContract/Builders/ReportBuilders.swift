extension Report {
    /// A Basic report from ordered name/value pairs and segments.
    ///
    ///     Report.basic(results: ["Result": "Positive", "Mitosis Count": "4"],
    ///                  segments: [Segment(name: "Mitosis", result: "4", features: boxes)])
    public static func basic(results: KeyValuePairs<String, String>, segments: [Segment] = []) -> Report {
        .basic(BasicReport(results: results.map { ResultPair(name: $0.key, result: $0.value) }, segments: segments))
    }

    /// A WholeSlideDifferential report. Without `scores`, each point type's score is its
    /// share of the points (0...1).
    /// - Throws: ``BuilderError`` for a non-finite coordinate, score or threshold.
    public static func wholeSlideDifferential(
        points: [DifferentialPoint], scores: OrderedMap<Double>? = nil, positivityThreshold: Double
    ) throws(BuilderError) -> Report {
        try DifferentialPoint.requireFinite(points)
        try requireFinite(positivityThreshold, "positivity_threshold")
        let s = scores ?? DifferentialPoint.shares(points)
        for (name, v) in s { try requireFinite(v, "scores.\(name)") }
        return .wholeSlideDifferential(WholeSlideDifferentialReport(points: points, scores: s, positivityThreshold: positivityThreshold))
    }

    /// A SemiQuantitativeDifferential report; scores default to each type's share.
    /// - Throws: ``BuilderError`` for a non-finite coordinate or score.
    public static func semiQuantitativeDifferential(
        points: [DifferentialPoint], scores: OrderedMap<Double>? = nil
    ) throws(BuilderError) -> Report {
        try DifferentialPoint.requireFinite(points)
        let s = scores ?? DifferentialPoint.shares(points)
        for (name, v) in s { try requireFinite(v, "scores.\(name)") }
        return .semiQuantitativeDifferential(SemiQuantitativeDifferentialReport(points: points, scores: s))
    }

    private static func requireFinite(_ v: Double, _ what: String) throws(BuilderError) {
        guard v.isFinite else { throw BuilderError("\(what) must be a finite number, found \(v)") }
    }
}

extension AreaRegion {
    /// An AreaDifferential region around a polygon outline.
    /// - Throws: ``BuilderError`` for an invalid outline or non-finite values.
    public static func polygon(
        _ outline: [Position], weight: Double, score: Double, points: [DifferentialPoint], properties: JSONObject = [:]
    ) throws(BuilderError) -> AreaRegion {
        guard weight.isFinite, score.isFinite else { throw BuilderError("region weight and score must be finite") }
        try DifferentialPoint.requireFinite(points)
        let feature = try Feature.polygon(outline, annotationType: "region", properties: properties)
        return AreaRegion(region: feature, weight: weight, score: score, points: points)
    }
}

extension Segment {
    /// A segment holding `features`, with the collection's bbox computed.
    public init(name: String, result: String, features: [Feature]) {
        self.init(name: name, result: result, featureCollection: .of(features))
    }
}

extension DifferentialPoint {
    /// Each type's share of `points` (0...1), in order of first appearance.
    public static func shares(_ points: [DifferentialPoint]) -> OrderedMap<Double> {
        var counts = OrderedMap<Double>()
        for p in points { counts[p.type, default: 0] += 1 }
        let total = Double(max(points.count, 1))
        for key in counts.keys { counts[key]! /= total }
        return counts
    }

    static func requireFinite(_ points: [DifferentialPoint]) throws(BuilderError) {
        for p in points where !(p.x.isFinite && p.y.isFinite && p.score.isFinite) {
            throw BuilderError("point (\(p.x), \(p.y)) with score \(p.score) has a non-finite value")
        }
    }
}
