import OrderedCollections

/// A GeoJSON position: level-0 pixel coordinates of the scan (RFC 7946 §3.1.1).
///
/// Written as `[x, y]`, or `[x, y, z]` when ``z`` is set.
public struct Position: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double
    /// The third coordinate, NaN when absent: 24 bytes a position instead of the 32 an
    /// optional `Double` takes (a million-point report is 8 MB smaller). NaN is no JSON
    /// number, so no real coordinate is lost to it.
    private var storedZ: Double

    /// Optional third coordinate; slides do not use it. (Setting NaN makes it absent.)
    public var z: Double? {
        get { storedZ.isNaN ? nil : storedZ }
        set { storedZ = newValue ?? .nan }
    }

    public init(_ x: Double, _ y: Double, z: Double? = nil) {
        self.x = x
        self.y = y
        self.storedZ = z ?? .nan
    }

    public static func == (a: Position, b: Position) -> Bool { a.x == b.x && a.y == b.y && a.z == b.z }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(x)
        hasher.combine(y)
        hasher.combine(z)
    }

    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        x = try c.decode(Double.self)
        y = try c.decode(Double.self)
        storedZ = c.isAtEnd ? .nan : try c.decode(Double.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(x)
        try c.encode(y)
        if let z { try c.encode(z) }
    }
}

/// A GeoJSON geometry (RFC 7946 §3.1).
public indirect enum Geometry: Sendable, Hashable {
    case point(Position)
    case multiPoint([Position])
    case lineString([Position])
    case multiLineString([[Position]])
    /// Linear rings: the first is the outer boundary, the rest are holes. Each ring is
    /// closed (first position == last) and has at least 4 positions.
    case polygon([[Position]])
    case multiPolygon([[[Position]]])
    case geometryCollection([Geometry])

    /// A geometry's `type`, spelled once.
    public enum Kind: String, Sendable, CaseIterable {
        case point = "Point"
        case multiPoint = "MultiPoint"
        case lineString = "LineString"
        case multiLineString = "MultiLineString"
        case polygon = "Polygon"
        case multiPolygon = "MultiPolygon"
        case geometryCollection = "GeometryCollection"
    }

    /// This geometry's kind.
    public var kind: Kind {
        switch self {
        case .point: .point
        case .multiPoint: .multiPoint
        case .lineString: .lineString
        case .multiLineString: .multiLineString
        case .polygon: .polygon
        case .multiPolygon: .multiPolygon
        case .geometryCollection: .geometryCollection
        }
    }

    /// The GeoJSON `type` member.
    public var typeName: String { kind.rawValue }

    /// Every GeoJSON geometry `type`.
    public static let typeNames: Set<String> = Set(Kind.allCases.map(\.rawValue))

    /// Calls `body` with every position of the geometry, nested collections included.
    public func forEachPosition(_ body: (Position) -> Void) {
        switch self {
        case .point(let p): body(p)
        case .multiPoint(let ps), .lineString(let ps): ps.forEach(body)
        case .multiLineString(let rings), .polygon(let rings): for r in rings { r.forEach(body) }
        case .multiPolygon(let polys): for rings in polys { for r in rings { r.forEach(body) } }
        case .geometryCollection(let gs): for g in gs { g.forEachPosition(body) }
        }
    }

    /// The 2D bounding box `[minX, minY, maxX, maxY]` of all positions, or nil when there
    /// are none.
    public var bounds: BoundingBox? {
        var box: BoundingBox?
        forEachPosition { p in
            if box == nil {
                box = BoundingBox(minX: p.x, minY: p.y, maxX: p.x, maxY: p.y)
            } else {
                box!.include(p)
            }
        }
        return box
    }
}

/// A 2D bounding box, written as GeoJSON's `[minX, minY, maxX, maxY]`.
public struct BoundingBox: Sendable, Hashable, Codable {
    public var minX: Double
    public var minY: Double
    public var maxX: Double
    public var maxY: Double

