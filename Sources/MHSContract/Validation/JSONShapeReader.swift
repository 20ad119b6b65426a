/// Reads untyped JSON against the contract's shapes, reporting what is missing or mistyped,
/// and hands each well-formed piece (feature, point, ...) to the ``Checker`` as a typed
/// value, so that the rules on typed values are written once.
struct JSONShapeReader {
    var checker: Checker

    private mutating func add(_ rule: Rule, _ message: String, at path: JSONPath) {
        checker.out.add(rule, message, at: path)
    }

    // MARK: Fields

    /// Returns the member `key` of `o`, reporting it when required and missing. `null` counts
    /// as absent for optional members.
    private mutating func member(_ o: JSONObject, _ key: some CodingKey, at path: JSONPath, required: Bool) -> JSONValue? {
        switch o[key.stringValue] {
        case nil:
            if required { add(.fieldMissing, "\(key.stringValue) is missing", at: path.key(key)) }
            return nil
        case .null? where !required:
            return nil
        case let value?:
            return value
        }
    }

    private mutating func string(_ o: JSONObject, _ key: some CodingKey, at path: JSONPath, required: Bool = true) -> String? {
        guard let v = member(o, key, at: path, required: required) else { return nil }
        guard case .string(let s) = v else {
            add(.fieldType, "\(key.stringValue) must be a string, found \(v.typeName)", at: path.key(key))
            return nil
        }
        return s
    }

    private mutating func number(_ o: JSONObject, _ key: some CodingKey, at path: JSONPath, required: Bool = true) -> Double? {
        guard let v = member(o, key, at: path, required: required) else { return nil }
        guard let d = v.doubleValue else {
            add(.fieldType, "\(key.stringValue) must be a number, found \(v.typeName)", at: path.key(key))
            return nil
        }
        return d
    }

    private mutating func bool(_ o: JSONObject, _ key: some CodingKey, at path: JSONPath) -> Bool? {
        guard let v = member(o, key, at: path, required: true) else { return nil }
        guard case .bool(let b) = v else {
            add(.fieldType, "\(key.stringValue) must be true or false, found \(v.typeName)", at: path.key(key))
            return nil
        }
        return b
    }

    private mutating func array(_ o: JSONObject, _ key: some CodingKey, at path: JSONPath, required: Bool = true) -> [JSONValue]? {
        guard let v = member(o, key, at: path, required: required) else { return nil }
        guard case .array(let a) = v else {
            add(.fieldType, "\(key.stringValue) must be an array, found \(v.typeName)", at: path.key(key))
            return nil
        }
        return a
    }

    private mutating func object(_ v: JSONValue, at path: JSONPath, what: String) -> JSONObject? {
        guard case .object(let o) = v else {
            add(.fieldType, "\(what) must be an object, found \(v.typeName)", at: path)
            return nil
        }
        return o
    }

    private mutating func objectMember(_ o: JSONObject, _ key: some CodingKey, at path: JSONPath, required: Bool = true) -> JSONObject? {
        guard let v = member(o, key, at: path, required: required) else { return nil }
        return object(v, at: path.key(key), what: key.stringValue)
    }

    // MARK: Body

    mutating func body(_ value: JSONValue) {
        let root = JSONPath()
        guard case .object(let o) = value else {
            add(.bodyObject, "the body must be an object holding scanResults, found \(value.typeName)", at: root)
            return
        }
        if let cr = o[ResultsBody.CodingKeys.caseResults.stringValue], cr != .null, cr.objectValue == nil {
            add(.caseResultsObject, "caseResults must be an object, found \(cr.typeName)", at: root.key(ResultsBody.CodingKeys.caseResults))
        }
        let scansPath = root.key(ResultsBody.CodingKeys.scanResults)
        guard let scansValue = o[ResultsBody.CodingKeys.scanResults.stringValue] else {
            add(.scanResultsArray, "scanResults is missing: the body needs one entry per scan", at: scansPath)
            return
        }
        guard case .array(let scans) = scansValue else {
            add(.scanResultsArray, "scanResults must be an array, found \(scansValue.typeName)", at: scansPath)
            return
        }
        var ids: [(id: String, path: JSONPath)] = []
        for i in scans.indices {
            if let id = scan(scans[i], at: scansPath.index(i)) { ids.append((id, scansPath.index(i).key(ScanResult.CodingKeys.scanId))) }
        }
        checker.scanIds(ids, emptyAt: scans.isEmpty ? scansPath : nil)
    }

