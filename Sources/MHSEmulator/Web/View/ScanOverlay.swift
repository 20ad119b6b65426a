import Foundation
import MHSContract

/// Everything posted for one scan, as the viewer draws it: one ``Evaluation`` per post that
/// named the scan, each split into layers (one per annotation type and report layer), the
/// vectors as GeoJSON with a style, report points packed as float triples. Built once per
/// scan and number of posts (posts are only ever appended), then served as `overlay.json` and
/// `points.bin` and read by the page's legend and comparison.
struct ScanOverlay: Sendable {
    /// One drawable layer of one evaluation.
    struct Layer: Sendable {
        /// `e<evaluation>-<n>`: unique on the page, names the layer's toggle.
        var id: String
        var name: String
        var color: String
        /// Regions drawn dashed (report regions), others solid.
        var dashed = false
        /// GeoJSON features, each with an `mhs` member holding its style.
        var features: [JSONValue] = []
        /// Report points as (x, y, score) triples, level-0 pixels.
        var points: [Float] = []
        var isPoints = false
        /// The properties of the first point feature of a points layer (shown on a click).
        var properties: JSONObject?
        /// Features or points.
        var count = 0
        /// Area of the layer's polygons in level-0 square pixels (holes subtracted).
        var area = 0.0
    }

    /// One post's results for the scan.
    struct Evaluation: Sendable {
        /// 1-based, in posting order.
        var index: Int
        var label: String { "E\(index)" }
        var post: PostedResults
        /// The platform's evaluation id for this post and scan.
        var evaluationId: Int?
        var result: ScanResult
        var layers: [Layer]
    }

    var scanId: String
    var evaluations: [Evaluation]

    /// Layer colours by name, the same for a name in every evaluation; the first is pure red
    /// so a posted annotation is easy to find.
    static let palette = ["#ff0000", "#0060ff", "#00a040", "#ff9000", "#a000c0", "#00b0b0", "#c0a000", "#ff40a0"]

    /// Builds the overlay of `scanId` from its task's posts (in order, each with its body read as
    /// the typed model, the one spelling of the contract's keys) and the platform's evaluations
    /// of the scan (in order; one per post that named it).
    init(scanId: String, posts: [(post: PostedResults, body: ResultsBody?)], evaluationIds: [Int]) {
        self.scanId = scanId
        var colors: [String: String] = [:]
        func color(_ name: String) -> String {
            if let c = colors[name] { return c }
            let c = Self.palette[colors.count % Self.palette.count]
            colors[name] = c
            return c
        }
        var evaluations: [Evaluation] = []
        for (post, body) in posts {
            guard let body else { continue }
            for result in body.scanResults where result.scanId == scanId {
                let index = evaluations.count + 1
                var builder = LayerBuilder(prefix: "e\(index)", color: color)
                builder.add(result)
                let id = evaluations.count < evaluationIds.count ? evaluationIds[evaluations.count] : nil
                evaluations.append(Evaluation(index: index, post: post, evaluationId: id, result: result, layers: builder.layers))
            }
        }
        self.evaluations = evaluations
    }

    /// Every report point, layer after layer, evaluation after evaluation: little-endian
    /// float32 x, y, score.
    func pointsBinary() -> [UInt8] {
        var floats: [Float] = []
        floats.reserveCapacity(evaluations.reduce(0) { $0 + $1.layers.reduce(0) { $0 + $1.points.count } })
        for e in evaluations { for l in e.layers where l.isPoints { floats += l.points } }
        return floats.withUnsafeBytes { Array($0) }  // x86-64 and arm64 are little-endian
    }

    /// The viewer's description of the scan and its layers (points by offset into `points.bin`).
    func json(scan: EmulatedScan, mpp: (x: Double, y: Double)?) -> JSONValue {
        let size = scan.size.map { (Int($0.width), Int($0.height)) } ?? (0, 0)
        let zoom = DeepZoom(width: size.0, height: size.1)
        var offset = 0
        let evaluations: [JSONValue] = evaluations.map { e in
            let layers: [JSONValue] = e.layers.map { l in
                var o: JSONObject = [
                    "id": .string(l.id), "name": .string(l.name), "color": .string(l.color), "dashed": .bool(l.dashed),
                    "count": .int(Int64(l.count)),
                ]
                if l.isPoints {
                    o["kind"] = "points"
                    o["offset"] = .int(Int64(offset))
                    if let p = l.properties { o["properties"] = .object(p) }
                    offset += l.count
                } else {
                    o["kind"] = "features"
                    o["features"] = .array(l.features)
                }
                return .object(o)
            }
            return ["label": .string(e.label), "layers": .array(layers)]
        }
        let base = "/_emulator/scans/\(scan.id)"
        return [
            "scan": [
                "id": .string(scan.id), "width": .int(Int64(size.0)), "height": .int(Int64(size.1)),
                "mpp": mpp.map { .array([.double($0.x), .double($0.y)]) } ?? .null,
                "maxLevel": .int(Int64(zoom.maxLevel)), "tileSide": .int(Int64(DeepZoom.tileSide)),
                "tiles": .string(base + "/tiles/{z}/{x}/{y}.jpg"), "points": .string(base + "/points.bin"),
            ],
            "evaluations": .array(evaluations),
            "pointCount": .int(Int64(offset)),
        ]
    }
}

/// Splits one scan result into named layers.
private struct LayerBuilder {
    let prefix: String
    let color: (String) -> String
    var layers: [ScanOverlay.Layer] = []

    init(prefix: String, color: @escaping (String) -> String) {
        self.prefix = prefix
        self.color = color
    }

