/// Checks results against the platform's rules before anything is sent.
///
/// Two entry points share one set of rules: ``validate(_:context:)`` for a typed
/// ``ResultsBody`` (what classifiers build; fast enough for millions of points) and
/// ``validate(json:context:)`` for any JSON (what `mhs validate` and the emulator read),
/// which also reports structural problems the type system rules out for typed values.
/// Both return every problem found, each with a JSON path.
public enum Validator {
    /// Validates a typed results body.
    public static func validate(_ body: ResultsBody, context: ValidationContext = .init()) -> ValidationReport {
        var c = Checker(context: context)
        let root = JSONPath()
        let scans = root.key(ResultsBody.CodingKeys.scanResults)
        c.scanIds(body.scanResults.indices.map { (body.scanResults[$0].scanId, scans.index($0).key(ScanResult.CodingKeys.scanId)) }, emptyAt: body.scanResults.isEmpty ? scans : nil)
        for i in body.scanResults.indices {
            c.scanResult(body.scanResults[i], at: scans.index(i))
        }
        return c.out.report()
    }

    /// Validates parsed JSON, reporting shape problems as well as contract rules.
    public static func validate(json: JSONValue, context: ValidationContext = .init()) -> ValidationReport {
        var reader = JSONShapeReader(checker: Checker(context: context))
        reader.body(json)
        return reader.checker.out.report()
    }

    /// Parses and validates JSON bytes.
    /// - Throws: ``JSONSyntaxError`` (with line and column) when the bytes are not JSON.
    public static func validate(bytes: some Collection<UInt8>, context: ValidationContext = .init()) throws(JSONSyntaxError)
        -> ValidationReport
    {
        validate(json: try JSONParser.parse(bytes), context: context)
    }
}

// MARK: - The typed walk

extension Checker {
    mutating func scanResult(_ scan: ScanResult, at path: JSONPath) {
        typealias K = ScanResult.CodingKeys
        enterScan(id: scan.scanId)
        if let r = scan.results { results(r, at: path.key(K.results)) }
        if let geojson = scan.geojson {
            let features = path.key(K.geojson).key(FeatureCollection.CodingKeys.features)
            for i in geojson.features.indices {
                feature(geojson.features[i], at: features.index(i), topLevel: true)
            }
        }
        if let workflow = scan.workflow, let report = workflow.report {
            self.report(report, at: path.key(K.workflow).key(AiWorkflow.CodingKeys.report))
        }
    }

    mutating func featureCollection(_ fc: FeatureCollection, at path: JSONPath) {
        let features = path.key(FeatureCollection.CodingKeys.features)
        for i in fc.features.indices { feature(fc.features[i], at: features.index(i), topLevel: false) }
    }

    mutating func segments(_ segments: [Segment], at path: JSONPath) {
        for i in segments.indices { featureCollection(segments[i].featureCollection, at: path.index(i).key(Segment.CodingKeys.featureCollection)) }
    }

    mutating func scores(_ scores: OrderedMap<Double>, at path: JSONPath) {
        for (name, value) in scores { finite(value, at: path.key(name)) }
    }

    mutating func report(_ report: Report, at path: JSONPath) {
        switch report {
        case .basic(let r):
            segments(r.segments, at: path.key(BasicReport.CodingKeys.segments))
        case .wholeSlideDifferential(let r):
            typealias K = WholeSlideDifferentialReport.CodingKeys
            points(r.points, at: path.key(K.points))
            scores(r.scores, at: path.key(K.scores))
            finite(r.positivityThreshold, at: path.key(K.positivityThreshold))
        case .areaDifferential(let r):
            typealias K = AreaDifferentialReport.CodingKeys
            typealias R = AreaRegion.CodingKeys
            let regions = path.key(K.regions)
            for i in r.regions.indices {
                let region = r.regions[i]
                let at = regions.index(i)
                feature(region.region, at: at.key(R.region), topLevel: false)
                areaRegion(region.region, at: at.key(R.region))
                finite(region.weight, at: at.key(R.weight))
                finite(region.score, at: at.key(R.score))
                points(region.points, at: at.key(R.points))
            }
            scores(r.scores, at: path.key(K.scores))
            finite(r.positivityThreshold, at: path.key(K.positivityThreshold))
        case .semiQuantitativeDifferential(let r):
            typealias K = SemiQuantitativeDifferentialReport.CodingKeys
            points(r.points, at: path.key(K.points))
            scores(r.scores, at: path.key(K.scores))
        case .regionCounting(let r), .aiMitosisCounting(let r):
            typealias K = RegionCountingReport.CodingKeys
            let objects = path.key(K.objects)
            for i in r.objects.indices { object(r.objects[i], at: objects.index(i)) }
            let regions = path.key(K.regions)
            for i in r.regions.indices { feature(r.regions[i], at: regions.index(i), topLevel: false) }
        case .tumorCellularity(let r):
            typealias K = TumorCellularityReport.CodingKeys
            typealias E = ThresholdEntry.CodingKeys
            typealias D = Distribution.CodingKeys
            let map = path.key(K.thresholdMap)
            for (label, entry) in r.thresholdMap {
                let at = map.key(label)
                finite(entry.tumorCellularity, at: at.key(E.tumorCellularity))
                finite(entry.area, at: at.key(E.area))
                feature(entry.region, at: at.key(E.region), topLevel: false)
                for (name, items) in entry.distributions ?? [:] {
                    for i in items.indices {
                        finite(items[i].fraction, at: at.key(E.distributions).key(name).index(i).key(D.fraction))
                        finite(items[i].area, at: at.key(E.distributions).key(name).index(i).key(D.area))
                    }
                }
            }
            for (group, segs) in r.otherSegments ?? [:] { segments(segs, at: path.key(K.otherSegments).key(group)) }
        }
    }
}