    /// Reads one scan result; returns its scan id when it has a string one.
    private mutating func scan(_ value: JSONValue, at path: JSONPath) -> String? {
        guard case .object(let o) = value else {
            add(.scanResultObject, "a scan result must be an object, found \(value.typeName)", at: path)
            return nil
        }
        var id: String?
        switch o[ScanResult.CodingKeys.scanId.stringValue] {
        case nil: add(.fieldMissing, "scanId is missing", at: path.key(ScanResult.CodingKeys.scanId))
        case .string(let s)?: id = s
        case let other?:
            add(.scanIdNumeric, "scanId must be a numeric string such as \"8061860\", found \(other.typeName)", at: path.key(ScanResult.CodingKeys.scanId))
        }
        checker.enterScan(id: id)
        if let results = o[ScanResult.CodingKeys.results.stringValue], results != .null {
            if case .object(let r) = results {
                checker.results(r, at: path.key(ScanResult.CodingKeys.results))
            } else {
                add(.resultsObject, "results must be an object, found \(results.typeName)", at: path.key(ScanResult.CodingKeys.results))
            }
        }
        if let qc = o[ScanResult.CodingKeys.qcFailReasons.stringValue], qc != .null {
            if case .array(let reasons) = qc {
                for i in reasons.indices where reasons[i].stringValue == nil {
                    add(.qcFailReasons, "a QC fail reason must be a string, found \(reasons[i].typeName)",
                        at: path.key(ScanResult.CodingKeys.qcFailReasons).index(i))
                }
            } else {
                add(.qcFailReasons, "qcFailReasons must be an array of strings ([] means QC passed), found \(qc.typeName)",
                    at: path.key(ScanResult.CodingKeys.qcFailReasons))
            }
        }
        if let geojson = o[ScanResult.CodingKeys.geojson.stringValue], geojson != .null {
            featureCollection(geojson, at: path.key(ScanResult.CodingKeys.geojson), topLevel: true)
        }
        if let workflow = o[ScanResult.CodingKeys.workflow.stringValue], workflow != .null {
            self.workflow(workflow, at: path.key(ScanResult.CodingKeys.workflow))
        }
        return id
    }

    // MARK: GeoJSON

    private mutating func featureCollection(_ value: JSONValue, at path: JSONPath, topLevel: Bool) {
        guard case .object(let o) = value else {
            add(.featureCollection, "must be a GeoJSON FeatureCollection object, found \(value.typeName)", at: path)
            return
        }
        if o[FeatureCollection.CodingKeys.type.stringValue] != .string(FeatureCollection.typeValue) {
            let found = o[FeatureCollection.CodingKeys.type.stringValue].map { $0.stringValue.map { "\"\($0)\"" } ?? $0.typeName } ?? "nothing"
            add(.featureCollection, "type must be \"FeatureCollection\", found \(found)", at: path.key(FeatureCollection.CodingKeys.type))
        }
        if let bbox = o[FeatureCollection.CodingKeys.bbox.stringValue] { _ = boundingBox(bbox, at: path.key(FeatureCollection.CodingKeys.bbox)) }
        guard let featuresValue = o[FeatureCollection.CodingKeys.features.stringValue] else {
            add(.featureCollection, "a FeatureCollection needs a features array", at: path.key(FeatureCollection.CodingKeys.features))
            return
        }
        guard case .array(let features) = featuresValue else {
            add(.featureCollection, "features must be an array, found \(featuresValue.typeName)", at: path.key(FeatureCollection.CodingKeys.features))
            return
        }
        for i in features.indices { _ = feature(features[i], at: path.key(FeatureCollection.CodingKeys.features).index(i), topLevel: topLevel) }
    }

