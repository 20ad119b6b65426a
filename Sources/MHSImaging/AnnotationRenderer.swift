import MHSContract

/// Draws a results body's annotations over a slide thumbnail: `result.png`.
///
/// Coordinates are level-0 pixels, scaled by `thumbnail.width / slideWidth`. Each scan's
/// top-level features are drawn by `annotation_type` in a fixed palette (the first type
/// in red, as the template's picture shows), heatmap contours in their own colours,
/// differential points as dots.
public enum AnnotationRenderer {
    /// Outline colours by order of first appearance of an annotation type.
    public static let palette: [RGBA] = [
        RGBA(255, 0, 0), RGBA(0, 96, 255), RGBA(0, 160, 64), RGBA(255, 144, 0), RGBA(160, 0, 192), RGBA(0, 176, 176),
    ]

    public static func render(_ body: ResultsBody, scanId: String, on thumbnail: RGBAImage, slideWidth: Double) -> RGBAImage {
        var image = thumbnail
        let scale = Double(thumbnail.width) / max(slideWidth, 1)
        let thickness = max(2, Double(max(image.width, image.height)) / 400)
        var colors: [String: RGBA] = [:]
        func color(_ type: String) -> RGBA {
            if let c = colors[type] { return c }
            let c = palette[colors.count % palette.count]
            colors[type] = c
            return c
        }
        func pt(_ p: Position) -> (Double, Double) { (p.x * scale, p.y * scale) }
        func draw(_ g: Geometry, _ c: RGBA, contourColors: [RGBA] = []) {
            switch g {
            case .point(let p): image.disc(x: p.x * scale, y: p.y * scale, radius: thickness * 1.5, c)
            case .multiPoint(let ps): for p in ps { image.disc(x: p.x * scale, y: p.y * scale, radius: thickness * 1.5, c) }
            case .lineString(let ps): image.polyline(ps.map(pt), closed: false, thickness: thickness, c)
            case .multiLineString(let ls): for l in ls { image.polyline(l.map(pt), closed: false, thickness: thickness, c) }
            case .polygon(let rings):
                image.fill(rings.map { $0.map(pt) }, RGBA(c.r, c.g, c.b, 56))
                for r in rings { image.polyline(r.map(pt), closed: true, thickness: thickness, c) }
            case .multiPolygon(let polys): for p in polys { draw(.polygon(p), c) }
            case .geometryCollection(let gs):
                for (i, member) in gs.enumerated() {
                    let mc = i < contourColors.count ? contourColors[i] : c
                    if case .polygon(let rings) = member, !contourColors.isEmpty {
                        image.fill(rings.map { $0.map(pt) }, RGBA(mc.r, mc.g, mc.b, 110))
                    } else {
                        draw(member, mc)
                    }
                }
            }
        }
        for scan in body.scanResults where scan.scanId == scanId {
            for f in scan.geojson?.features ?? [] {
                guard let g = f.geometry else { continue }
                let contours = (f.properties?["contour_colors"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(rgba) }
                draw(g, color(f.annotationType ?? "(none)"), contourColors: contours)
            }
            switch scan.workflow?.report {
            case .wholeSlideDifferential(let r)?:
                for p in r.points { image.disc(x: p.x * scale, y: p.y * scale, radius: thickness, color("point:" + p.type)) }
            case .semiQuantitativeDifferential(let r)?:
                for p in r.points { image.disc(x: p.x * scale, y: p.y * scale, radius: thickness, color("point:" + p.type)) }
            default: break
            }
        }
        return image
    }

    /// Parses `#RRGGBB`.
    static func rgba(_ hex: String) -> RGBA? {
        let u = Array(hex.utf8)
        guard u.count == 7, u[0] == UInt8(ascii: "#"), let v = Int(String(decoding: u[1...], as: UTF8.self), radix: 16) else { return nil }
        return RGBA(UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
    }
}
