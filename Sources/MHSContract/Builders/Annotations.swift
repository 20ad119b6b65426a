/// Why a builder refused its input. Builders check what the validator would reject, so
/// what they return is always postable.
public struct BuilderError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A `#RRGGBB` colour, as heatmap `contour_colors` need.
public struct HexColor: Sendable, Hashable, CustomStringConvertible {
    /// The `#RRGGBB` text.
    public let hex: String

    /// Accepts `#RRGGBB` (either case); nil otherwise.
    public init?(_ hex: String) {
        guard Checker.isHexColor(hex) else { return nil }
        self.hex = hex
    }

    /// A colour from 8-bit channels.
    public init(red: UInt8, green: UInt8, blue: UInt8) {
        let digits = Array("0123456789ABCDEF")
        var text = "#"
        for c in [red, green, blue] {
            text.append(digits[Int(c >> 4)])
            text.append(digits[Int(c & 0xF)])
        }
        hex = text
    }

    public var description: String { hex }

    /// A blue → red ramp for heatmaps: `t` in 0...1 (clamped).
    public static func ramp(_ t: Double) -> HexColor {
        let v = t.isFinite ? min(max(t, 0), 1) : 0
        return HexColor(red: UInt8(255 * v), green: UInt8(64 * (1 - abs(2 * v - 1))), blue: UInt8(255 * (1 - v)))
    }
}

/// One contour of a heatmap: a closed outline and its colour.
public struct HeatmapContour: Sendable, Hashable {
    public var outline: [Position]
    public var color: HexColor
    public init(outline: [Position], color: HexColor) {
        self.outline = outline
        self.color = color
    }

    /// A rectangular contour (a patch of a patch grid), in level-0 pixels.
    public static func box(x: Double, y: Double, width: Double, height: Double, color: HexColor) -> HeatmapContour {
        HeatmapContour(outline: [Position(x, y), Position(x + width, y), Position(x + width, y + height), Position(x, y + height)], color: color)
    }
}

extension Feature {
    /// A rectangle annotation: a Polygon with its `bbox`, in level-0 pixels.
    /// - Throws: ``BuilderError`` for non-finite values or a negative size.
    public static func box(
        x: Double, y: Double, width: Double, height: Double, annotationType: String, properties: JSONObject = [:]
    ) throws(BuilderError) -> Feature {
        guard [x, y, width, height].allSatisfy(\.isFinite) else { throw BuilderError("box values must be finite numbers") }
        guard width >= 0, height >= 0 else { throw BuilderError("box width and height must not be negative") }
        let ring = [
            Position(x, y), Position(x + width, y), Position(x + width, y + height), Position(x, y + height), Position(x, y),
        ]
        return annotation(.polygon([ring]), annotationType: annotationType, properties: properties)
    }

    /// A polygon annotation from its outline (closed for you when the last point differs
    /// from the first), with its `bbox`.
    /// - Throws: ``BuilderError`` for fewer than 3 distinct positions or non-finite ones.
    public static func polygon(
        _ outline: [Position], holes: [[Position]] = [], annotationType: String, properties: JSONObject = [:]
    ) throws(BuilderError) -> Feature {
        var rings: [[Position]] = []
        for ring in [outline] + holes { rings.append(try closedRing(ring)) }
        return annotation(.polygon(rings), annotationType: annotationType, properties: properties)
    }

    /// A point-set annotation (MultiPoint) with its `bbox`, so the platform does not store
    /// a zero box.
    /// - Throws: ``BuilderError`` for an empty set or non-finite positions.
    public static func points(
        _ positions: [Position], annotationType: String, properties: JSONObject = [:]
    ) throws(BuilderError) -> Feature {
        guard !positions.isEmpty else { throw BuilderError("a point set needs at least one position") }
        try requireFinite(positions)
        return annotation(.multiPoint(positions), annotationType: annotationType, properties: properties)
    }

    /// A heatmap: one Feature whose geometry is a GeometryCollection of Polygon contours,
    /// with `properties.contour_colors` in the same order, and its `bbox`.
    /// - Throws: ``BuilderError`` for no contours or an invalid outline.
    public static func heatmap(
        _ contours: [HeatmapContour], annotationType: String, properties: JSONObject = [:]
    ) throws(BuilderError) -> Feature {
        guard !contours.isEmpty else { throw BuilderError("a heatmap needs at least one contour") }
        var polygons: [Geometry] = []
        polygons.reserveCapacity(contours.count)
        for contour in contours { polygons.append(.polygon([try closedRing(contour.outline)])) }
        var props = properties
        props["contour_colors"] = .array(contours.map { .string($0.color.hex) })
        return annotation(.geometryCollection(polygons), annotationType: annotationType, properties: props)
    }

    /// Wraps a geometry as a top-level annotation: sets `annotation_type` and a `bbox`
    /// computed from the geometry.
    public static func annotation(_ geometry: Geometry, annotationType: String, properties: JSONObject = [:]) -> Feature {
        var props = properties
        props["annotation_type"] = .string(annotationType)
        return Feature(geometry: geometry, properties: props, bbox: geometry.bounds)
    }

    private static func requireFinite(_ positions: [Position]) throws(BuilderError) {
        for p in positions where !(p.x.isFinite && p.y.isFinite && (p.z?.isFinite ?? true)) {
            throw BuilderError("position (\(p.x), \(p.y)) is not finite")
        }
    }

    private static func closedRing(_ outline: [Position]) throws(BuilderError) -> [Position] {
        try requireFinite(outline)
        var ring = outline
        if let first = ring.first, let last = ring.last, first.x != last.x || first.y != last.y { ring.append(first) }
        guard Set(ring.map { [$0.x, $0.y] }).count >= 3, ring.count >= 4 else {
            throw BuilderError("a polygon outline needs at least 3 distinct positions, found \(Set(ring.map { [$0.x, $0.y] }).count)")
        }
        return ring
    }
}

extension FeatureCollection {
    /// A collection with its overall `bbox` computed from the features' boxes or geometry.
    public static func of(_ features: [Feature]) -> FeatureCollection {
        var box: BoundingBox?
        for f in features {
            guard let b = f.bbox ?? f.geometry?.bounds else { continue }
            if box == nil {
                box = b
            } else {
                box!.include(Position(b.minX, b.minY))
                box!.include(Position(b.maxX, b.maxY))
            }
        }
        return FeatureCollection(features: features, bbox: box)
    }
}