    /// Reads a Feature; returns it when its geometry could be read.
    private mutating func feature(_ value: JSONValue, at path: JSONPath, topLevel: Bool) -> Feature? {
        guard case .object(let o) = value else {
            add(.feature, "a GeoJSON Feature must be an object, found \(value.typeName)", at: path)
            return nil
        }
        if o[Feature.CodingKeys.type.stringValue] != .string(Feature.typeValue) {
            let found = o[Feature.CodingKeys.type.stringValue].map { $0.stringValue.map { "\"\($0)\"" } ?? $0.typeName } ?? "nothing"
            add(.feature, "type must be \"Feature\", found \(found)", at: path.key(Feature.CodingKeys.type))
        }
        var geometryKnown = true
        var geometry: Geometry?
        switch o[Feature.CodingKeys.geometry.stringValue] {
        case nil:
            add(.feature, "a Feature needs a geometry member (an object, or null)", at: path.key(Feature.CodingKeys.geometry))
            geometryKnown = false
        case .null?:
            break
        case let g?:
            geometry = self.geometry(g, at: path.key(Feature.CodingKeys.geometry))
            geometryKnown = geometry != nil
        }
        var properties: JSONObject?
        switch o[Feature.CodingKeys.properties.stringValue] {
        case nil:
            add(.feature, "a Feature needs a properties member (an object, or null)", at: path.key(Feature.CodingKeys.properties))
        case .null?:
            break
        case .object(let p)?:
            properties = p
        case let other?:
            add(.feature, "properties must be an object or null, found \(other.typeName)", at: path.key(Feature.CodingKeys.properties))
        }
        var bbox: BoundingBox?
        if let b = o[Feature.CodingKeys.bbox.stringValue] { bbox = boundingBox(b, at: path.key(Feature.CodingKeys.bbox)) }
        var id: JSONValue?
        if let i = o[Feature.CodingKeys.id.stringValue] {
            switch i {
            case .string, .int, .double: id = i
            default: add(.feature, "id must be a string or a number, found \(i.typeName)", at: path.key(Feature.CodingKeys.id))
            }
        }
        let feature = Feature(geometry: geometry, properties: properties, bbox: bbox, id: id)
        checker.feature(feature, at: path, topLevel: topLevel, geometryKnown: geometryKnown, bboxGiven: o[Feature.CodingKeys.bbox.stringValue] != nil)
        return geometryKnown ? feature : nil
    }

    private mutating func boundingBox(_ value: JSONValue, at path: JSONPath) -> BoundingBox? {
        guard case .array(let a) = value, a.count == 4, let minX = a[0].doubleValue, let minY = a[1].doubleValue,
            let maxX = a[2].doubleValue, let maxY = a[3].doubleValue
        else {
            add(.bboxShape, "bbox must be 4 numbers [minX, minY, maxX, maxY], found \(Self.summary(value))", at: path)
            return nil
        }
        return BoundingBox(minX: minX, minY: minY, maxX: maxX, maxY: maxY)
    }

    private static func summary(_ value: JSONValue) -> String {
        if case .array(let a) = value { return "an array of \(a.count) (\(a.map(\.typeName).joined(separator: ", ")))" }
        return value.typeName
    }

