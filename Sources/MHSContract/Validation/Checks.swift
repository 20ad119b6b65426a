/// Gathers problems, listing at most a fixed number per rule and counting the rest.
struct ProblemCollector {
    private(set) var problems: [Problem] = []
    private var counts: [Rule: Int] = [:]
    let limit: Int

    init(limit: Int) { self.limit = limit }

    mutating func add(_ rule: Rule, _ message: @autoclosure () -> String, at path: @autoclosure () -> JSONPath) {
        let n = counts[rule, default: 0] + 1
        counts[rule] = n
        if n <= limit { problems.append(Problem(rule: rule, message: message(), path: path())) }
    }

    func report() -> ValidationReport {
        var all = problems
        for rule in Rule.allCases {
            if let n = counts[rule], n > limit {
                var note = Problem(
                    rule: .truncated, message: "\(n - limit) more \(rule.rawValue) problem(s) not listed (\(n) in all)",
                    path: JSONPath())
                note.severity = rule.severity
                all.append(note)
            }
        }
        return ValidationReport(problems: all)
    }
}

/// The semantic rules of the contract, checked on typed values. Both the typed validator
/// and the JSON validator (once it has read a well-formed piece) call these, so each rule
/// lives in one place.
struct Checker {
    var out: ProblemCollector
    let context: ValidationContext
    /// Level-0 size of the scan being checked, when known.
    var slide: SlideSize?

    init(context: ValidationContext) {
        self.context = context
        self.out = ProblemCollector(limit: max(1, context.maximumProblemsPerRule))
    }

    // MARK: Body and scans

