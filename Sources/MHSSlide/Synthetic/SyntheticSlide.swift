import CTurboJPEG
import Foundation

/// Writes a small pyramidal whole-slide image that looks like H&E tissue (pink stroma,
/// purple nuclei, glass around it): an Aperio-style tiled TIFF with JPEG (YCbCr 4:2:0)
/// tiles, made with libturbojpeg. `mhs demo` runs on it when no slide is given.
public enum SyntheticSlide {
    /// Level-0 microns per pixel written in the description.
    public static let mpp = 0.499

    /// Writes the slide to `path` (level 0 `width` x `height`, 256-pixel tiles, levels
    /// halving down to about 512 pixels) and returns its size in bytes.
    @discardableResult
    public static func write(to path: String, width: Int = 4096, height: Int = 3072, seed: UInt64 = 7) throws -> Int {
        var levels: [(w: Int, h: Int, rgb: [UInt8])] = [(width, height, paint(width: width, height: height, seed: seed))]
        while max(levels.last!.w, levels.last!.h) > 700 {
            let l = levels.last!
            levels.append(halve(l.rgb, width: l.w, height: l.h))
        }
        var tiff = TIFFBuilder()
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

/// libturbojpeg compression of 256x256 RGB tiles to baseline JPEG, YCbCr 4:2:0.
final class JPEGCompressor {
    private let handle: tjhandle

    init() throws {
        guard let h = tjInitCompress() else { throw SlideError.invalidRequest(path: "-", message: "libturbojpeg cannot start") }
        handle = h
    }

    deinit { tjDestroy(handle) }

    func compress(_ rgb: [UInt8], quality: Int32 = 85) throws -> [UInt8] {
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let code = rgb.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, 256, 256 * 3, 256, Int32(TJPF_RGB.rawValue), &buffer, &size, Int32(TJSAMP_420.rawValue), quality, 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard code == 0, let buffer else {
            throw SlideError.invalidRequest(path: "-", message: "JPEG compression failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}

/// A minimal little-endian classic-TIFF writer for tiled, JPEG-compressed YCbCr levels.
struct TIFFBuilder {
    private var bytes: [UInt8] = [0x49, 0x49, 42, 0, 0, 0, 0, 0]
    private var lastNextOffsetPosition = 4

    private mutating func u16(_ v: Int) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    private mutating func u32(_ v: Int) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
    private mutating func patch32(at position: Int, _ v: Int) {
        for k in 0..<4 { bytes[position + k] = UInt8(v >> (8 * k) & 0xFF) }
    }
    private mutating func align() { if bytes.count % 2 == 1 { bytes.append(0) } }

    mutating func addLevel(width: Int, height: Int, tiles: [[UInt8]], description: String?, reduced: Bool) {
        var offsets: [Int] = []
        for t in tiles {
            align()
            offsets.append(bytes.count)
            bytes += t
        }
        align()
        let offsetsAt = bytes.count
        for o in offsets { u32(o) }
        let countsAt = bytes.count
        for t in tiles { u32(t.count) }
        let bitsAt = bytes.count
        u16(8); u16(8); u16(8)
        var descriptionAt = 0
        var descriptionLength = 0
        if let description {
            align()
            descriptionAt = bytes.count
            let d = Array(description.utf8) + [0]
            descriptionLength = d.count
            bytes += d
        }
        align()
        // (tag, type, count, value-or-offset); types: 3 SHORT, 4 LONG, 2 ASCII
        var entries: [(Int, Int, Int, Int)] = [
            (254, 4, 1, reduced ? 1 : 0), (256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, bitsAt), (259, 3, 1, 7),
            (262, 3, 1, 6),
        ]
        if description != nil { entries.append((270, 2, descriptionLength, descriptionAt)) }
        entries += [
            (277, 3, 1, 3), (284, 3, 1, 1), (322, 4, 1, 256), (323, 4, 1, 256), (324, 4, tiles.count, offsetsAt),
            (325, 4, tiles.count, countsAt), (530, 3, 2, 2 | 2 << 16),
        ]
        if tiles.count == 1 {
            // A single value fits in the entry itself.
            entries[entries.firstIndex { $0.0 == 324 }!].3 = offsets[0]
            entries[entries.firstIndex { $0.0 == 325 }!].3 = tiles[0].count
        }
        let ifdAt = bytes.count
        patch32(at: lastNextOffsetPosition, ifdAt)
        u16(entries.count)
        for (tag, type, count, value) in entries {
            u16(tag)
            u16(type)
            u32(count)
            if type == 3 && count == 1 {
                u16(value)
                u16(0)
            } else {
                u32(value)
            }
        }
        lastNextOffsetPosition = bytes.count
        u32(0)
    }

    func finish() -> [UInt8] { bytes }
}
