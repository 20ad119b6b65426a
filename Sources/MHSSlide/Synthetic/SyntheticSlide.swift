import CTurboJPEG
import Foundation

/// Writes a small pyramidal whole-slide image that looks like H&E tissue (pink stroma,
/// purple nuclei, glass around it): an Aperio-style tiled TIFF with JPEG (YCbCr 4:2:0)
/// tiles, made with libturbojpeg. `mhs demo` runs on it when no slide is given.
public enum SyntheticSlide {
    /// Level-0 microns per pixel written in the description.
    public static let mpp = 0.499

    /// Writes the slide to `path` (level 0 `width` x `height`, 256-pixel tiles, levels
    /// halving down to about 512 pixels; classic TIFF, or BigTIFF) and returns its size in bytes.
    @discardableResult
    public static func write(to path: String, width: Int = 4096, height: Int = 3072, seed: UInt64 = 7, bigTIFF: Bool = false) throws -> Int {
        var levels: [(w: Int, h: Int, rgb: [UInt8])] = [(width, height, paint(width: width, height: height, seed: seed))]
        while max(levels.last!.w, levels.last!.h) > 700 {
            let l = levels.last!
            levels.append(halve(l.rgb, width: l.w, height: l.h))
        }
        var tiff = TIFFBuilder(bigTIFF: bigTIFF)
        let description =
            "Aperio Image Library v12.0.15 (mhs synthetic)\r\n\(width)x\(height) [0,0 \(width)x\(height)] (256x256) JPEG/YCbCr Q=85|AppMag = 20|MPP = \(mpp)|Filename = mhs-demo-slide|Title = synthetic H&E"
        let compressor = try JPEGCompressor()
        for (i, level) in levels.enumerated() {
            var tiles: [[UInt8]] = []
            for ty in stride(from: 0, to: level.h, by: 256) {
                for tx in stride(from: 0, to: level.w, by: 256) {
                    tiles.append(try compressor.compress(tile(level.rgb, width: level.w, height: level.h, x: tx, y: ty)))
                }
            }
            tiff.addLevel(width: level.w, height: level.h, tiles: tiles, description: i == 0 ? description : nil, reduced: i > 0)
        }
        let bytes = tiff.finish()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return bytes.count
    }

    // MARK: Painting

    /// A deterministic value-noise field sampled bilinearly from a coarse grid.
    struct Noise {
        let cell: Int
        let cols: Int
        let values: [Double]
        init(width: Int, height: Int, cell: Int, seed: UInt64) {
            self.cell = cell
            cols = width / cell + 2
            let rows = height / cell + 2
            var rng = seed &* 0x9E37_79B9_7F4A_7C15 | 1
            values = (0..<(cols * rows)).map { _ in
                rng ^= rng << 13
                rng ^= rng >> 7
                rng ^= rng << 17
                return Double(rng % 10_000) / 10_000
            }
        }
        func at(_ x: Int, _ y: Int) -> Double {
            let gx = x / cell, gy = y / cell
            let fx = Double(x % cell) / Double(cell), fy = Double(y % cell) / Double(cell)
            let sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy)
            let a = values[gy * cols + gx], b = values[gy * cols + gx + 1]
            let c = values[(gy + 1) * cols + gx], d = values[(gy + 1) * cols + gx + 1]
            return (a * (1 - sx) + b * sx) * (1 - sy) + (c * (1 - sx) + d * sx) * sy
        }
    }

    static func paint(width: Int, height: Int, seed: UInt64) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        let large = Noise(width: width, height: height, cell: 512, seed: seed)
        let medium = Noise(width: width, height: height, cell: 128, seed: seed &+ 1)
        let fine = Noise(width: width, height: height, cell: 24, seed: seed &+ 2)
        var tissue = [Bool](repeating: false, count: width * height)
        let cx = Double(width) / 2, cy = Double(height) / 2
        for y in 0..<height {
            for x in 0..<width {
                let dx = (Double(x) - cx) / (Double(width) * 0.42), dy = (Double(y) - cy) / (Double(height) * 0.40)
                let envelope = 1 - (dx * dx + dy * dy)
                let t = 0.55 * large.at(x, y) + 0.35 * medium.at(x, y) + 0.6 * envelope
                let i = (y * width + x) * 3
                if t > 0.72 {
                    tissue[y * width + x] = true
                    let m = fine.at(x, y)
                    let v = medium.at(x, y)
                    // Eosin: pink stroma with fibrous variation.
                    rgb[i] = UInt8(max(0, min(255, 228 - 30 * m)))
                    rgb[i + 1] = UInt8(max(0, min(255, 140 - 50 * m + 20 * v)))
                    rgb[i + 2] = UInt8(max(0, min(255, 192 - 25 * m)))
                } else {
                    let g = 240 - Int(6 * fine.at(x, y))
                    rgb[i] = UInt8(g + 2)
                    rgb[i + 1] = UInt8(g)
                    rgb[i + 2] = UInt8(g + 1)
                }
            }
        }
        // Haematoxylin: nuclei stamped on a jittered grid, denser where the medium noise is high.
        var rng = seed | 1
        func next() -> Double {
            rng ^= rng << 13
            rng ^= rng >> 7
            rng ^= rng << 17
            return Double(rng % 1_000_000) / 1_000_000
        }
        let pitch = 22
        for gy in stride(from: 0, to: height, by: pitch) {
            for gx in stride(from: 0, to: width, by: pitch) {
                let x = gx + Int(next() * Double(pitch)), y = gy + Int(next() * Double(pitch))
                let r = 4 + next() * 4
                guard x < width, y < height, tissue[y * width + x], next() < 0.25 + 0.7 * medium.at(x, y) else { continue }
                let elong = 0.7 + next() * 0.6
                let ri = Int(r * 1.4) + 1
                for py in max(0, y - ri)...min(height - 1, y + ri) {
                    for px in max(0, x - ri)...min(width - 1, x + ri) {
                        let ddx = Double(px - x) * elong, ddy = Double(py - y) / elong
                        let d = (ddx * ddx + ddy * ddy).squareRoot() / r
                        guard d < 1 else { continue }
                        let a = d < 0.75 ? 1.0 : (1 - d) / 0.25
                        let i = (py * width + px) * 3
                        rgb[i] = UInt8(Double(rgb[i]) * (1 - a) + 78 * a)
                        rgb[i + 1] = UInt8(Double(rgb[i + 1]) * (1 - a) + 52 * a)
                        rgb[i + 2] = UInt8(Double(rgb[i + 2]) * (1 - a) + 138 * a)
                    }
                }
            }
        }
        return rgb
    }

    static func halve(_ rgb: [UInt8], width: Int, height: Int) -> (w: Int, h: Int, rgb: [UInt8]) {
        let w = width / 2, h = height / 2
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    let a = Int(rgb[((2 * y) * width + 2 * x) * 3 + c]) + Int(rgb[((2 * y) * width + 2 * x + 1) * 3 + c])
                    let b = Int(rgb[((2 * y + 1) * width + 2 * x) * 3 + c]) + Int(rgb[((2 * y + 1) * width + 2 * x + 1) * 3 + c])
                    out[(y * w + x) * 3 + c] = UInt8((a + b + 2) / 4)
                }
            }
        }
        return (w, h, out)
    }

    /// A 256x256 tile; beyond the level's edge it repeats the last row and column.
    static func tile(_ rgb: [UInt8], width: Int, height: Int, x: Int, y: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 256 * 256 * 3)
        for ty in 0..<256 {
            let sy = min(y + ty, height - 1)
            for tx in 0..<256 {
                let sx = min(x + tx, width - 1)
                let s = (sy * width + sx) * 3, d = (ty * 256 + tx) * 3
                out[d] = rgb[s]
                out[d + 1] = rgb[s + 1]
                out[d + 2] = rgb[s + 2]
            }
        }
        return out
    }
}