    private mutating func layer(_ name: String, dashed: Bool = false, points: Bool = false) -> Int {
        if let i = layers.firstIndex(where: { $0.name == name }) { return i }
        layers.append(.init(id: "\(prefix)-\(layers.count + 1)", name: name, color: color(name), dashed: dashed, isPoints: points))
        return layers.count - 1
    }

    mutating func add(_ result: ScanResult) {
        for feature in result.geojson?.features ?? [] {
            add(feature, to: feature.annotationType ?? "(no \(Feature.annotationTypeKey))")
        }
        guard let report = result.workflow?.report else { return }
        switch report {
        case .basic(let r):
            for segment in r.segments { for f in segment.featureCollection.features { add(f, to: "segment: " + segment.name) } }
        case .wholeSlideDifferential(let r): add(r.points)
        case .semiQuantitativeDifferential(let r): add(r.points)
        case .areaDifferential(let r):
            for region in r.regions {
                var f = region.region
                f.properties = (f.properties ?? [:]).merging(
                    ["weight": .double(region.weight), "score": .double(region.score), "points": .int(Int64(region.points.count))]) { a, _ in a }
                add(f, to: "regions", dashed: true)
            }
            add(r.regions.flatMap(\.points))
        case .regionCounting(let r), .aiMitosisCounting(let r):
            for f in r.regions { add(f, to: "regions", dashed: true) }
            for o in r.objects {
                let ring = [Position(o.x, o.y), Position(o.x + o.width, o.y), Position(o.x + o.width, o.y + o.height),
                            Position(o.x, o.y + o.height), Position(o.x, o.y)]
                let props: JSONObject = ["x": .double(o.x), "y": .double(o.y), "width": .double(o.width), "height": .double(o.height)]
                add(Feature(geometry: .polygon([ring]), properties: props), to: "objects")
            }
        case .tumorCellularity(let r):
            for (label, entry) in r.thresholdMap {
                var f = entry.region
                f.properties = (f.properties ?? [:]).merging(
                    ["threshold": .string(label), "tumor_cellularity": .double(entry.tumorCellularity), "area": .double(entry.area)]) { a, _ in a }
                add(f, to: "threshold region: " + label, dashed: true)
            }
            for (group, segments) in r.otherSegments ?? [:] {
                for s in segments { for f in s.featureCollection.features { add(f, to: "segment: \(group) \(s.name)") } }
            }
        }
    }

    private mutating func add(_ points: [DifferentialPoint]) {
        for p in points {
            let i = layer("points: " + p.type, points: true)
            layers[i].points += [Float(p.x), Float(p.y), Float(p.score)]
            layers[i].count += 1
        }
    }

    private mutating func add(_ feature: Feature, to name: String, dashed: Bool = false) {
        let positions: [Position]
        switch feature.geometry {
        case .point(let p)?: positions = [p]
        case .multiPoint(let ps)?: positions = ps
        default: positions = []
        }
        if !positions.isEmpty {
            // Points, however many, go to a canvas layer of their own, drawn to scale.
            let i = layer(name + (layers.contains { $0.name == name && !$0.isPoints } ? " (points)" : ""), points: true)
            for p in positions { layers[i].points += [Float(p.x), Float(p.y), .nan] }
            layers[i].count += positions.count
            if layers[i].properties == nil { layers[i].properties = feature.properties }
            return
        }
        let i = layer(layers.contains { $0.name == name && $0.isPoints } ? name + " (shapes)" : name, dashed: dashed)
        layers[i].count += 1
        layers[i].area += Self.area(feature.geometry)
        let colors = feature.properties?[Feature.contourColorsKey]?.arrayValue?.compactMap(\.stringValue) ?? []
        if case .geometryCollection(let members)? = feature.geometry {
            // A heatmap: each contour drawn filled in its own colour.
            for (k, member) in members.enumerated() {
                var part = feature
                part.geometry = member
                part.properties?[Feature.contourColorsKey] = nil
                part.properties?["contour"] = .int(Int64(k))
                let c = k < colors.count ? colors[k] : layers[i].color
                layers[i].features.append(Self.json(part, color: c, fill: 0.3, stroke: false, dashed: false))
            }
            return
        }
        layers[i].features.append(Self.json(feature, color: layers[i].color, fill: 0.25, stroke: true, dashed: dashed))
    }

    private static func json(_ feature: Feature, color: String, fill: Double, stroke: Bool, dashed: Bool) -> JSONValue {
        guard case .object(var o)? = try? JSONParser.parse(MHSJSON.encode(feature)) else { return .null }
        o["mhs"] = ["color": .string(color), "fill": .double(fill), "stroke": .bool(stroke), "dashed": .bool(dashed)]
        return .object(o)
    }

    /// Polygon area in square pixels, holes subtracted.
    static func area(_ geometry: Geometry?) -> Double {
        func ring(_ r: [Position]) -> Double {
            guard r.count > 2 else { return 0 }
            var s = 0.0
            for k in 0..<r.count {
                let a = r[k], b = r[(k + 1) % r.count]
                s += a.x * b.y - b.x * a.y
            }
            return abs(s) / 2
        }
        func polygon(_ rings: [[Position]]) -> Double {
            guard let outer = rings.first else { return 0 }
            return max(0, ring(outer) - rings.dropFirst().reduce(0) { $0 + ring($1) })
        }
        switch geometry {
        case .polygon(let rings)?: return polygon(rings)
        case .multiPolygon(let ps)?: return ps.reduce(0) { $0 + polygon($1) }
        case .geometryCollection(let gs)?: return gs.reduce(0) { $0 + area($1) }
        default: return 0
        }
    }
}
