extension RGBAImage {
    /// Blends `color` (with its alpha) into the pixel at (`x`, `y`); outside is ignored.
    @inline(__always)
    public mutating func blend(_ x: Int, _ y: Int, _ color: RGBA) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 4
        let a = Int(color.a)
        if a == 255 {
            pixels[i] = color.r
            pixels[i + 1] = color.g
            pixels[i + 2] = color.b
            pixels[i + 3] = 255
            return
        }
        pixels[i] = UInt8((Int(pixels[i]) * (255 - a) + Int(color.r) * a) / 255)
        pixels[i + 1] = UInt8((Int(pixels[i + 1]) * (255 - a) + Int(color.g) * a) / 255)
        pixels[i + 2] = UInt8((Int(pixels[i + 2]) * (255 - a) + Int(color.b) * a) / 255)
        pixels[i + 3] = UInt8(max(Int(pixels[i + 3]), a))
    }

    /// A filled disc.
    public mutating func disc(x: Double, y: Double, radius: Double, _ color: RGBA) {
        let r = max(radius, 0.5)
        for py in Int((y - r).rounded(.down))...Int((y + r).rounded(.up)) {
            for px in Int((x - r).rounded(.down))...Int((x + r).rounded(.up)) {
                let dx = Double(px) - x, dy = Double(py) - y
                if dx * dx + dy * dy <= r * r { blend(px, py, color) }
            }
        }
    }

    /// A straight line `thickness` pixels wide.
    public mutating func line(from a: (Double, Double), to b: (Double, Double), thickness: Double, _ color: RGBA) {
        let steps = Int(max(abs(b.0 - a.0), abs(b.1 - a.1)).rounded(.up)) + 1
        guard steps < 1 << 20 else { return }
        let half = thickness / 2
        for s in 0...steps {
            let t = Double(s) / Double(steps)
            let x = a.0 + (b.0 - a.0) * t, y = a.1 + (b.1 - a.1) * t
            for py in Int((y - half).rounded())...Int((y + half).rounded()) {
                for px in Int((x - half).rounded())...Int((x + half).rounded()) { blend(px, py, color) }
            }
        }
    }

    /// The outline of a closed or open polyline.
    public mutating func polyline(_ points: [(Double, Double)], closed: Bool, thickness: Double, _ color: RGBA) {
        guard points.count >= 2 else {
            if let p = points.first { disc(x: p.0, y: p.1, radius: thickness, color) }
            return
        }
        for i in 0..<(points.count - 1) { line(from: points[i], to: points[i + 1], thickness: thickness, color) }
        if closed { line(from: points[points.count - 1], to: points[0], thickness: thickness, color) }
    }

    /// Fills polygon rings with the even-odd rule (holes stay empty).
    public mutating func fill(_ rings: [[(Double, Double)]], _ color: RGBA) {
        let ys = rings.flatMap { $0.map(\.1) }
        guard let minY = ys.min(), let maxY = ys.max() else { return }
        let y0 = max(0, Int(minY.rounded(.down))), y1 = min(height - 1, Int(maxY.rounded(.up)))
        guard y0 <= y1 else { return }
        for y in y0...y1 {
            let sy = Double(y) + 0.5
            var xs: [Double] = []
            for ring in rings where ring.count >= 2 {
                for i in 0..<ring.count {
                    let p = ring[i], q = ring[(i + 1) % ring.count]
                    if (p.1 <= sy && q.1 > sy) || (q.1 <= sy && p.1 > sy) {
                        xs.append(p.0 + (sy - p.1) / (q.1 - p.1) * (q.0 - p.0))
                    }
                }
            }
            xs.sort()
            var k = 0
            while k + 1 < xs.count {
                let from = max(0, Int(xs[k].rounded())), to = min(width - 1, Int(xs[k + 1].rounded()) - 1)
                if from <= to { for x in from...to { blend(x, y, color) } }
                k += 2
            }
        }
    }
}