    private mutating func geometry(_ value: JSONValue, at path: JSONPath) -> Geometry? {
        guard case .object(let o) = value else {
            add(.geometry, "geometry must be a GeoJSON geometry object or null, found \(value.typeName)", at: path)
            return nil
        }
        guard case .string(let type)? = o[Geometry.CodingKeys.type.stringValue], let kind = Geometry.Kind(rawValue: type) else {
            let found = o[Geometry.CodingKeys.type.stringValue].map { $0.stringValue.map { "\"\($0)\"" } ?? $0.typeName } ?? "nothing"
            add(.geometry, "geometry type must be one of \(Geometry.typeNames.sorted().joined(separator: ", ")), found \(found)",
                at: path.key(Geometry.CodingKeys.type))
            return nil
        }
        if kind == .geometryCollection {
            guard case .array(let members)? = o[Geometry.CodingKeys.geometries.stringValue] else {
                add(.geometry, "a GeometryCollection needs a geometries array", at: path.key(Geometry.CodingKeys.geometries))
                return nil
            }
            var geometries: [Geometry] = []
            var complete = true
            for i in members.indices {
                if let g = geometry(members[i], at: path.key(Geometry.CodingKeys.geometries).index(i)) { geometries.append(g) } else { complete = false }
            }
            return complete ? .geometryCollection(geometries) : nil
        }
        guard let coordinates = o[Geometry.CodingKeys.coordinates.stringValue] else {
            add(.geometry, "a \(type) needs coordinates", at: path.key(Geometry.CodingKeys.coordinates))
            return nil
        }
        let at = path.key(Geometry.CodingKeys.coordinates)
        switch kind {
        case .point: return position(coordinates, at: at).map(Geometry.point)
        case .multiPoint: return positions(coordinates, at: at).map(Geometry.multiPoint)
        case .lineString: return positions(coordinates, at: at).map(Geometry.lineString)
        case .multiLineString: return nested(coordinates, at: at, { r, v, p in r.positions(v, at: p) }).map(Geometry.multiLineString)
        case .polygon: return nested(coordinates, at: at, { r, v, p in r.positions(v, at: p) }).map(Geometry.polygon)
        case .geometryCollection: return nil  // read above
        case .multiPolygon:
            return nested(coordinates, at: at) { r, v, p in r.nested(v, at: p, { r, v, p in r.positions(v, at: p) }) }
                .map(Geometry.multiPolygon)
        }
    }

    private mutating func position(_ value: JSONValue, at path: JSONPath) -> Position? {
        guard case .array(let a) = value, (2...3).contains(a.count) else {
            add(.position, "a position must be an array of 2 (or 3) numbers, found \(Self.summary(value))", at: path)
            return nil
        }
        guard let x = a[0].doubleValue, let y = a[1].doubleValue else {
            add(.position, "coordinates must be numbers, found \(Self.summary(value))", at: path)
            return nil
        }
        if a.count == 3 {
            guard let z = a[2].doubleValue else {
                add(.position, "coordinates must be numbers, found \(Self.summary(value))", at: path)
                return nil
            }
            return Position(x, y, z: z)
        }
        return Position(x, y)
    }

    private mutating func positions(_ value: JSONValue, at path: JSONPath) -> [Position]? {
        nested(value, at: path) { r, v, p in r.position(v, at: p) }
    }

    /// Reads an array whose elements each read with `element`; nil if any element fails.
    private mutating func nested<T>(
        _ value: JSONValue, at path: JSONPath, _ element: (inout JSONShapeReader, JSONValue, JSONPath) -> T?
    ) -> [T]? {
        guard case .array(let a) = value else {
            add(.geometry, "coordinates must be nested arrays, found \(value.typeName) here", at: path)
            return nil
        }
        var result: [T] = []
        result.reserveCapacity(a.count)
        var complete = true
        for i in a.indices {
            if let e = element(&self, a[i], path.index(i)) { result.append(e) } else { complete = false }
        }
        return complete ? result : nil
    }

    // MARK: Workflow and reports

    private mutating func workflow(_ value: JSONValue, at path: JSONPath) {
        guard let o = object(value, at: path, what: "workflow") else { return }
        _ = string(o, AiWorkflow.CodingKeys.modelName, at: path)
        _ = string(o, AiWorkflow.CodingKeys.provider, at: path)
        _ = bool(o, AiWorkflow.CodingKeys.ruo, at: path)
        _ = string(o, AiWorkflow.CodingKeys.key, at: path, required: false)
        _ = string(o, AiWorkflow.CodingKeys.value, at: path, required: false)
        if let report = o[AiWorkflow.CodingKeys.report.stringValue], report != .null { self.report(report, at: path.key(AiWorkflow.CodingKeys.report)) }
    }