    public init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX
        self.minY = minY
        self.maxX = maxX
        self.maxY = maxY
    }

    /// Grows the box to hold `p`.
    public mutating func include(_ p: Position) {
        minX = Swift.min(minX, p.x)
        minY = Swift.min(minY, p.y)
        maxX = Swift.max(maxX, p.x)
        maxY = Swift.max(maxY, p.y)
    }

    /// Whether `other` lies inside this box (edges included).
    public func contains(_ other: BoundingBox) -> Bool {
        minX <= other.minX && minY <= other.minY && maxX >= other.maxX && maxY >= other.maxY
    }

    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        minX = try c.decode(Double.self)
        minY = try c.decode(Double.self)
        maxX = try c.decode(Double.self)
        maxY = try c.decode(Double.self)
        guard c.isAtEnd else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bbox must have 4 numbers"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(contentsOf: [minX, minY, maxX, maxY])
    }
}

/// A GeoJSON Feature (RFC 7946 §3.2).
public struct Feature: Sendable, Hashable, Codable {
    /// Optional identifier (string or number).
    public var id: JSONValue?
    /// The shape; GeoJSON allows `null`.
    public var geometry: Geometry?
    /// Free-form properties. Top-level scan annotations need a string `annotation_type`.
    public var properties: JSONObject?
    /// Optional bounding box. The platform stores a zero box for non-Polygon geometry
    /// without one, so builders always set it.
    public var bbox: BoundingBox?

    public init(geometry: Geometry?, properties: JSONObject? = [:], bbox: BoundingBox? = nil, id: JSONValue? = nil) {
        self.geometry = geometry
        self.properties = properties
        self.bbox = bbox
        self.id = id
    }

    /// `properties.annotation_type`, when it is a string.
    public var annotationType: String? { properties?[Self.annotationTypeKey]?.stringValue }

    /// The property naming a feature's annotation type.
    public static let annotationTypeKey = "annotation_type"
    /// The property with a heatmap's contour colours.
    public static let contourColorsKey = "contour_colors"
    /// The `type` of every feature.
    public static let typeValue = "Feature"

    public enum CodingKeys: String, CodingKey { case type, id, geometry, properties, bbox }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        guard type == Self.typeValue else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "expected \"\(Self.typeValue)\", found \"\(type)\"")
        }
        id = try c.decodeIfPresent(JSONValue.self, forKey: .id)
        geometry = try c.decodeIfPresent(Geometry.self, forKey: .geometry)
        properties = try c.decodeObjectIfPresent(forKey: .properties)
        bbox = try c.decodeIfPresent(BoundingBox.self, forKey: .bbox)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.typeValue, forKey: .type)
        try c.encodeIfPresent(id, forKey: .id)
        try c.encode(geometry, forKey: .geometry)
        try c.encode(properties.map(JSONValue.object) ?? .null, forKey: .properties)
        try c.encodeIfPresent(bbox, forKey: .bbox)
    }
}

/// A GeoJSON FeatureCollection (RFC 7946 §3.3).
public struct FeatureCollection: Sendable, Hashable, Codable {
    public var features: [Feature]
    public var bbox: BoundingBox?

    public init(features: [Feature] = [], bbox: BoundingBox? = nil) {
        self.features = features
        self.bbox = bbox
    }

    /// The `type` of every feature collection.
    public static let typeValue = "FeatureCollection"

    public enum CodingKeys: String, CodingKey { case type, features, bbox }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        guard type == Self.typeValue else {
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c, debugDescription: "expected \"\(Self.typeValue)\", found \"\(type)\"")
        }
        features = try c.decode([Feature].self, forKey: .features)
        bbox = try c.decodeIfPresent(BoundingBox.self, forKey: .bbox)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.typeValue, forKey: .type)
        try c.encode(features, forKey: .features)
        try c.encodeIfPresent(bbox, forKey: .bbox)
    }
}