/// A minimal little-endian TIFF writer (classic or BigTIFF) for tiled, JPEG-compressed
/// YCbCr levels.
struct TIFFBuilder {
    let big: Bool
    private var bytes: [UInt8]
    private var lastNextOffsetPosition: Int

    init(bigTIFF: Bool = false) {
        big = bigTIFF
        bytes = bigTIFF ? [0x49, 0x49, 43, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] : [0x49, 0x49, 42, 0, 0, 0, 0, 0]
        lastNextOffsetPosition = bigTIFF ? 8 : 4
    }

    private mutating func put(_ v: Int, _ size: Int) { for k in 0..<size { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    private mutating func patch(at position: Int, _ v: Int) {
        for k in 0..<(big ? 8 : 4) { bytes[position + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
    }
    private mutating func align() { if bytes.count % 2 == 1 { bytes.append(0) } }

    /// An IFD entry: the values, or raw bytes, of one TIFF type (2 ASCII, 3 SHORT, 4 LONG, 16 LONG8).
    private struct Entry {
        var tag: Int
        var type: Int
        var values: [Int]
        var raw: [UInt8]? = nil
        var size: Int { [2: 1, 3: 2, 4: 4, 16: 8][type]! }
        var count: Int { raw?.count ?? values.count }
    }

    mutating func addLevel(width: Int, height: Int, tiles: [[UInt8]], description: String?, reduced: Bool) {
        var offsets: [Int] = []
        for t in tiles {
            align()
            offsets.append(bytes.count)
            bytes += t
        }
        let offsetType = big ? 16 : 4
        var entries = [
            Entry(tag: 254, type: 4, values: [reduced ? 1 : 0]), Entry(tag: 256, type: 4, values: [width]),
            Entry(tag: 257, type: 4, values: [height]), Entry(tag: 258, type: 3, values: [8, 8, 8]), Entry(tag: 259, type: 3, values: [7]),
            Entry(tag: 262, type: 3, values: [6]),
        ]
        if let description { entries.append(Entry(tag: 270, type: 2, values: [], raw: Array(description.utf8) + [0])) }
        entries += [
            Entry(tag: 277, type: 3, values: [3]), Entry(tag: 284, type: 3, values: [1]), Entry(tag: 322, type: 4, values: [256]),
            Entry(tag: 323, type: 4, values: [256]), Entry(tag: 324, type: offsetType, values: offsets),
            Entry(tag: 325, type: offsetType, values: tiles.map(\.count)), Entry(tag: 530, type: 3, values: [2, 2]),
        ]
        // Values too large for the entry go before the directory.
        let room = big ? 8 : 4
        var external: [Int: Int] = [:]
        for (i, e) in entries.enumerated() where e.count * e.size > room {
            align()
            external[i] = bytes.count
            if let raw = e.raw { bytes += raw } else { for v in e.values { put(v, e.size) } }
        }
        align()
        let ifdAt = bytes.count
        patch(at: lastNextOffsetPosition, ifdAt)
        put(entries.count, big ? 8 : 2)
        for (i, e) in entries.enumerated() {
            put(e.tag, 2)
            put(e.type, 2)
            put(e.count, big ? 8 : 4)
            if let at = external[i] {
                put(at, room)
            } else {
                let start = bytes.count
                if let raw = e.raw { bytes += raw } else { for v in e.values { put(v, e.size) } }
                put(0, room - (bytes.count - start))
            }
        }
        lastNextOffsetPosition = bytes.count
        put(0, room)
    }

    func finish() -> [UInt8] { bytes }
}