    private mutating func report(_ value: JSONValue, at path: JSONPath) {
        guard let o = object(value, at: path, what: "report") else { return }
        let known = Report.typeNames.joined(separator: ", ")
        guard case .string(let type)? = o[Report.TypeKey.type.stringValue] else {
            let found = o[Report.TypeKey.type.stringValue]?.typeName ?? "nothing"
            add(.reportType, "report.type must be one of \(known), found \(found)", at: path.key(Report.TypeKey.type))
            return
        }
        guard let kind = Report.Kind(rawValue: type) else {
            add(.reportType, "unknown report.type \"\(type)\": the platform rejects the whole request (known: \(known))",
                at: path.key(Report.TypeKey.type))
            return
        }
        switch kind {
        case .basic:
            if let results = array(o, BasicReport.CodingKeys.results, at: path) {
                for i in results.indices {
                    let at = path.key(BasicReport.CodingKeys.results).index(i)
                    guard let r = object(results[i], at: at, what: "a result") else { continue }
                    _ = string(r, ResultPair.CodingKeys.name, at: at)
                    _ = string(r, ResultPair.CodingKeys.result, at: at)
                }
            }
            if let segments = array(o, BasicReport.CodingKeys.segments, at: path) { self.segments(segments, at: path.key(BasicReport.CodingKeys.segments)) }
        case .wholeSlideDifferential, .semiQuantitativeDifferential:
            if let points = array(o, WholeSlideDifferentialReport.CodingKeys.points, at: path) { self.points(points, at: path.key(WholeSlideDifferentialReport.CodingKeys.points)) }
            scores(o, at: path)
            if kind == .wholeSlideDifferential { _ = number(o, WholeSlideDifferentialReport.CodingKeys.positivityThreshold, at: path) }
        case .areaDifferential:
            if let regions = array(o, AreaDifferentialReport.CodingKeys.regions, at: path) {
                for i in regions.indices {
                    let at = path.key(AreaDifferentialReport.CodingKeys.regions).index(i)
                    guard let r = object(regions[i], at: at, what: "a region") else { continue }
                    if let region = r[AreaRegion.CodingKeys.region.stringValue] {
                        if let f = feature(region, at: at.key(AreaRegion.CodingKeys.region), topLevel: false) {
                            checker.areaRegion(f, at: at.key(AreaRegion.CodingKeys.region))
                        }
                    } else {
                        add(.fieldMissing, "region is missing", at: at.key(AreaRegion.CodingKeys.region))
                    }
                    _ = number(r, AreaRegion.CodingKeys.weight, at: at)
                    _ = number(r, AreaRegion.CodingKeys.score, at: at)
                    if let points = array(r, WholeSlideDifferentialReport.CodingKeys.points, at: at) { self.points(points, at: at.key(WholeSlideDifferentialReport.CodingKeys.points)) }
                }
            }
            scores(o, at: path)
            _ = number(o, WholeSlideDifferentialReport.CodingKeys.positivityThreshold, at: path)
        case .regionCounting, .aiMitosisCounting:
            if let objects = array(o, RegionCountingReport.CodingKeys.objects, at: path) {
                for i in objects.indices {
                    let at = path.key(RegionCountingReport.CodingKeys.objects).index(i)
                    guard let b = object(objects[i], at: at, what: "an object") else { continue }
                    let x = number(b, CountedObject.CodingKeys.x, at: at)
                    let y = number(b, CountedObject.CodingKeys.y, at: at)
                    let w = number(b, CountedObject.CodingKeys.width, at: at)
                    let h = number(b, CountedObject.CodingKeys.height, at: at)
                    if let x, let y, let w, let h { checker.object(CountedObject(x: x, y: y, width: w, height: h), at: at) }
                }
            }
            if let regions = array(o, RegionCountingReport.CodingKeys.regions, at: path) {
                for i in regions.indices { _ = feature(regions[i], at: path.key(RegionCountingReport.CodingKeys.regions).index(i), topLevel: false) }
            }
        case .tumorCellularity:
            tumorCellularity(o, at: path)
        }
    }

