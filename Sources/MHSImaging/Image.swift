import CSpng
import Dispatch
import MHSDynamicLibrary

#if canImport(Glibc)
import Glibc
#endif

/// An 8-bit RGBA raster, rows top to bottom, not premultiplied.
public struct RGBAImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 4` bytes: R, G, B, A per pixel.
    public var pixels: [UInt8]

    /// A raster filled with one colour.
    public init(width: Int, height: Int, fill: RGBA = RGBA(255, 255, 255, 255)) {
        precondition(width >= 0 && height >= 0, "image size must not be negative")
        self.width = width
        self.height = height
        var row = [UInt8]()
        row.reserveCapacity(width * 4)
        for _ in 0..<width { row += [fill.r, fill.g, fill.b, fill.a] }
        var all = [UInt8]()
        all.reserveCapacity(width * height * 4)
        for _ in 0..<height { all += row }
        self.pixels = all
    }

    /// Wraps existing RGBA bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 4, "pixel buffer does not match \(width)x\(height) RGBA")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The pixel at (`x`, `y`).
    public subscript(x: Int, y: Int) -> RGBA {
        get {
            let i = (y * width + x) * 4
            return RGBA(pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3])
        }
        set {
            let i = (y * width + x) * 4
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
            pixels[i + 3] = newValue.a
        }
    }

    /// A copy shrunk (box-averaged) so that neither side exceeds `maxSide`; unchanged when
    /// already small enough.
    public func fitting(maxSide: Int) -> RGBAImage {
        let longest = max(width, height)
        guard longest > maxSide, maxSide > 0 else { return self }
        let scale = Double(maxSide) / Double(longest)
        let w = max(1, Int((Double(width) * scale).rounded()))
        let h = max(1, Int((Double(height) * scale).rounded()))
        // Each output pixel averages the source box [x0, x1) x [y0, y1); the bounds are the
        // same for every row (columns) and every column (rows), so they are worked out once.
        let xs = (0...w).map { $0 * width / w }, ys = (0...h).map { $0 * height / h }
        let widest = (0..<w).map { max(1, xs[$0 + 1] - xs[$0]) }.max()!, tallest = (0..<h).map { max(1, ys[$0 + 1] - ys[$0]) }.max()!
        let reciprocals = Self.reciprocals(upTo: widest * tallest)
        let (sourceWidth, sourcePixels) = (width, pixels)
        // Bands of output rows shared among the cores: each writes only its own rows.
        let bands = max(1, min(h / 64, Processors.online))
        let out = [UInt8](unsafeUninitializedCapacity: w * h * 4) { buffer, count in
            sourcePixels.withUnsafeBufferPointer { source in
                let pointers = BandPointers(source: source.baseAddress!, destination: buffer.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: bands) { band in
                    let src = pointers.source, dst = pointers.destination
                    for oy in (band * h / bands)..<((band + 1) * h / bands) {
                        let y0 = ys[oy], y1 = max(y0 + 1, ys[oy + 1])
                        for ox in 0..<w {
                            let x0 = xs[ox], x1 = max(x0 + 1, xs[ox + 1])
                            var (r, g, b, a) = (0, 0, 0, 0)
                            for y in y0..<y1 {
                                var p = src + (y * sourceWidth + x0) * 4
                                for _ in x0..<x1 {
                                    r &+= Int(p[0])
                                    g &+= Int(p[1])
                                    b &+= Int(p[2])
                                    a &+= Int(p[3])
                                    p += 4
                                }
                            }
                            let n = (y1 - y0) * (x1 - x0)
                            let o = dst + (oy * w + ox) * 4
                            if let reciprocals {
                                let m = reciprocals[n]
                                o[0] = UInt8(truncatingIfNeeded: (r &* m) >> 32)
                                o[1] = UInt8(truncatingIfNeeded: (g &* m) >> 32)
                                o[2] = UInt8(truncatingIfNeeded: (b &* m) >> 32)
                                o[3] = UInt8(truncatingIfNeeded: (a &* m) >> 32)
                            } else {
                                o[0] = UInt8(truncatingIfNeeded: r / n)
                                o[1] = UInt8(truncatingIfNeeded: g / n)
                                o[2] = UInt8(truncatingIfNeeded: b / n)
                                o[3] = UInt8(truncatingIfNeeded: a / n)
                            }
                        }
                    }
                }
            }
            count = w * h * 4
        }
        return RGBAImage(width: w, height: h, pixels: out)
    }

    /// m(n) = ⌈2³² / n⌉ for n = 0 … `largest` (0 for n = 0), so that ⌊sum·m / 2³²⌋ = ⌊sum / n⌋
    /// for a sum of n bytes: the product's error m·n − 2³² is below n, which keeps the
    /// result exact for every sum below 2³² / n, as 255·n is while n < 4,104. Nil past that
    /// (boxes wider than 64 px a side), where division is used.
    static func reciprocals(upTo largest: Int) -> [Int]? {
        guard largest < 4104 else { return nil }
        return (0...largest).map { $0 == 0 ? 0 : ((1 << 32) + $0 - 1) / $0 }
    }
}

/// The source and destination of ``RGBAImage/fitting(maxSide:)``, shared by bands that
/// read the source only and each write their own rows, all done before the result is used.
private struct BandPointers: @unchecked Sendable {
    let source: UnsafePointer<UInt8>
    let destination: UnsafeMutablePointer<UInt8>
}

/// One RGBA colour.
public struct RGBA: Sendable, Hashable {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8
    public var a: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ a: UInt8 = 255) {
        self.r = r
        self.g = g
        self.b = b
        self.a = a
    }
}

/// Why a PNG could not be written or read.
public struct PNGError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    init(_ step: String, _ code: Int32) {
        message = "\(step): \(String(cString: spng_strerror(code)))"
    }
    init(_ message: String) { self.message = message }
}

/// PNG encoding and decoding through libspng.
public enum PNG {
    /// How hard the encoder works for a smaller file.
    public enum Effort: Sendable {
        /// libspng's defaults (zlib level 6, every filter tried per row).
        case compact
        /// zlib level 1, run-length matching and the Up filter alone: for pictures written
        /// on every run (`result.png`), where milliseconds matter more than kilobytes
        /// (a 766 × 1024 thumbnail: 46 ms and 1.11 MB against 179 ms and 1.06 MB).
        case fast
    }

    /// Encodes an RGBA image as PNG bytes: without the alpha channel (PNG's truecolour)
    /// when every pixel is opaque, a quarter fewer bytes to compress and store.
    public static func encode(_ image: RGBAImage, effort: Effort = .compact) throws(PNGError) -> [UInt8] {
        guard let ctx = spng_ctx_new(Int32(SPNG_CTX_ENCODER.rawValue)) else { throw PNGError("cannot create a PNG encoder") }
        defer { spng_ctx_free(ctx) }
        var code = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1)
        guard code == 0 else { throw PNGError("PNG encoder setup", code) }
        if effort == .fast {
            code = spng_set_option(ctx, SPNG_IMG_COMPRESSION_LEVEL, 1)
            if code == 0 { code = spng_set_option(ctx, SPNG_FILTER_CHOICE, Int32(SPNG_FILTER_CHOICE_UP.rawValue)) }
            if code == 0 { code = spng_set_option(ctx, SPNG_IMG_COMPRESSION_STRATEGY, 3) }  // Z_RLE
            guard code == 0 else { throw PNGError("PNG encoder setup", code) }
        }
        let rgb = image.opaqueRGB()
        var ihdr = spng_ihdr(
            width: UInt32(image.width), height: UInt32(image.height), bit_depth: 8,
            color_type: UInt8((rgb == nil ? SPNG_COLOR_TYPE_TRUECOLOR_ALPHA : SPNG_COLOR_TYPE_TRUECOLOR).rawValue), compression_method: 0,
            filter_method: 0, interlace_method: 0)
        code = spng_set_ihdr(ctx, &ihdr)
        guard code == 0 else { throw PNGError("PNG header", code) }
        code = (rgb ?? image.pixels).withUnsafeBytes { raw in
            spng_encode_image(ctx, raw.baseAddress, raw.count, Int32(SPNG_FMT_PNG.rawValue), Int32(SPNG_ENCODE_FINALIZE.rawValue))
        }
        guard code == 0 else { throw PNGError("PNG encode", code) }
        var length = 0
        var error: Int32 = 0
        guard let buffer = spng_get_png_buffer(ctx, &length, &error) else { throw PNGError("PNG buffer", error) }
        defer { free(buffer) }
        return Array(UnsafeRawBufferPointer(start: buffer, count: length))
    }

    /// Decodes PNG bytes into RGBA.
    public static func decode(_ bytes: [UInt8]) throws(PNGError) -> RGBAImage {
        guard let ctx = spng_ctx_new(0) else { throw PNGError("cannot create a PNG decoder") }
        defer { spng_ctx_free(ctx) }
        var code = bytes.withUnsafeBytes { spng_set_png_buffer(ctx, $0.baseAddress, $0.count) }
        guard code == 0 else { throw PNGError("PNG input", code) }
        var ihdr = spng_ihdr()
        code = spng_get_ihdr(ctx, &ihdr)
        guard code == 0 else { throw PNGError("PNG header", code) }
        var size = 0
        code = spng_decoded_image_size(ctx, Int32(SPNG_FMT_RGBA8.rawValue), &size)
        guard code == 0 else { throw PNGError("PNG size", code) }
        var pixels = [UInt8](repeating: 0, count: size)
        code = pixels.withUnsafeMutableBytes { spng_decode_image(ctx, $0.baseAddress, $0.count, Int32(SPNG_FMT_RGBA8.rawValue), 0) }
        guard code == 0 else { throw PNGError("PNG decode", code) }
        return RGBAImage(width: Int(ihdr.width), height: Int(ihdr.height), pixels: pixels)
    }
}

extension RGBAImage {
    /// The pixels as packed RGB when every alpha is 255; nil when any pixel is not opaque.
    func opaqueRGB() -> [UInt8]? {
        let count = width * height
        var opaque = true
        let rgb = [UInt8](unsafeUninitializedCapacity: count * 3) { buffer, initialized in
            pixels.withUnsafeBufferPointer { source in
                let src = source.baseAddress!, dst = buffer.baseAddress!
                var alpha: UInt8 = 255
                for i in 0..<count {
                    dst[i * 3] = src[i * 4]
                    dst[i * 3 + 1] = src[i * 4 + 1]
                    dst[i * 3 + 2] = src[i * 4 + 2]
                    alpha &= src[i * 4 + 3]
                }
                opaque = alpha == 255
            }
            initialized = count * 3
        }
        return opaque ? rgb : nil
    }

    /// The rectangle (`x`, `y`, `sourceWidth` x `sourceHeight`, fractional, in this image's
    /// pixels) resampled to `width` x `height` by exact area averaging: each output pixel is
    /// the mean of the source area it covers, pixels cut by its edges weighted by the part
    /// inside. Area outside the image counts as its nearest edge pixel.
    public func resampled(x: Double, y: Double, sourceWidth: Double, sourceHeight: Double, width w: Int, height h: Int) -> RGBAImage {
        /// For each output index, the source indices and weights (summing to 1) of its span.
        func spans(_ start: Double, _ length: Double, _ count: Int, _ size: Int) -> [[(Int, Float)]] {
            let step = length / Double(count)
            return (0..<count).map { o in
                let a = start + Double(o) * step, b = a + step
                var parts: [(Int, Float)] = []
                var i = Int(a.rounded(.down))
                while Double(i) < b {
                    let cover = min(b, Double(i + 1)) - max(a, Double(i))
                    if cover > 1e-9 { parts.append((min(max(i, 0), size - 1), Float(cover / step))) }
                    i += 1
                }
                return parts
            }
        }
        let xs = spans(x, sourceWidth, w, width), ys = spans(y, sourceHeight, h, height)
        // Horizontal pass into floats, then vertical into bytes.
        var rows = [Float](repeating: 0, count: height * w * 4)
        pixels.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { dst in
                for sy in 0..<height {
                    for (ox, parts) in xs.enumerated() {
                        var acc: (Float, Float, Float, Float) = (0, 0, 0, 0)
                        for (sx, weight) in parts {
                            let i = (sy * width + sx) * 4
                            acc.0 += Float(src[i]) * weight; acc.1 += Float(src[i + 1]) * weight
                            acc.2 += Float(src[i + 2]) * weight; acc.3 += Float(src[i + 3]) * weight
                        }
                        let o = (sy * w + ox) * 4
                        dst[o] = acc.0; dst[o + 1] = acc.1; dst[o + 2] = acc.2; dst[o + 3] = acc.3
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: w * h * 4)
        rows.withUnsafeBufferPointer { src in
            for (oy, parts) in ys.enumerated() {
                for ox in 0..<w {
                    var acc: (Float, Float, Float, Float) = (0, 0, 0, 0)
                    for (sy, weight) in parts {
                        let i = (sy * w + ox) * 4
                        acc.0 += src[i] * weight; acc.1 += src[i + 1] * weight; acc.2 += src[i + 2] * weight; acc.3 += src[i + 3] * weight
                    }
                    let o = (oy * w + ox) * 4
                    out[o] = UInt8(min(255, max(0, acc.0.rounded()))); out[o + 1] = UInt8(min(255, max(0, acc.1.rounded())))
                    out[o + 2] = UInt8(min(255, max(0, acc.2.rounded()))); out[o + 3] = UInt8(min(255, max(0, acc.3.rounded())))
                }
            }
        }
        return RGBAImage(width: w, height: h, pixels: out)
    }

    /// A copy resampled to exactly `width` x `height` by area averaging (each output pixel
    /// is the mean of the source pixels it covers) — right for shrinking patches.
    public func resized(width w: Int, height h: Int) -> RGBAImage {
        guard w != width || h != height else { return self }
        var out = [UInt8](repeating: 0, count: w * h * 4)
        pixels.withUnsafeBufferPointer { src in
            for oy in 0..<h {
                let y0 = oy * height / h, y1 = max(y0 + 1, (oy + 1) * height / h)
                for ox in 0..<w {
                    let x0 = ox * width / w, x1 = max(x0 + 1, (ox + 1) * width / w)
                    var sum = (0, 0, 0, 0)
                    for y in y0..<y1 {
                        var i = (y * width + x0) * 4
                        for _ in x0..<x1 {
                            sum.0 += Int(src[i]); sum.1 += Int(src[i + 1]); sum.2 += Int(src[i + 2]); sum.3 += Int(src[i + 3])
                            i += 4
                        }
                    }
                    let n = (y1 - y0) * (x1 - x0), o = (oy * w + ox) * 4
                    out[o] = UInt8(sum.0 / n); out[o + 1] = UInt8(sum.1 / n); out[o + 2] = UInt8(sum.2 / n); out[o + 3] = UInt8(sum.3 / n)
                }
            }
        }
        return RGBAImage(width: w, height: h, pixels: out)
    }
}