extension Geometry: Codable {
    public enum CodingKeys: String, CodingKey { case type, coordinates, geometries }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        guard let kind = Kind(rawValue: type) else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown geometry type \"\(type)\"")
        }
        switch kind {
        case .point: self = .point(try c.decode(Position.self, forKey: .coordinates))
        case .multiPoint: self = .multiPoint(try c.decode([Position].self, forKey: .coordinates))
        case .lineString: self = .lineString(try c.decode([Position].self, forKey: .coordinates))
        case .multiLineString: self = .multiLineString(try c.decode([[Position]].self, forKey: .coordinates))
        case .polygon: self = .polygon(try c.decode([[Position]].self, forKey: .coordinates))
        case .multiPolygon: self = .multiPolygon(try c.decode([[[Position]]].self, forKey: .coordinates))
        case .geometryCollection: self = .geometryCollection(try c.decode([Geometry].self, forKey: .geometries))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case .point(let p): try c.encode(p, forKey: .coordinates)
        case .multiPoint(let ps), .lineString(let ps): try c.encode(ps, forKey: .coordinates)
        case .multiLineString(let rs), .polygon(let rs): try c.encode(rs, forKey: .coordinates)
        case .multiPolygon(let ps): try c.encode(ps, forKey: .coordinates)
        case .geometryCollection(let gs): try c.encode(gs, forKey: .geometries)
        }
    }
}

// MARK: - Fast JSON

extension Position: JSONWritable {
    @inline(__always)
    public func writeJSON(to w: inout JSONWriter) {
        w.byte(UInt8(ascii: "["))
        w.number(x)
        w.byte(UInt8(ascii: ","))
        w.number(y)
        if let z {
            w.byte(UInt8(ascii: ","))
            w.number(z)
        }
        w.byte(UInt8(ascii: "]"))
    }
}

extension BoundingBox: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.byte(UInt8(ascii: "["))
        w.number(minX)
        w.byte(UInt8(ascii: ","))
        w.number(minY)
        w.byte(UInt8(ascii: ","))
        w.number(maxX)
        w.byte(UInt8(ascii: ","))
        w.number(maxY)
        w.byte(UInt8(ascii: "]"))
    }
}

extension Geometry: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.type, first: true)
        w.string(typeName)
        switch self {
        case .point(let p):
            w.member(CodingKeys.coordinates)
            p.writeJSON(to: &w)
        case .multiPoint(let ps), .lineString(let ps):
            w.member(CodingKeys.coordinates)
            w.array(ps)
        case .multiLineString(let rs), .polygon(let rs):
            w.member(CodingKeys.coordinates)
            w.array(rs) { w, r in w.array(r) }
        case .multiPolygon(let ps):
            w.member(CodingKeys.coordinates)
            w.array(ps) { w, p in w.array(p) { w, r in w.array(r) } }
        case .geometryCollection(let gs):
            w.member(CodingKeys.geometries)
            w.array(gs)
        }
        w.byte(UInt8(ascii: "}"))
    }
}

extension Feature: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.type, first: true)
        w.string(Self.typeValue)
        if let id {
            w.member(CodingKeys.id)
            w.value(id)
        }
        w.member(CodingKeys.geometry)
        if let geometry { geometry.writeJSON(to: &w) } else { w.raw("null") }
        w.member(CodingKeys.properties)
        if let properties { w.object(properties) } else { w.raw("null") }
        if let bbox {
            w.member(CodingKeys.bbox)
            bbox.writeJSON(to: &w)
        }
        w.byte(UInt8(ascii: "}"))
    }
}

extension FeatureCollection: JSONWritable {
    public func writeJSON(to w: inout JSONWriter) {
        w.member(CodingKeys.type, first: true)
        w.string(Self.typeValue)
        w.member(CodingKeys.features)
        w.array(features)
        if let bbox {
            w.member(CodingKeys.bbox)
            bbox.writeJSON(to: &w)
        }
        w.byte(UInt8(ascii: "}"))
    }
}
