import MHSImaging

/// Where the tissue is, from a low-resolution picture of the whole slide: Otsu's
/// threshold on colour saturation (glass is grey-white, stained tissue is coloured), then
/// a 3x3 majority filter against specks — WSInfer's recipe.
public struct TissueMask: Sendable {
    /// Mask size in pixels.
    public let width: Int
    public let height: Int
    /// Level-0 pixels per mask pixel, horizontally and vertically.
    public let scaleX: Double
    public let scaleY: Double
    /// The saturation (0-255) above which a pixel is tissue.
    public let threshold: Int
    /// Row-major, `true` for tissue.
    public let tissue: [Bool]

    /// The share of the slide that is tissue.
    public var tissueFraction: Double {
        Double(tissue.reduce(0) { $0 + ($1 ? 1 : 0) }) / Double(max(tissue.count, 1))
    }

    /// Computes the mask from the slide's thumbnail (longer side `maxSide`).
    public static func compute(slide: Slide, maxSide: Int = 1024) throws(SlideError) -> TissueMask {
        let thumbnail = try slide.thumbnail(maxSide: maxSide)
        return compute(
            thumbnail: thumbnail, scaleX: Double(slide.dimensions.width) / Double(thumbnail.width),
            scaleY: Double(slide.dimensions.height) / Double(thumbnail.height))
    }

    /// Computes the mask from any RGBA picture of the slide.
    public static func compute(thumbnail image: RGBAImage, scaleX: Double, scaleY: Double) -> TissueMask {
        let n = image.width * image.height
        var saturation = [UInt8](repeating: 0, count: n)
        var histogram = [Int](repeating: 0, count: 256)
        var counted = 0
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<n {
                let r = Int(p[i * 4]), g = Int(p[i * 4 + 1]), b = Int(p[i * 4 + 2]), a = p[i * 4 + 3]
                let mx = max(r, g, b), mn = min(r, g, b)
                // Transparent (outside the slide) and near-black (pen, scanner edge) pixels are not tissue.
                let s = a == 0 || mx < 24 ? 0 : (mx - mn) * 255 / max(mx, 1)
                saturation[i] = UInt8(s)
                if a != 0 {
                    histogram[s] += 1
                    counted += 1
                }
            }
        }
        let threshold = max(otsu(histogram, total: counted), 12)  // never call faint noise tissue
        var raw = saturation.map { Int($0) > threshold }
        raw = majority(raw, width: image.width, height: image.height)
        return TissueMask(width: image.width, height: image.height, scaleX: scaleX, scaleY: scaleY, threshold: threshold, tissue: raw)
    }

    /// Otsu's threshold: the split that maximises the between-class variance.
    static func otsu(_ histogram: [Int], total: Int) -> Int {
        guard total > 0 else { return 255 }
        let sum = histogram.enumerated().reduce(0.0) { $0 + Double($1.offset * $1.element) }
        var sumB = 0.0, weightB = 0.0, best = 0.0, threshold = 0
        for t in 0..<256 {
            weightB += Double(histogram[t])
            guard weightB > 0 else { continue }
            let weightF = Double(total) - weightB
            guard weightF > 0 else { break }
            sumB += Double(t * histogram[t])
            let meanB = sumB / weightB, meanF = (sum - sumB) / weightF
            let between = weightB * weightF * (meanB - meanF) * (meanB - meanF)
            if between > best {
                best = between
                threshold = t
            }
        }
        return threshold
    }

    static func majority(_ m: [Bool], width: Int, height: Int) -> [Bool] {
        var out = m
        for y in 0..<height {
            for x in 0..<width {
                var votes = 0, cells = 0
                for dy in -1...1 {
                    for dx in -1...1 {
                        let xx = x + dx, yy = y + dy
                        guard xx >= 0, yy >= 0, xx < width, yy < height else { continue }
                        cells += 1
                        if m[yy * width + xx] { votes += 1 }
                    }
                }
                out[y * width + x] = votes * 2 > cells
            }
        }
        return out
    }

    /// The tissue share of a level-0 rectangle.
    public func fraction(x: Double, y: Double, width w: Double, height h: Double) -> Double {
        let x0 = max(0, Int(x / scaleX)), y0 = max(0, Int(y / scaleY))
        let x1 = min(width, max(x0 + 1, Int(((x + w) / scaleX).rounded(.up))))
        let y1 = min(height, max(y0 + 1, Int(((y + h) / scaleY).rounded(.up))))
        guard x0 < x1, y0 < y1 else { return 0 }
        var hits = 0
        for yy in y0..<y1 { for xx in x0..<x1 where tissue[yy * width + xx] { hits += 1 } }
        return Double(hits) / Double((x1 - x0) * (y1 - y0))
    }

    /// The mask as a picture: tissue dark green, glass white.
    public func image() -> RGBAImage {
        var out = RGBAImage(width: width, height: height, fill: RGBA(255, 255, 255))
        for i in tissue.indices where tissue[i] { out[i % width, i / width] = RGBA(20, 110, 40) }
        return out
    }
}