    private mutating func scores(_ o: JSONObject, at path: JSONPath) {
        guard let scores = objectMember(o, WholeSlideDifferentialReport.CodingKeys.scores, at: path) else { return }
        for (name, v) in scores where v.doubleValue == nil {
            add(.fieldType, "a score must be a number, found \(v.typeName)", at: path.key(WholeSlideDifferentialReport.CodingKeys.scores).key(name))
        }
    }

    private mutating func points(_ values: [JSONValue], at path: JSONPath) {
        for i in values.indices {
            let at = path.index(i)
            guard let p = object(values[i], at: at, what: "a point") else { continue }
            let x = number(p, DifferentialPoint.CodingKeys.x, at: at)
            let y = number(p, DifferentialPoint.CodingKeys.y, at: at)
            let score = number(p, DifferentialPoint.CodingKeys.score, at: at)
            let type = string(p, DifferentialPoint.CodingKeys.type, at: at)
            if let x, let y, let score, let type { checker.point(DifferentialPoint(x: x, y: y, score: score, type: type), at: at) }
        }
    }

    private mutating func segments(_ values: [JSONValue], at path: JSONPath) {
        for i in values.indices {
            let at = path.index(i)
            guard let s = object(values[i], at: at, what: "a segment") else { continue }
            _ = string(s, Segment.CodingKeys.name, at: at)
            _ = string(s, Segment.CodingKeys.result, at: at)
            if let fc = member(s, Segment.CodingKeys.featureCollection, at: at, required: true) {
                featureCollection(fc, at: at.key(Segment.CodingKeys.featureCollection), topLevel: false)
            }
        }
    }

    private mutating func tumorCellularity(_ o: JSONObject, at path: JSONPath) {
        if let map = objectMember(o, TumorCellularityReport.CodingKeys.thresholdMap, at: path) {
            for (label, entryValue) in map {
                let at = path.key(TumorCellularityReport.CodingKeys.thresholdMap).key(label)
                guard let e = object(entryValue, at: at, what: "a threshold entry") else { continue }
                _ = number(e, ThresholdEntry.CodingKeys.tumorCellularity, at: at)
                if let counts = array(e, ThresholdEntry.CodingKeys.counts, at: at) {
                    for i in counts.indices {
                        let c = at.key(ThresholdEntry.CodingKeys.counts).index(i)
                        guard let count = object(counts[i], at: c, what: "a count") else { continue }
                        _ = string(count, LabelCount.CodingKeys.label, at: c)
                        _ = number(count, LabelCount.CodingKeys.count, at: c)
                    }
                }
                if let region = member(e, ThresholdEntry.CodingKeys.region, at: at, required: true) {
                    _ = feature(region, at: at.key(ThresholdEntry.CodingKeys.region), topLevel: false)
                }
                _ = number(e, ThresholdEntry.CodingKeys.area, at: at)
                if let distributions = objectMember(e, ThresholdEntry.CodingKeys.distributions, at: at, required: false) {
                    for (name, itemsValue) in distributions {
                        let d = at.key(ThresholdEntry.CodingKeys.distributions).key(name)
                        guard case .array(let items) = itemsValue else {
                            add(.fieldType, "a distribution must be an array, found \(itemsValue.typeName)", at: d)
                            continue
                        }
                        for i in items.indices {
                            guard let item = object(items[i], at: d.index(i), what: "a distribution item") else { continue }
                            _ = string(item, LabelCount.CodingKeys.label, at: d.index(i))
                            _ = number(item, Distribution.CodingKeys.fraction, at: d.index(i))
                            _ = number(item, ThresholdEntry.CodingKeys.area, at: d.index(i))
                        }
                    }
                }
            }
        }
        if let groups = objectMember(o, TumorCellularityReport.CodingKeys.otherSegments, at: path, required: false) {
            for (group, segmentsValue) in groups {
                let at = path.key(TumorCellularityReport.CodingKeys.otherSegments).key(group)
                guard case .array(let segs) = segmentsValue else {
                    add(.fieldType, "a segment group must be an array, found \(segmentsValue.typeName)", at: at)
                    continue
                }
                segments(segs, at: at)
            }
        }
    }
}