    /// Scan ids: numeric strings, unique, and among the task's when those are known.
    mutating func scanIds(_ ids: [(id: String, path: JSONPath)], emptyAt bodyPath: JSONPath?) {
        if let bodyPath {
            out.add(.scanResultsEmpty, "scanResults is empty: the post completes the task without reporting any scan", at: bodyPath)
        }
        var seen: [String: JSONPath] = [:]
        for (id, path) in ids {
            if id.isEmpty || !id.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
                out.add(.scanIdNumeric, "scanId \"\(id)\" is not a numeric string (e.g. \"8061860\")", at: path)
            }
            if let first = seen[id] {
                out.add(.scanIdDuplicate, "scanId \"\(id)\" already appears at \(first); each scan is reported once", at: path)
            } else {
                seen[id] = path
            }
            if let regions = context.scanRegions[id], regions != 1 {
                out.add(
                    .scanRegions,
                    "scan \(id) has \(regions) regions; the platform accepts results only for a scan with exactly one region",
                    at: path)
            }
            if let known = context.scanIds, !known.contains(id) {
                out.add(
                    .scanIdUnknown,
                    "scanId \"\(id)\" is not a scan of this task (its scans: \(known.sorted().joined(separator: ", ")))",
                    at: path)
            }
        }
    }

    /// Selects the slide size used for coordinate warnings of one scan.
    mutating func enterScan(id: String?) {
        slide = id.flatMap { context.slideSizes[$0] } ?? context.slideSize
    }

    /// The free-form `results` object: `summary` must be a string; `external_url` should be.
    mutating func results(_ results: JSONObject, at path: JSONPath) {
        if let summary = results[ScanResult.ResultKey.summary.rawValue], summary.stringValue == nil {
            out.add(
                .summaryString, "summary must be a string, found \(summary.typeName); the platform rejects the request",
                at: path.key(ScanResult.ResultKey.summary))
        }
        if let url = results[ScanResult.ResultKey.externalURL.rawValue], url.stringValue == nil {
            out.add(
                .externalURLString, "external_url is a \(url.typeName), not a string: it will not be shown as a link",
                at: path.key(ScanResult.ResultKey.externalURL))
        }
    }

    // MARK: Numbers and points

    @inline(__always)
    mutating func finite(_ value: Double, at path: @autoclosure () -> JSONPath) {
        if !value.isFinite { out.add(.numberFinite, "number is \(n(value)), which JSON cannot carry", at: path()) }
    }

    /// A level-0 coordinate pair: finite, not negative, inside the slide when its size is known.
    @inline(__always)
    mutating func coordinate(x: Double, y: Double, at path: @autoclosure () -> JSONPath) {
        guard x.isFinite, y.isFinite else {
            out.add(.numberFinite, "coordinate (\(n(x)), \(n(y))) is not finite", at: path())
            return
        }
        if x < 0 || y < 0 {
            out.add(.coordinateNegative, "coordinate (\(n(x)), \(n(y))) is negative: level-0 pixels start at 0", at: path())
        } else if let slide, x > slide.width || y > slide.height {
            out.add(.coordinateOutsideSlide, "coordinate (\(n(x)), \(n(y))) lies outside the \(slide) slide", at: path())
        }
    }

    mutating func point(_ p: DifferentialPoint, at path: @autoclosure () -> JSONPath) {
        coordinate(x: p.x, y: p.y, at: path())
        if !p.score.isFinite { out.add(.numberFinite, "score is \(n(p.score)), which JSON cannot carry", at: path().key(DifferentialPoint.CodingKeys.score)) }
    }

    mutating func points(_ points: [DifferentialPoint], at path: JSONPath) {
        for i in points.indices { point(points[i], at: path.index(i)) }
    }

    mutating func object(_ o: CountedObject, at path: @autoclosure () -> JSONPath) {
        coordinate(x: o.x, y: o.y, at: path())
        finite(o.width, at: path().key(CountedObject.CodingKeys.width))
        finite(o.height, at: path().key(CountedObject.CodingKeys.height))
        if o.width.isFinite, o.height.isFinite, o.width >= 0, o.height >= 0 {
            coordinate(x: o.x + o.width, y: o.y + o.height, at: path())
        }
    }

    // MARK: GeoJSON

    /// Geometry rules: ring closure and length, line length, finite coordinates.
    mutating func geometry(_ g: Geometry, at path: @autoclosure () -> JSONPath) {
        switch g {
        case .point(let p):
            coordinate(x: p.x, y: p.y, at: path().key(Geometry.CodingKeys.coordinates))
        case .multiPoint(let ps):
            positions(ps, at: path().key(Geometry.CodingKeys.coordinates))
        case .lineString(let ps):
            line(ps, at: path().key(Geometry.CodingKeys.coordinates))
        case .multiLineString(let lines):
            for i in lines.indices { line(lines[i], at: path().key(Geometry.CodingKeys.coordinates).index(i)) }
        case .polygon(let rings):
            polygon(rings, at: path().key(Geometry.CodingKeys.coordinates))
        case .multiPolygon(let polygons):
            for i in polygons.indices { polygon(polygons[i], at: path().key(Geometry.CodingKeys.coordinates).index(i)) }
        case .geometryCollection(let gs):
            for i in gs.indices { geometry(gs[i], at: path().key(Geometry.CodingKeys.geometries).index(i)) }
        }
    }

    private mutating func positions(_ ps: [Position], at path: @autoclosure () -> JSONPath) {
        for i in ps.indices { coordinate(x: ps[i].x, y: ps[i].y, at: path().index(i)) }
    }

    private mutating func line(_ ps: [Position], at path: @autoclosure () -> JSONPath) {
        if ps.count < 2 { out.add(.lineLength, "a LineString needs at least 2 positions, found \(ps.count)", at: path()) }
        positions(ps, at: path())
    }

    private mutating func polygon(_ rings: [[Position]], at path: @autoclosure () -> JSONPath) {
        if rings.isEmpty { out.add(.ringLength, "a Polygon needs at least one ring", at: path()) }
        for i in rings.indices {
            let ring = rings[i]
            if ring.count < 4 {
                out.add(.ringLength, "a linear ring needs at least 4 positions, found \(ring.count)", at: path().index(i))
            } else if ring.first!.x != ring.last!.x || ring.first!.y != ring.last!.y {
                out.add(
                    .ringClosed,
                    "ring is not closed: it starts at (\(n(ring.first!.x)), \(n(ring.first!.y))) but ends at (\(n(ring.last!.x)), \(n(ring.last!.y)))",
                    at: path().index(i))
            }
            positions(ring, at: path().index(i))
        }
    }

    /// Feature rules. `topLevel` marks a scan's `geojson` annotations, which need a string
    /// `annotation_type` and are stored with a box. `geometryKnown` is false when the JSON
    /// validator could not read the geometry (already reported); `bboxGiven` is true when
    /// the JSON had a bbox, even one too malformed to read (also reported already).
    mutating func feature(
        _ f: Feature, at path: @autoclosure () -> JSONPath, topLevel: Bool, geometryKnown: Bool = true, bboxGiven: Bool = false
    ) {
                if topLevel {
            switch f.properties?[Feature.annotationTypeKey] {
            case .string?: break
            case nil:
                out.add(
                    .annotationType,
                    "annotation_type is missing: every annotation of a scan needs a string properties.annotation_type",
                    at: path().key(Feature.CodingKeys.properties).key(Feature.annotationTypeKey))
            case let other?:
                out.add(
                    .annotationType, "annotation_type must be a string, found \(other.typeName)",
                    at: path().key(Feature.CodingKeys.properties).key(Feature.annotationTypeKey))
            }
        }
        if let colors = f.properties?[Feature.contourColorsKey] { contourColors(colors, at: path().key(Feature.CodingKeys.properties).key(Feature.contourColorsKey)) }
        if let bbox = f.bbox {
                        if !(bbox.minX.isFinite && bbox.minY.isFinite && bbox.maxX.isFinite && bbox.maxY.isFinite) {
                out.add(.bboxShape, "bbox holds a number that is not finite", at: path().key(Feature.CodingKeys.bbox))
            } else if bbox.minX > bbox.maxX || bbox.minY > bbox.maxY {
                out.add(
                    .bboxOrder, "bbox must be [minX, minY, maxX, maxY] with min <= max, found [\(n(bbox.minX)), \(n(bbox.minY)), \(n(bbox.maxX)), \(n(bbox.maxY))]",
                    at: path().key(Feature.CodingKeys.bbox))
            } else if geometryKnown, let bounds = f.geometry?.bounds, !bbox.contains(bounds) {
                out.add(
                    .bboxEncloses,
                    "bbox does not enclose the geometry (geometry spans [\(n(bounds.minX)), \(n(bounds.minY)), \(n(bounds.maxX)), \(n(bounds.maxY))])",
                    at: path().key(Feature.CodingKeys.bbox))
            }
        } else if topLevel, !bboxGiven, geometryKnown, let g = f.geometry {
            if case .polygon = g {} else {
                out.add(
                    .bboxMissing, "a \(g.typeName) annotation without bbox is stored with a zero box; give it a bbox",
                    at: path())
            }
        }
        if geometryKnown, let g = f.geometry { geometry(g, at: path().key(Feature.CodingKeys.geometry)) }
    }

    /// Heatmap colours: an array of `#RRGGBB` strings.
    mutating func contourColors(_ value: JSONValue, at path: @autoclosure () -> JSONPath) {
        guard case .array(let colors) = value else {
            out.add(.contourColors, "contour_colors must be an array of \"#RRGGBB\" strings, found \(value.typeName)", at: path())
            return
        }
        for i in colors.indices {
            guard let s = colors[i].stringValue, Self.isHexColor(s) else {
                let found = colors[i].stringValue.map { "\"\($0)\"" } ?? colors[i].typeName
                out.add(.contourColors, "contour colour must be a \"#RRGGBB\" string, found \(found)", at: path().index(i))
                continue
            }
        }
    }

    static func isHexColor(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 7, u[0] == UInt8(ascii: "#") else { return false }
        return u.dropFirst().allSatisfy { b in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(b)
        }
    }

    /// An AreaDifferential region must be a Feature with Polygon geometry.
    mutating func areaRegion(_ region: Feature, at path: JSONPath) {
        if case .polygon? = region.geometry { return }
        let found = region.geometry?.typeName ?? "no geometry"
        out.add(.areaRegionPolygon, "an AreaDifferential region must be a Polygon Feature, found \(found)", at: path.key(Feature.CodingKeys.geometry))
    }
}

/// A number as a message shows it: `250` rather than `250.0`.
func n(_ value: Double) -> String {
    if value.magnitude < 1e15, Double(Int64(value)) == value { return String(Int64(value)) }
    return value.description
}
